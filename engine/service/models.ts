// A look at a Hugging Face model folder before a study uses it (the wizard's "check" button): the
// architecture and sizes from config.json, the tokenizer, the weight files. Nothing is loaded into
// memory but the config and the tokenizer.
import fs from 'node:fs';
import path from 'node:path';
import { parseHfConfig, SUPPORTED_ARCHITECTURES, maxPositionsOf } from '../models/config.js';
import { loadTokenizer } from '../models/tokenizer.js';

export interface ModelFolder {
  dir: string;
  arch: string;
  layers: number;
  hidden: number;
  heads: number;
  vocabSize: number;
  maxPositions: number;
  tokenizer: { file: string; vocabSize: number; bos: number | null; eos: number | null; chatTemplate: boolean };
  weights: { files: string[]; bytes: number };
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
  const files = fs.readdirSync(abs).filter((f) => f.endsWith('.safetensors')).sort();
  if (!files.length) throw new ModelFolderError(`${abs} has no .safetensors weights (PyTorch .bin files are not read: convert them with transformers' save_pretrained(safe_serialization=True))`);
  const bytes = files.reduce((n, f) => n + fs.statSync(path.join(abs, f)).size, 0);
  return {
    dir: abs, arch: config.arch, layers: config.nLayer, hidden: config.d, heads: config.nHead, vocabSize: config.vocabSize,
    maxPositions: maxPositionsOf(config),
    tokenizer: { file: tok.file, vocabSize: tok.vocabSize, bos: tok.bosId, eos: tok.eosId, chatTemplate: tok.chatTemplate !== null },
    weights: { files, bytes },
  };
}
