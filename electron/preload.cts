// The preload script (sandboxed, so CommonJS): exposes the typed bridge `window.rrlhf` through
// contextBridge. Only these fixed channels exist; every argument is checked here for shape and again in
// the main process, and the service validates each input against its method's schema.
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import type { RrlhfBridge, BridgeReply, BridgeNotice, FileFilter } from '../engine/service/bridge.js';
import type { JobEvent } from '../engine/service/protocol.js';

const METHOD = /^[a-z]+\.[a-zA-Z]+$/;

function listen<T>(channel: string, listener: (v: T) => void): () => void {
  const f = (_e: IpcRendererEvent, v: T) => listener(v);
  ipcRenderer.on(channel, f);
  return () => { ipcRenderer.removeListener(channel, f); };
}

const bridge: RrlhfBridge = {
  call(method: string, input: unknown): Promise<BridgeReply> {
    if (typeof method !== 'string' || !METHOD.test(method)) return Promise.resolve({ ok: false, error: `"${String(method)}" is not an API method` });
    return ipcRenderer.invoke('rrlhf:call', method, input ?? null) as Promise<BridgeReply>;
  },
  onEvent: (listener: (e: JobEvent) => void) => listen('rrlhf:event', listener),
  onNotice: (listener: (n: BridgeNotice) => void) => listen('rrlhf:notice', listener),
  onNavigate: (listener: (hash: string) => void) => listen('rrlhf:navigate', listener),
  openFile: (filters: FileFilter[]) => ipcRenderer.invoke('rrlhf:open-file', filters) as Promise<string | null>,
  chooseFolder: (title: string) => ipcRenderer.invoke('rrlhf:choose-folder', String(title)) as Promise<string | null>,
  pathForFile: (file: File) => webUtils.getPathForFile(file),
  openPath: (p: string) => ipcRenderer.invoke('rrlhf:open-path', String(p)) as Promise<{ ok: boolean; error?: string }>,
  dataDirs: () => ipcRenderer.invoke('rrlhf:data-dirs') as Promise<{ current: string; recent: string[] }>,
  switchDataDir: (dir: string | null) => ipcRenderer.invoke('rrlhf:switch-data-dir', dir === null ? null : String(dir)) as Promise<{ ok: boolean; current: string; error?: string }>,
  platform: process.platform,
  versions: { electron: process.versions.electron ?? '', chrome: process.versions.chrome ?? '', node: process.versions.node },
};

contextBridge.exposeInMainWorld('rrlhf', bridge);
