// The contract between the Electron preload script and the renderer: what `window.rrlhf` offers.
// Types only (no runtime code), shared by electron/preload.cts and renderer/src/lib/api.ts.
import type { JobEvent } from './protocol.js';

export type BridgeReply = { ok: true; result: unknown } | { ok: false; error: string; status?: number };

export interface BridgeNotice { kind: 'engine-restarted' | 'engine-crashed' | 'data-dir-changed'; message: string }

export interface FileFilter { name: string; extensions: string[] }

export interface RrlhfBridge {
  /** Calls a service method in the engine process (validated there against the method's schema). */
  call(method: string, input: unknown): Promise<BridgeReply>;
  /** Job events from the engine; returns an unsubscribe function. */
  onEvent(listener: (e: JobEvent) => void): () => void;
  /** Engine lifecycle notices (restarted, crashed, data folder changed). */
  onNotice(listener: (n: BridgeNotice) => void): () => void;
  /** The menu asks to show a screen (a hash route such as "#/datasets"). */
  onNavigate(listener: (hash: string) => void): () => void;
  /** Native "open file" dialog; null when cancelled. */
  openFile(filters: FileFilter[]): Promise<string | null>;
  /** Native "choose folder" dialog; null when cancelled. */
  chooseFolder(title: string): Promise<string | null>;
  /** The local path of a file dropped or picked in the page (Electron's webUtils). */
  pathForFile(file: File): string;
  /** Opens a file or folder with the desktop's default application (report files and folders only). */
  openPath(p: string): Promise<{ ok: boolean; error?: string }>;
  /** The data folder in use, the recent ones, and switching (restarts the engine). */
  dataDirs(): Promise<{ current: string; recent: string[] }>;
  switchDataDir(dir: string | null): Promise<{ ok: boolean; current: string; error?: string }>;
  readonly platform: string;
  readonly versions: { electron: string; chrome: string; node: string };
}
