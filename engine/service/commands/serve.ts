// `rrlhf serve [--port P] [--data-dir D]`: web mode. The first line on stdout is the app's address with
// its access token (with --json: one JSON document {url, port, dataDir}); the server runs until Ctrl+C
// or SIGTERM, then stops running studies after their iteration in flight (they can be resumed).
import { type Command, UsageError, parse } from '../cli-kit.js';
import { resolveDataDir } from '../../store/index.js';
import { Service } from '../api.js';
import { startWebServer } from '../http.js';

export const serve: Command = {
  usage: ['serve [--port P]                 web mode: serve the app on 127.0.0.1 (port 0 = any free port); prints the address with its access token'],
  async run(args, out) {
    const { values } = parse(args, { port: { type: 'string' } });
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got "${values.port}"`);
    if (values.device !== undefined && values.device !== 'cpu') {
      throw new UsageError('serve takes no --device: choose the device on the Settings screen (it is saved in the data folder)');
    }
    const dataDir = resolveDataDir(values['data-dir']);
    const service = Service.open({ dataDir, mode: 'web' });
    let web;
    try {
      web = await startWebServer({ service, port });
    } catch (err) {
      await service.close();
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new Error(`port ${port} is in use; pass another --port, or --port 0 for any free one`);
      throw err;
    }
    out({ url: web.url, port: web.port, dataDir }, () => web.url);
    process.stderr.write(`Robust RLHF Studio (web mode) is serving ${dataDir}\nOpen the address above in a browser on this machine; it only listens on 127.0.0.1. Press Ctrl+C to stop.\n`);
    await new Promise<void>((resolve) => {
      let stopping = false;
      const stop = (sig: string) => {
        if (stopping) return;
        stopping = true;
        process.stderr.write(`\n${sig}: stopping (running studies stop after the iteration in flight and can be resumed)…\n`);
        void web.close().then(() => service.close()).then(resolve, resolve);
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  },
};
