// A built-in world's starting policy π₀ — a fresh decoder SFT-trained on the world's base behaviour —
// and its variants from other seeds, the trunks of reward members "pretrained" from different seeds
// (ensemble.trunks 'per-member'; docs/science.md § Pretraining-seed members). One recipe, so a variant
// differs from π₀ in its seed only: the decoder's initialisation, the SFT samples drawn and their order.

import { access, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { CausalLM } from '../models/model.js';
import { Rng } from '../runtime/params.js';
import { type DeviceRequest } from '../runtime/devices.js';
import { type World } from '../worlds/world.js';
import { sft, type SftConfig, type SftProgress } from '../rlhf/sft.js';

/** π₀ of a built-in world from `seed` (the world's seed gives the study's π₀; the runner, best-of-n and
 *  the Ensembles screen's job all train it here). `config` is SFT's, its seed replaced by `seed`. */
export async function trainBuiltinPolicy(world: World, seed: number, samples: number, config: SftConfig, device: DeviceRequest = 'cpu', onProgress?: (p: SftProgress) => void): Promise<CausalLM> {
  const m = CausalLM.init(world.modelConfig(), seed, device);
  await sft(m, world.sftSamples(samples, new Rng(seed * 7919 + 1)), { ...config, seed }, onProgress);
  return m;
}

/** The seed of member k's trunk, from the seed the ensemble is trained with. Member 0 keeps π₀ itself
 *  (docs/science.md § Pretraining-seed members): the nominal member, and so the `single` objective, is
 *  then the very reward model a shared-trunk study trains, and a paired comparison of the two settings
 *  isolates what the other members' trunks change. Hashed, so no variant's seed is another study's π₀ seed
 *  by accident of arithmetic. */
export function memberTrunkSeed(ensembleSeed: number, k: number): number {
  if (!Number.isInteger(k) || k < 1) throw new Error(`member ${k}: only members 1…K−1 have their own trunk (member 0 uses π₀)`);
  return createHash('sha256').update(`member-trunk:${ensembleSeed}:${k}`).digest().readUInt32LE(0);
}

async function exists(p: string) { try { await access(p); return true; } catch { return false; } }

/** Member trunks for trainEnsemble's `trunkOf`: member 0 gets π₀, member k its variant, trained once and
 *  kept in `cacheDir/member-k/` when a folder is given (a killed study resumes without training it again). */
export function memberTrunks(o: {
  world: World; base: CausalLM; ensembleSeed: number; samples: number; sft: SftConfig; device?: DeviceRequest; cacheDir?: string;
  onTrain?: (k: number, seed: number) => void; onProgress?: (k: number, p: SftProgress) => void;
}): (k: number) => Promise<CausalLM> {
  return async (k) => {
    if (k === 0) return o.base;
    const dir = o.cacheDir ? path.join(o.cacheDir, `member-${k}`) : null;
    if (dir && await exists(path.join(dir, 'model.safetensors'))) return CausalLM.load(dir, o.device ?? 'cpu');
    const seed = memberTrunkSeed(o.ensembleSeed, k);
    o.onTrain?.(k, seed);
    const m = await trainBuiltinPolicy(o.world, seed, o.samples, o.sft, o.device, (p) => o.onProgress?.(k, p));
    if (dir) {
      // Saved beside and renamed into place, so a kill mid-save never leaves a half-written trunk to load.
      const tmp = `${dir}.${process.pid}.tmp`;
      await rm(tmp, { recursive: true, force: true });
      await m.save(tmp);
      await rename(tmp, dir);
    }
    return m;
  };
}
