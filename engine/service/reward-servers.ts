// Reward servers started from the app (the Ensembles screen's "Serve reward"): at most one per
// ensemble, on 127.0.0.1 with a random token, kept per service until stopped or the service closes.
// The server itself is engine/serve/reward-server.ts (docs/scaling.md § Reward server).
import type { Store } from '../store/index.js';
import type { DeviceRequest } from '../runtime/devices.js';
import type { ObjectiveConfig } from '../rlhf/aggregate.js';
import { loadStoredEnsemble } from '../serve/ensemble-text.js';
import { startRewardServer, randomToken, type RewardServer, type NormalizeMode } from '../serve/reward-server.js';

/** A problem the caller can fix (the API answers with `status`). */
export class RewardServerError extends Error {
  constructor(message: string, readonly status = 400) { super(message); }
}

export interface RewardServerInfo {
  ensembleId: number;
  name: string;
  url: string;
  /** The URL with the token on it, for OpenRLHF's --reward.remote_url. */
  remoteUrl: string;
  port: number;
  token: string;
  objective: ObjectiveConfig;
  normalize: NormalizeMode;
  tokenizer: string;
  started: string;
}

export class RewardServers {
  private readonly running = new Map<number, { server: RewardServer; info: RewardServerInfo }>();
  /** Starts being set while a server loads, so a second click does not start two. */
  private readonly starting = new Set<number>();

  list(): RewardServerInfo[] { return [...this.running.values()].map((r) => ({ ...r.info })); }

  get(id: number): RewardServerInfo | undefined { const r = this.running.get(id); return r && { ...r.info }; }

  async start(store: Store, o: { ensembleId: number; objective: ObjectiveConfig; normalize: NormalizeMode; port: number; device: DeviceRequest }): Promise<RewardServerInfo> {
    const id = o.ensembleId;
    if (this.running.has(id) || this.starting.has(id)) throw new RewardServerError(`ensemble ${id} is already being served; stop it first to serve it with another objective`, 409);
    this.starting.add(id);
    try {
      const loaded = await loadStoredEnsemble(store, id, { device: o.device });
      const token = randomToken();
      let server: RewardServer;
      try {
        server = await startRewardServer({ ensemble: loaded.ensemble, encoder: loaded.encoder, ensembleId: id, ensembleName: loaded.name, objective: o.objective, normalize: o.normalize, port: o.port, token });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new RewardServerError(`port ${o.port} is in use; choose another, or 0 for any free one`, 409);
        throw err;
      }
      const info: RewardServerInfo = {
        ensembleId: id, name: loaded.name, url: server.url, remoteUrl: `${server.url}?token=${token}`, port: server.port, token,
        objective: o.objective, normalize: o.normalize, tokenizer: loaded.encoder.source, started: new Date().toISOString(),
      };
      this.running.set(id, { server, info });
      return { ...info };
    } finally { this.starting.delete(id); }
  }

  async stop(id: number): Promise<boolean> {
    const r = this.running.get(id);
    if (!r) return false;
    this.running.delete(id);
    await r.server.close();
    return true;
  }

  async stopAll(): Promise<void> { for (const id of [...this.running.keys()]) await this.stop(id); }
}
