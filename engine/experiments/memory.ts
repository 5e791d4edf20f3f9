// A study's memory plan and the check before it starts (docs/engine.md § Memory plan): the PPO shape a
// spec asks for, the plan on the device it will run on, and — when that is more than the device has —
// a refusal with the numbers and what to change, each alternative with its own planned total.
import type { ModelConfig } from '../models/config.js';
import { readModelConfig } from '../models/model.js';
import { ensembleLora } from '../rlhf/ensemble-train.js';
import { ppoMemoryPlan, ensembleTrainPlan, parameterCounts, defaultLoraTargets, PRECISIONS, type PpoShape, type MemoryPlan, type Precision, type EnsembleShape } from '../models/memory.js';
import { deviceMemory, resolveDevice, type Device, type DeviceRequest, type DeviceMemory } from '../runtime/devices.js';
import { makeWorld } from '../worlds/index.js';
import { bytes } from '../../common/format.js';
import type { ExperimentSpec } from './spec.js';

/** A study that does not fit; the message has the numbers and the changes that would fit. */
export class MemoryPlanError extends Error {
  constructor(message: string, readonly plan: MemoryPlan, readonly memory: DeviceMemory) { super(message); }
}

/** The model a study trains and the PPO shape its spec asks for. */
export async function studyShape(spec: ExperimentSpec): Promise<{ config: ModelConfig; shape: PpoShape }> {
  const w = spec.world;
  let config: ModelConfig, promptTokens: number, responseTokens: number, goldParams = 0;
  if (w.name === 'dataset') {
    config = (await readModelConfig(w.modelDir)).config;
    promptTokens = w.maxPromptTokens;
    responseTokens = w.maxResponseTokens;
    if (w.gold) { const g = (await readModelConfig(w.gold.rewardModelDir)).config; goldParams = parameterCounts(g).trunk + g.d; }
  } else {
    const world = makeWorld(w.name, w.settings, w.seed);
    config = world.modelConfig();
    promptTokens = Math.max(1, ...world.trainPrompts.map((p) => p.length));
    responseTokens = world.maxResponseTokens;
  }
  const e = spec.ensemble;
  return {
    config,
    shape: {
      batch: spec.ppo.batchSize, miniBatches: spec.ppo.miniBatches, promptTokens, responseTokens,
      lora: spec.policy.lora ? { r: spec.policy.lora.r, targetModules: spec.policy.lora.targetModules, dropout: spec.policy.lora.dropout } : null,
      ensemble: { method: e.method, heads: e.heads, unfreezeLastLayers: e.unfreezeLastLayers, ...(e.method === 'lora' ? { lora: ensembleLora(config, e.lora) } : {}) }, goldParams,
      checkpointing: spec.memory.gradientCheckpointing,
    },
  };
}

/** What the study's spec keys would have to become, each with the plan it gives. */
export function alternatives(config: ModelConfig, shape: PpoShape, precision: Precision = 'fp32', kind: 'cpu' | 'gpu' = 'cpu', responseKey: string | null = 'world.maxResponseTokens'): { change: string; totalBytes: number; runnable: boolean }[] {
  const alt = (change: string, s: PpoShape, p: Precision = precision) => {
    const plan = ppoMemoryPlan(config, s, p, kind);
    return { change, totalBytes: plan.totalBytes, runnable: plan.runnable };
  };
  const out = [];
  if (!shape.lora) {
    const targets = defaultLoraTargets(config.arch);
    out.push(alt(`policy.lora: { r: 8, targetModules: [${targets.join(', ')}] } (LoRA: no reference copy, optimizer state for the adapters only)`, { ...shape, lora: { r: 8, targetModules: targets } }));
  } else if (shape.lora.r > 1) {
    const r = Math.max(1, Math.floor(shape.lora.r / 2));
    out.push(alt(`policy.lora.r: ${r} (a lower LoRA rank saves little: the adapters are small)`, { ...shape, lora: { ...shape.lora, r } }));
  }
  if (Math.floor(shape.batch / shape.miniBatches) >= 2) out.push(alt(`ppo.miniBatches: ${shape.miniBatches * 2} (half the rows per update)`, { ...shape, miniBatches: shape.miniBatches * 2 }));
  if (shape.batch >= 2) out.push(alt(`ppo.batchSize: ${Math.floor(shape.batch / 2)}`, { ...shape, batch: Math.floor(shape.batch / 2) }));
  if (responseKey && shape.responseTokens >= 2) out.push(alt(`${responseKey}: ${Math.floor(shape.responseTokens / 2)}`, { ...shape, responseTokens: Math.floor(shape.responseTokens / 2) }));
  const ens = shape.ensemble;
  if (ens?.method === 'independent') out.push(alt(`ensemble.method: brme (one trunk instead of ${ens.heads})`, { ...shape, ensemble: { method: 'brme', heads: ens.heads } }));
  else if (ens?.unfreezeLastLayers) out.push(alt('ensemble.unfreezeLastLayers: 0', { ...shape, ensemble: { ...ens, unfreezeLastLayers: 0 } }));
  if (!shape.checkpointing) out.push(alt('memory.gradientCheckpointing: true (recompute each layer in the backward pass: about one more forward pass per update)', { ...shape, checkpointing: true }));
  return out;
}

