import os from 'node:os';
import { type Command, parse } from '../cli-kit.js';
import { listDevices, type DeviceStatus } from '../../runtime/devices.js';

const line = (d: DeviceStatus) => `${d.available ? '✓' : '✗'} ${d.device.padEnd(7)} ${d.available ? `available${d.note ? ` (${d.note})` : ''}` : d.reason}`;

export const devices: Command = {
  usage: ['devices                         list compute devices and why any is unavailable'],
  async run(args, out) {
    parse(args, {});
    const devs = await listDevices();
    out(devs, () => devs.map(line).join('\n'));
  },
};

export const start: Command = {
  usage: ['start                           engine status: devices found and how to open the app (npm start, or rrlhf serve)'],
  async run(args, out) {
    parse(args, {});
    const devs = await listDevices();
    const status = {
      app: 'Open the app with `npm start` (the Electron window when its binary is installed, else web mode in your browser), or run `rrlhf serve` for web mode alone.',
      engine: { node: process.version, platform: `${os.platform()}/${os.arch()}`, cpus: os.cpus().length },
      devices: devs,
      try: ['npm start', 'npx rrlhf serve --port 0', 'npx rrlhf quickstart --seeds 2', 'npx rrlhf devices'],
    };
    out(status, () => [
      'Robust RLHF Studio', status.app,
      `Engine: Node ${status.engine.node} on ${status.engine.platform}, ${status.engine.cpus} CPU cores`,
      'Devices:', ...devs.map((d) => `  ${line(d)}`),
      'Try:', ...status.try.map((t) => `  ${t}`),
    ].join('\n'));
  },
};
