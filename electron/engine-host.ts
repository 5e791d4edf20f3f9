// The engine process of the desktop app: runs the service (engine/service/api.ts) outside the window's
// process, so training never freezes the UI. Started by electron/main.ts either as an Electron
// utilityProcess (the packaged app, whose native modules are rebuilt for Electron) or as a plain Node
// child process (development: `npm start` runs it with the Node that built node_modules). Both speak the
// same messages:
//
//   main → host   {type: 'call', id, method, input}   {type: 'shutdown'}
//   host → main   {type: 'ready', methods, dataDir}   {type: 'reply', id, reply}   {type: 'event', event}
//                 {type: 'fatal', error}              {type: 'closed'}
import type { JobEvent, Reply } from '../engine/service/protocol.js';

/** The part of engine/service/api.ts this host uses (loaded at run time, see below). */
interface ServiceLike {
  call(method: string, input: unknown): Promise<Reply>;
  onEvent(f: (e: JobEvent) => void): () => void;
  close(): Promise<void>;
}
interface ApiModule {
  Service: { open(o: { dataDir: string; mode: 'electron' }): ServiceLike };
  METHOD_NAMES: string[];
}

export type HostMessage =
  | { type: 'ready'; methods: string[]; dataDir: string }
  | { type: 'reply'; id: number; reply: Reply }
  | { type: 'event'; event: JobEvent }
  | { type: 'fatal'; error: string }
  | { type: 'closed' };
export type MainMessage = { type: 'call'; id: number; method: string; input: unknown } | { type: 'shutdown' };

type ParentPortLike = { postMessage(m: unknown): void; on(ev: 'message', f: (e: { data: unknown }) => void): void };
const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort;

function send(m: HostMessage) {
  if (parentPort) parentPort.postMessage(m);
  else process.send?.(m);
}
function onMessage(f: (m: MainMessage) => void) {
  if (parentPort) parentPort.on('message', (e) => f(e.data as MainMessage));
  else process.on('message', (m) => f(m as MainMessage));
}

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

async function main() {
  const dataDir = arg('--data-dir');
  if (!dataDir) { send({ type: 'fatal', error: 'the engine was started without --data-dir' }); return; }
  let api: ApiModule;
  let service: ServiceLike;
  try {
    // dist/electron/engine-host.js → dist/engine/service/api.js
    api = (await import(new URL('../engine/service/api.js', import.meta.url).href)) as ApiModule;
    service = api.Service.open({ dataDir, mode: 'electron' });
  } catch (err) {
    const msg = (err as Error).message ?? String(err);
    const abi = /NODE_MODULE_VERSION|was compiled against a different Node\.js version/.test(msg);
    send({ type: 'fatal', error: abi ? `a native module was built for another runtime (${msg.split('\n')[0]}); reinstall the app, or in a source checkout start it with \`npm start\`` : msg });
    return;
  }
  service.onEvent((event) => send({ type: 'event', event }));
  let closing = false;
  onMessage((m) => {
    if (m.type === 'call') {
      void service.call(m.method, m.input).then((reply) => send({ type: 'reply', id: m.id, reply }));
    } else if (m.type === 'shutdown' && !closing) {
      closing = true;
      void service.close().finally(() => { send({ type: 'closed' }); setTimeout(() => process.exit(0), 50); });
    }
  });
  send({ type: 'ready', methods: api.METHOD_NAMES, dataDir });
}

void main();
