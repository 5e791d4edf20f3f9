import os from 'node:os';
import { type Command, parse } from '../cli-kit.js';
import { listDevices, type DeviceStatus } from '../../runtime/devices.js';

const line = (d: DeviceStatus) => `${d.available ? '✓' : '✗'} ${d.device.padEnd(7)} ${d.available ? 'available' : d.reason}`;

export const devices: Command = {
  usage: ['devices                         list compute devices and why any is unavailable'],
  async run(args, out) {
    parse(args, {});
    const devs = await listDevices();
    out(devs, () => devs.map(line).join('\n'));
  },
};

export const start: Command = {
  usage: ['start                           start the app (the UI lands in a later release; prints the engine status for now)'],
  async run(args, out) {
    parse(args, {});
    const devs = await listDevices();
    const status = {
      app: 'The desktop UI and web mode are not built yet; this release ships the compute engine and its CLI.',
      engine: { node: process.version, platform: `${os.platform()}/${os.arch()}`, cpus: os.cpus().length },
      devices: devs,
      try: ['npx rrlhf devices', 'npx rrlhf bench mlp --batch 256 --in 512 --hidden 2048 --steps 20', 'npm test'],
    };
    out(status, () => [
      'Robust RLHF Studio', status.app,
      `Engine: Node ${status.engine.node} on ${status.engine.platform}, ${status.engine.cpus} CPU cores`,
      'Devices:', ...devs.map((d) => `  ${line(d)}`),
      'Try:', ...status.try.map((t) => `  ${t}`),
    ].join('\n'));
  },
};
