// LoRA (Hu et al. 2021) as PEFT computes it: for each targeted projection W (HF module name),
//   y = base(x) + (alpha / r) · (dropout(x) · Aᵀ) · Bᵀ,   A [r, in] kaiming-uniform, B [out, r] zeros
// (dropout in training graphs only, its masks fed from the trainer's RNG: LoraAdapters.attach),
// attached through decoder.proj's adapter hook, so no architecture changes. The base weights stay in the
// store untouched (trainers list only adapter names as trainable); "adapters off" is the same store read
// without the hook (CausalLM.withoutAdapters), which is how PPO's reference policy is the base model
// without a second copy of its weights (docs/engine.md § LoRA). Saved and loaded in PEFT's format
// (adapter_config.json + adapter_model.safetensors, keys base_model.model.<module>.lora_A.weight), and
// merged into a plain HF folder on request (W + scale·B·A; transposed for GPT-2's Conv1D, as PEFT's
// fan_in_fan_out does).

import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Graph, type Tensor, F } from '../graph/index.js';
import { ParamStore, Rng, initTensor } from '../runtime/params.js';
import type { HostTensor } from '../runtime/session.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../runtime/safetensors.js';
import { ADAPTERS, type AdapterHook } from './decoder.js';
import { CausalLM, architectureOf } from './model.js';
import type { ModelConfig } from './config.js';

export interface LoraConfig {
  r: number;
  alpha: number;
  /** Dropout on the adapter's input while training (identity when scoring or sampling, as PEFT in eval mode). */
  dropout: number;
  /** HF module names or name suffixes (q_proj, v_proj, c_attn, mlp.c_proj ...), matched as PEFT does: the
   *  module path equals the target or ends with "." + target. */
  targetModules: string[];
  bias: 'none';
}

export const LORA_DEFAULTS = Object.freeze({ alpha: 16, dropout: 0, bias: 'none' as const });

/** A projection the model routes through decoder.proj: its HF module path and weight layout. */
export interface Projection { name: string; in: number; out: number; layout: 'out_in' | 'in_out' }

/** Every projection of a model, found by tracing its trunk once with a recording hook (so the list is
 *  exactly what proj sees, not a second description of the architectures). */
export function projections(model: CausalLM): Projection[] {
  return projectionsOf(model.config);
}

/** The same list from a config alone: the trace needs only parameter shapes, so no weights are
 *  allocated (the memory plan counts a LoRA's parameters this way, models/memory.ts). */
export function projectionsOf(config: ModelConfig): Projection[] {
  const g = new Graph('projections');
  const p: Record<string, Tensor> = {};
  for (const s of architectureOf(config).params(config)) p[s.name] = g.param(s.name, s.shape);
  const found: Projection[] = [];
  const hook: AdapterHook = (name, x, y, layout) => {
    found.push({ name, in: x.shape[x.shape.length - 1] as number, out: y.shape[y.shape.length - 1] as number, layout });
    return y;
  };
  const ids = g.input('input_ids', 'int64', [1, 2]), mask = g.input('attention_mask', 'int64', [1, 2]);
  new CausalLM(config, new ParamStore()).trace(g, Object.assign(p, { [ADAPTERS]: hook }), ids, mask);
  return found;
}

/** The last component of each projection path (q_proj, c_attn ...), for messages. */
const moduleKinds = (ps: Projection[]) => [...new Set(ps.map((p) => p.name.split('.').pop()!))];

export const matchesTarget = (module: string, targets: string[]) => targets.some((t) => module === t || module.endsWith(`.${t}`));

export class LoraAdapters {
  readonly scale: number;
  constructor(readonly config: LoraConfig, readonly modules: Projection[]) {
    this.scale = config.alpha / config.r;
  }

  /** Validates a config against a model's projections; unknown targets are refused by name. */
  static resolve(model: { config: ModelConfig }, cfg: LoraConfig, where = 'lora'): LoraAdapters {
    if (!Number.isInteger(cfg.r) || cfg.r < 1) throw new Error(`${where}.r: must be a positive integer, got ${cfg.r}`);
    if (!(cfg.alpha > 0)) throw new Error(`${where}.alpha: must be positive, got ${cfg.alpha}`);
    if (!(cfg.dropout >= 0 && cfg.dropout < 1)) throw new Error(`${where}.dropout: must be in [0, 1), got ${cfg.dropout}`);
    if (cfg.bias !== 'none') throw new Error(`${where}.bias: only 'none' is supported (adapter biases are not trained), got ${JSON.stringify(cfg.bias)}`);
    if (!cfg.targetModules.length) throw new Error(`${where}.targetModules: name at least one module`);
    const all = projectionsOf(model.config);
    for (const t of cfg.targetModules) {
      if (!all.some((m) => matchesTarget(m.name, [t]))) {
        throw new Error(`${where}.targetModules: "${t}" matches no module of this ${model.config.arch} model; its projections are ${moduleKinds(all).join(', ')}`);
      }
    }
    return new LoraAdapters(cfg, all.filter((m) => matchesTarget(m.name, cfg.targetModules)));
  }

