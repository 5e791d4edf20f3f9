// A look at a Hugging Face model folder before a study uses it (the wizard's "check" button): the
// architecture and sizes from config.json, the tokenizer, the weight files. Nothing is loaded into
// memory but the config and the tokenizer.
import fs from 'node:fs';
import path from 'node:path';
import { parseHfConfig, configNotes, SUPPORTED_ARCHITECTURES, maxPositionsOf } from '../models/config.js';
import { loadTokenizer } from '../models/tokenizer.js';
import { folderSpecialTokens, type SpecialTokens } from '../models/special-tokens.js';
import { hfClassName, type ModelConfig } from '../models/config.js';
import { ppoMemoryPlan, parameterCounts, defaultLoraTargets, loraChoices, DEFAULT_LORA_RANK, DEFAULT_PPO_SHAPE, PRECISIONS, type MemoryPlan, type PpoShape } from '../models/memory.js';
import { listDevices, deviceMemory, type DeviceMemory } from '../runtime/devices.js';

export interface ModelFolder extends ModelSummary {
  dir: string;
  arch: string;
  layers: number;
  hidden: number;
  heads: number;
  vocabSize: number;
  maxPositions: number;
  tokenizer: { file: string; vocabSize: number; bos: number | null; eos: number | null; chatTemplate: boolean };
  weights: { files: string[]; bytes: number };
  /** BOS / EOS / pad as a study uses them, with where each came from (models/special-tokens.ts). */
  specialTokens: SpecialTokens;
}

/** What `rrlhf model info` prints and models.inspect returns about a model (issue #18): its family, its
 *  positions, its size, and the memory plan of a default PPO study (DEFAULT_PPO_SHAPE, full fine-tuning
 *  and LoRA r 8 on the attention projections) on each device this machine has, at each precision. */
export interface ModelSummary {
  family: { arch: string; causalLM: string; sequenceClassification: string };
  /** `localTheta`: the sliding layers' own default rope (Gemma 3), else null. */
  rope: { type: string; theta: number | null; rotaryDims: number | null; localTheta: number | null };
  parameters: { total: number; trunk: number };
  /** Module names a LoRA may target (policy.lora.targetModules) and the default ones. */
  lora: { modules: string[]; defaults: string[]; r: number };
  /** Keys read as current transformers reads them where an older one computed otherwise (configNotes). */
  notes: string[];
  memory: {
    study: Omit<PpoShape, 'lora' | 'ensemble'> & { lora: { r: number; targetModules: string[] }; ensemble: NonNullable<PpoShape['ensemble']> };
    devices: DeviceMemory[];
    plans: (MemoryPlan & { device: string; fineTuning: 'full' | 'lora'; fits: boolean | null })[];
  };
}

/** The study a summary plans for, over DEFAULT_PPO_SHAPE (`rrlhf model info`'s --batch, --lora, ... flags). */
export interface SummaryStudy {
  batch?: number; miniBatches?: number; promptTokens?: number; responseTokens?: number;
  /** The LoRA column's rank and targets (default r 8 on the family's attention projections). */
  lora?: { r?: number; targetModules?: string[] };
  ensemble?: NonNullable<PpoShape['ensemble']>;
  checkpointing?: boolean;
}