/** The study's plan on every precision for the device it runs on, with that device's memory. */
export async function studyMemory(spec: ExperimentSpec, req: DeviceRequest) {
  const { config, shape } = await studyShape(spec);
  const device: Device = (await resolveDevice(req)).device;
  const memory = deviceMemory(device);
  const plans = PRECISIONS.map((p) => ppoMemoryPlan(config, shape, p, memory.kind));
  // A built-in world's response length is its own setting, not a spec key to suggest.
  const responseKey = spec.world.name === 'dataset' ? 'world.maxResponseTokens' : null;
  return { device, memory, shape, plans, alternatives: alternatives(config, shape, spec.memory.precision, memory.kind, responseKey) };
}

/** Refuses a plan that is more than the device has; the message names the numbers and what to change. */
export function checkFits(plan: MemoryPlan, memory: DeviceMemory, what: string, alts: { change: string; totalBytes: number; runnable: boolean }[]): void {
  const need = [{ where: memory.device, bytes: plan.totalBytes, have: memory.availableBytes, total: memory.totalBytes }];
  if (plan.hostBytes) { const host = deviceMemory('cpu'); need.push({ where: 'cpu' as Device, bytes: plan.hostBytes, have: host.availableBytes, total: host.totalBytes }); }
  const short = need.find((n) => n.have !== null && n.bytes > n.have);
  if (!short) return;
  const largest = [...plan.resident, ...plan.phases.flatMap((p) => p.terms)].sort((a, b) => b.bytes - a.bytes).slice(0, 4);
  const fits = alts.filter((a) => a.runnable && a.totalBytes <= short.have!);
  throw new MemoryPlanError(
    `${what} needs ${bytes(short.bytes)} of ${short.where} memory (${plan.precision}) but ${bytes(short.have!)} is available (${bytes(short.total ?? 0)} in all); ` +
    `largest terms: ${largest.map((t) => `${t.name} ${bytes(t.bytes)}`).join(', ')}. ` +
    (alts.length ? `To change: ${alts.map((a) => `${a.change} → ${bytes(a.totalBytes)}${a.runnable && a.totalBytes <= short.have! ? ' (fits)' : ''}`).join('; ')}${fits.length ? '' : '; no single change fits: combine them or use a smaller model'}` : 'Use a smaller model or a machine with more free memory') +
    ' (docs/engine.md § Memory plan)',
    plan, memory,
  );
}

/** The check before a study starts (the runner and the service's experiments.start call it). */
export async function assertStudyFits(spec: ExperimentSpec, req: DeviceRequest): Promise<void> {
  const m = await studyMemory(spec, req);
  const plan = m.plans.find((p) => p.precision === spec.memory.precision)!;
  if (!plan.runnable) throw new Error(`study "${spec.name}": memory.precision ${spec.memory.precision} cannot run on ${m.device}: ${plan.notes.at(-1)}`);
  checkFits(plan, m.memory, `study "${spec.name}"`, m.alternatives);
}

/** The check before ensemble training starts. */
export async function assertEnsembleFits(config: ModelConfig, shape: EnsembleShape, req: DeviceRequest): Promise<MemoryPlan> {
  const device: Device = (await resolveDevice(req)).device;
  const memory = deviceMemory(device);
  const plan = ensembleTrainPlan(config, shape, 'fp32', memory.kind);
  const alts = shape.method === 'independent'
    ? (['brme', 'lora'] as const).map((method) => ({ change: `method: ${method} (one trunk instead of K)`, totalBytes: ensembleTrainPlan(config, { ...shape, method }, 'fp32', memory.kind).totalBytes, runnable: true }))
    : [];
  checkFits(plan, memory, `training ${shape.method === 'brme' ? 'a BRME' : shape.method === 'lora' ? 'a LoRA' : 'an independent'} ensemble (K ${shape.heads})`, alts);
  return plan;
}