  paramNames(): string[] { return this.modules.flatMap((m) => [`${m.name}.lora_A.weight`, `${m.name}.lora_B.weight`]); }
  shapes(m: Projection): { a: number[]; b: number[] } { return { a: [this.config.r, m.in], b: [m.out, this.config.r] }; }

  /** A parameter record whose projections add the adapters; `p` must hold the adapter tensors. With
   *  `train` and a dropout p > 0 each adapted module reads its input through its own keep-mask, a bool
   *  graph input named dropoutInput(module) of the input's shape [B, T, in], cast and scaled by 1/(1−p) in
   *  the graph (PEFT's inverted nn.Dropout, one per module: q_proj and v_proj reading the same x still
   *  drop independently). The graph IR has no random op and a resumed run must repeat the same draws, so
   *  the caller feeds dropoutMasks() drawn from its own checkpointed RNG (docs/engine.md § LoRA). p = 0
   *  and eval graphs (scoring, sampling) add nothing. */
  attach(p: Record<string, Tensor>, train: boolean): Record<string, Tensor> {
    const targeted = new Set(this.modules.map((m) => m.name));
    const drop = train && this.config.dropout > 0 ? 1 / (1 - this.config.dropout) : 0;
    const hook: AdapterHook = (name, x, y) => {
      if (!targeted.has(name)) return y;
      const a = p[`${name}.lora_A.weight`], b = p[`${name}.lora_B.weight`];
      if (!a || !b) throw new Error(`LoRA: no adapter tensors for ${name}`);
      const xin = drop ? F.mul(x, F.mul(F.cast(x.graph.input(dropoutInput(name), 'bool', x.shape), x.dtype), drop)) : x;
      return F.add(y, F.mul(F.linearT(F.linearT(xin, a), b), this.scale));
    };
    return Object.assign({ ...p }, { [ADAPTERS]: hook });
  }

  /** Whether training graphs read dropout masks (dropout > 0); callers feed dropoutMasks() then. */
  get dropsOut(): boolean { return this.config.dropout > 0; }

  /** The keep-masks a training graph of `rows` × `seq` tokens reads (attach), one per adapted module, each
   *  element kept with probability 1 − p. Drawn from a generator forked off `rng` (one draw of `rng` per
   *  step, so the caller's stream advances the same whatever the model's size); nothing is drawn and no
   *  feed is made when dropout is 0, so such a run's stream and graphs are exactly those of no dropout. */
  dropoutMasks(rows: number, seq: number, rng: Rng): Record<string, HostTensor> {
    if (!this.dropsOut) return {};
    // Keep when a uniform u32 falls below (1 − p)·2³²: the keep rate is 1 − p to within 2⁻³². The u32s
    // are Rng.nextU32's stream of the forked generator (xoshiro128**), inlined on int32 locals with a
    // signed compare (u − 2³¹ against below − 2³¹): calling nextU32 measured ~13 ns a value against ~8
    // inlined, most of which is writing the arrays (a SmolLM2-sized minibatch draws 2·10⁸ values).
    const st = rng.fork().getState();
    let s0 = st[0]! | 0, s1 = st[1]! | 0, s2 = st[2]! | 0, s3 = st[3]! | 0;
    const below = (1 - this.config.dropout) * 4294967296 - 2147483648;
    const out: Record<string, HostTensor> = {};
    for (const m of this.modules) {
      const data = new Uint8Array(rows * seq * m.in);
      for (let i = 0; i < data.length; i++) {
        const x = Math.imul(s1, 5);
        const u = Math.imul((x << 7) | (x >>> 25), 9) ^ -2147483648;
        const t = s1 << 9;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = (s3 << 11) | (s3 >>> 21);
        data[i] = u < below ? 1 : 0;
      }
      out[dropoutInput(m.name)] = { dtype: 'bool', shape: [rows, seq, m.in], data };
    }
    return out;
  }
}

/** The graph input holding a module's LoRA dropout keep-mask (training graphs with dropout > 0). */
export const dropoutInput = (module: string) => `lora_dropout:${module}`;

/** The base model with fresh adapters (A kaiming-uniform as PEFT's default init, B zero, so the adapted
 *  model starts equal to the base). The returned model's store references the base's weight arrays (no
 *  copy; stores replace values, never mutate them) and adds the adapter tensors. */