export async function modelSummary(config: ModelConfig, notes: string[] = [], want: SummaryStudy = {}): Promise<ModelSummary> {
  const rope = config.arch === 'gpt2'
    ? { type: 'none (learned absolute positions)', theta: null, rotaryDims: null, localTheta: null }
    : {
      type: config.rope?.type ?? 'default', theta: config.ropeTheta,
      rotaryDims: 'rotaryDim' in config && config.rotaryDim !== undefined ? config.rotaryDim : config.headDim,
      localTheta: 'localRopeTheta' in config ? config.localRopeTheta : null,
    };
  const devices = (await listDevices()).filter((d) => d.available).map((d) => deviceMemory(d.device));
  const lora = { r: want.lora?.r ?? DEFAULT_LORA_RANK, targetModules: want.lora?.targetModules ?? defaultLoraTargets(config.arch) };
  const { lora: _l, ...given } = want;
  const study = { ...DEFAULT_PPO_SHAPE, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) } as typeof DEFAULT_PPO_SHAPE & { checkpointing?: boolean };
  const plans: ModelSummary['memory']['plans'] = [];
  for (const dev of devices) {
    for (const precision of PRECISIONS) {
      for (const fineTuning of ['full', 'lora'] as const) {
        const plan = ppoMemoryPlan(config, { ...study, lora: fineTuning === 'lora' ? lora : null }, precision, dev.kind);
        plans.push({ ...plan, device: dev.device, fineTuning, fits: dev.availableBytes === null ? null : plan.totalBytes <= dev.availableBytes });
      }
    }
  }
  return {
    family: { arch: config.arch, causalLM: hfClassName(config.arch, 'CausalLM'), sequenceClassification: hfClassName(config.arch, 'SequenceClassification') },
    rope, parameters: (({ total, trunk }) => ({ total, trunk }))(parameterCounts(config)), lora: loraChoices(config), notes,
    memory: { study: { ...study, lora }, devices, plans },
  };
}

/** A folder that cannot be used as a model; the message says why and what to do. */
export class ModelFolderError extends Error {}

export async function inspectModelFolder(dir: string): Promise<ModelFolder> {
  const abs = path.resolve(dir);
  let st: fs.Stats;
  try { st = fs.statSync(abs); } catch { throw new ModelFolderError(`${abs} does not exist; choose the folder that holds config.json, model.safetensors and tokenizer.json`); }
  if (!st.isDirectory()) throw new ModelFolderError(`${abs} is a file; choose the model's folder (with config.json, model.safetensors and tokenizer.json in it)`);
  const cfgFile = path.join(abs, 'config.json');
  let raw: Record<string, unknown>;
  try { raw = JSON.parse(fs.readFileSync(cfgFile, 'utf8')) as Record<string, unknown>; } catch (e) {
    throw new ModelFolderError(`${cfgFile} cannot be read (${(e as Error).message.split('\n')[0]}); a Hugging Face model folder has a config.json`);
  }
  let config;
  try { config = parseHfConfig(raw, cfgFile); } catch (e) {
    throw new ModelFolderError(`${(e as Error).message} (supported: ${SUPPORTED_ARCHITECTURES.join(', ')})`);
  }
  let tok;
  try { tok = await loadTokenizer(abs); } catch (e) { throw new ModelFolderError(`the tokenizer cannot be loaded: ${(e as Error).message.split('\n')[0]}`); }
  let specialTokens: SpecialTokens;
  try {
    specialTokens = await folderSpecialTokens(abs, config.vocabSize, raw, {
      file: tok.file, bos: tok.bosId, eos: tok.eosId, pad: tok.padId,
      names: { bos: tok.specialTokens.bos_token, eos: tok.specialTokens.eos_token, pad: tok.specialTokens.pad_token },
    });
  } catch (e) { throw new ModelFolderError((e as Error).message); }
  if (specialTokens.eos === null) throw new ModelFolderError(`${abs}: neither generation_config.json, config.json nor the tokenizer names an EOS token; a policy needs one to end a response (set eos_token_id in config.json)`);
  const files = fs.readdirSync(abs).filter((f) => f.endsWith('.safetensors')).sort();
  if (!files.length) throw new ModelFolderError(`${abs} has no .safetensors weights (PyTorch .bin files are not read: convert them with transformers' save_pretrained(safe_serialization=True))`);
  const bytes = files.reduce((n, f) => n + fs.statSync(path.join(abs, f)).size, 0);
  return {
    dir: abs, arch: config.arch, layers: config.nLayer, hidden: config.d, heads: config.nHead, vocabSize: config.vocabSize,
    maxPositions: maxPositionsOf(config),
    tokenizer: { file: tok.file, vocabSize: tok.vocabSize, bos: tok.bosId, eos: tok.eosId, chatTemplate: tok.chatTemplate !== null },
    weights: { files, bytes },
    specialTokens,
    ...(await modelSummary(config, configNotes(raw))),
  };
}