export async function withLora(base: CausalLM, cfg: LoraConfig, seed = 0): Promise<CausalLM> {
  const lora = LoraAdapters.resolve(base, cfg);
  const m = await shareBase(base);
  addFreshAdapters(m.params, lora, seed);
  m.lora = lora;
  return m;
}

/** Adds fresh adapter tensors to a store: A kaiming-uniform (PEFT's default), B zero. Also used by the
 *  LoRA reward models of rlhf/reward.ts, whose trunks are shared the same way. */
export function addFreshAdapters(store: ParamStore, lora: LoraAdapters, seed: number): void {
  const rng = new Rng(seed ^ 0x10a);
  for (const mod of lora.modules) {
    const { a, b } = lora.shapes(mod);
    store.set(`${mod.name}.lora_A.weight`, initTensor(a, { kind: 'kaiming_uniform', fanIn: mod.in }, rng), a);
    store.set(`${mod.name}.lora_B.weight`, new Float32Array(b[0]! * b[1]!), b);
  }
}

async function shareBase(base: CausalLM): Promise<CausalLM> {
  await base.params.sync();
  const store = new ParamStore();
  for (const n of base.modelParamNames()) { const p = base.params.get(n); store.set(n, p.data, p.shape); }
  return base.sibling(store);
}

// ---- PEFT format -------------------------------------------------------------------------------

const PREFIX = 'base_model.model.';

/** Writes adapter_config.json and adapter_model.safetensors as PEFT's save_pretrained does. */
export async function saveAdapter(model: CausalLM, dir: string, baseModelNameOrPath: string | null = model.sourceDir ?? null): Promise<void> {
  const lora = model.lora;
  if (!lora) throw new Error('this model has no LoRA adapters to save');
  await writePeftFolder(dir, lora, model.params, baseModelNameOrPath, 'CAUSAL_LM', []);
}

/** The PEFT folder of adapters held in `store`. `modulesToSave` are whole tensors saved beside them
 *  (a SEQ_CLS adapter's `score` head, as PEFT's modules_to_save writes it: base_model.model.score.weight). */
export async function writePeftFolder(dir: string, lora: LoraAdapters, store: ParamStore, baseModelNameOrPath: string | null, taskType: 'CAUSAL_LM' | 'SEQ_CLS', modulesToSave: string[]): Promise<void> {
  const root = path.resolve(dir);
  await mkdir(root, { recursive: true });
  const c = lora.config;
  const conv1d = lora.modules.some((m) => m.layout === 'in_out');
  const config = {
    peft_type: 'LORA', task_type: taskType, base_model_name_or_path: baseModelNameOrPath,
    r: c.r, lora_alpha: c.alpha, lora_dropout: c.dropout, target_modules: [...c.targetModules].sort(), bias: c.bias,
    fan_in_fan_out: conv1d, inference_mode: true, init_lora_weights: true, use_rslora: false, use_dora: false,
    modules_to_save: modulesToSave.length ? modulesToSave : null, layers_to_transform: null, layers_pattern: null, rank_pattern: {}, alpha_pattern: {},
  };
  await writeFile(path.join(root, 'adapter_config.json'), JSON.stringify(config, null, 2) + '\n');
  await store.sync();
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const extra = store.names().filter((n) => modulesToSave.some((m) => n.startsWith(`${m}.`)));
  for (const n of [...lora.paramNames(), ...extra]) { const p = store.get(n); tensors.set(PREFIX + n, { shape: p.shape, data: p.data }); }
  await writeSafetensorsFile(path.join(root, 'adapter_model.safetensors'), tensors, { format: 'pt' });
}

/** Loads a PEFT LoRA folder onto a base model. Keys PEFT would not write, shapes that do not fit and
 *  adapter_config.json settings that change the math but are not implemented are refused by name. */
export async function loadAdapter(base: CausalLM, dir: string): Promise<CausalLM> {
  const m = await shareBase(base);
  m.lora = await readPeftFolder(dir, base.config, m.params, []);
  return m;
}

/** Reads a PEFT LoRA folder's adapters (and the `modulesToSave` tensors it must then hold) into `store`,
 *  validated against `config`'s projections; the adapters' description is returned. */
export async function readPeftFolder(dir: string, modelConfig: ModelConfig, store: ParamStore, modulesToSave: string[]): Promise<LoraAdapters> {
  const root = path.resolve(dir);
  const cfgFile = path.join(root, 'adapter_config.json');
  let raw: Record<string, unknown>;
  try { raw = JSON.parse(await readFile(cfgFile, 'utf8')); } catch (e) { throw new Error(`${cfgFile}: cannot read a PEFT adapter config (${(e as Error).message})`); }
  const bad = (key: string, why: string) => new Error(`${cfgFile}: ${key}: ${why}`);
  if (raw.peft_type !== 'LORA') throw bad('peft_type', `only LORA is supported, got ${JSON.stringify(raw.peft_type)}`);
  for (const k of ['use_dora', 'use_rslora'] as const) if (raw[k]) throw bad(k, 'not supported');
  for (const k of ['rank_pattern', 'alpha_pattern'] as const) if (raw[k] && Object.keys(raw[k] as object).length) throw bad(k, 'per-module ranks/alphas are not supported');
  const empty = (v: unknown) => v == null || (Array.isArray(v) && !v.length);
  for (const k of ['layers_to_transform', 'layers_pattern', 'exclude_modules'] as const) if (!empty(raw[k])) throw bad(k, 'not supported');
  const saved = empty(raw.modules_to_save) ? [] : raw.modules_to_save;
  if (!Array.isArray(saved) || [...saved].sort().join() !== [...modulesToSave].sort().join()) {
    throw bad('modules_to_save', modulesToSave.length ? `must be ${JSON.stringify(modulesToSave)}, got ${JSON.stringify(raw.modules_to_save)}` : 'not supported');
  }
  if (raw.bias !== undefined && raw.bias !== 'none') throw bad('bias', `only "none" is supported, got ${JSON.stringify(raw.bias)}`);
  const tm = raw.target_modules;
  if (!Array.isArray(tm) || !tm.every((t) => typeof t === 'string')) throw bad('target_modules', 'must be a list of module names (a regular-expression string is not supported)');
  const cfg: LoraConfig = { r: Number(raw.r), alpha: Number(raw.lora_alpha ?? 8), dropout: Number(raw.lora_dropout ?? 0), targetModules: tm as string[], bias: 'none' };
  const lora = LoraAdapters.resolve({ config: modelConfig }, cfg, cfgFile);
  const file = path.join(root, 'adapter_model.safetensors');
  const tensors = await readSafetensorsFile(file);
  const want = new Set<string>();
  for (const mod of lora.modules) {
    const { a, b } = lora.shapes(mod);
    for (const [suffix, shape] of [['lora_A.weight', a], ['lora_B.weight', b]] as const) {
      const key = `${PREFIX}${mod.name}.${suffix}`;
      want.add(key);
      const t = tensors.get(key);
      if (!t) throw new Error(`${file}: missing tensor ${key}`);
      if (t.shape.join() !== shape.join()) throw new Error(`${file}: tensor ${key} is [${t.shape}], expected [${shape}] (r ${cfg.r})`);
      store.set(`${mod.name}.${suffix}`, t.data, shape);
    }
  }
  for (const m of modulesToSave) {
    const keys = [...tensors.keys()].filter((k) => k.startsWith(`${PREFIX}${m}.`));
    if (!keys.length) throw new Error(`${file}: no tensors of ${m} (modules_to_save)`);
    for (const k of keys) { want.add(k); const t = tensors.get(k)!; store.set(k.slice(PREFIX.length), t.data, t.shape); }
  }
  const extra = [...tensors.keys()].filter((k) => !want.has(k));
  if (extra.length) throw new Error(`${file}: tensors not of the configured adapters: ${extra.slice(0, 6).join(', ')}${extra.length > 6 ? ` and ${extra.length - 6} more` : ''}`);
  return lora;
}

/** A plain model with the adapters merged into its weights: W + scale·B·A ([out, in]; its transpose for
 *  Conv1D's [in, out], PEFT's fan_in_fan_out). Float64 accumulation. */
export async function mergeAdapter(model: CausalLM): Promise<CausalLM> {
  const lora = model.lora;
  if (!lora) throw new Error('this model has no LoRA adapters to merge');
  await model.params.sync();
  const store = new ParamStore();
  for (const n of model.modelParamNames()) { const p = model.params.get(n); store.set(n, p.data, p.shape); }
  const r = lora.config.r;
  for (const mod of lora.modules) {
    const w = model.params.get(`${mod.name}.weight`), a = model.params.get(`${mod.name}.lora_A.weight`).data, b = model.params.get(`${mod.name}.lora_B.weight`).data;
    const out = new Float32Array(w.data.length);
    for (let o = 0; o < mod.out; o++) {
      for (let i = 0; i < mod.in; i++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += b[o * r + k]! * a[k * mod.in + i]!;
        const at = mod.layout === 'out_in' ? o * mod.in + i : i * mod.out + o;
        out[at] = w.data[at]! + lora.scale * s;
      }
    }
    store.set(`${mod.name}.weight`, out, w.shape);
  }
  return model.sibling(store);
}
