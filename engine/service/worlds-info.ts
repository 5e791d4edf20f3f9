// The built-in worlds as the app presents them: a plain-language description, the default settings, and
// a few samples of the base behaviour π₀ with their gold reward, so a newcomer sees what "a response"
// and "gold" mean in each world before running anything.
import { makeWorld, WORLD_NAMES, GOODHART_DEFAULTS, TEXT_DEFAULTS } from '../worlds/index.js';
import { Rng } from '../runtime/params.js';
import { loraChoices } from '../models/memory.js';

export interface WorldInfo {
  name: string;
  title: string;
  summary: string;
  /** What the gold reward pays for, and how a policy can hack a reward model trained on π₀'s pairs. */
  gold: string;
  hack: string;
  settings: Record<string, unknown>;
  vocabSize: number;
  /** Module names a policy LoRA may target on this world's model, and the default ones. */
  lora: { modules: string[]; defaults: string[]; r: number };
  maxResponseTokens: number;
  trainPrompts: number;
  evalPrompts: number;
  examples: { prompt: string; response: string; gold: number }[];
}

const TEXT: Record<string, Pick<WorldInfo, 'title' | 'summary' | 'gold' | 'hack'>> = {
  'goodhart-lab': {
    title: 'Goodhart lab',
    summary: 'A tiny synthetic world built to show reward hacking within minutes on a laptop CPU: a response is a short string of letters answering one of 8 prompts.',
    gold: 'Each letter is worth a prompt-specific amount, but only for up to 2 copies; more copies are penalised, and letter pairs that "fit" earn a small bonus.',
    hack: 'The starting policy rarely repeats a letter, so reward models trained on its answers never learn the penalty. A policy pushed hard against them repeats its favourite letters: the proxy reward rises while gold falls.',
  },
  'text-reviews': {
    title: 'Text reviews',
    summary: 'Short English product reviews from a small grammar, readable by a person, with a word-level vocabulary of about 150 words.',
    gold: 'Positive sentiment counts but saturates after a few praise words; repeated words and disfluent text are penalised.',
    hack: 'Reward models learn "praise words are good" from fluent reviews; an over-optimised policy drifts towards "amazing amazing wonderful great." — the hack is visible in the samples.',
  },
};

const DEFAULTS: Record<string, Record<string, unknown>> = { 'goodhart-lab': { ...GOODHART_DEFAULTS }, 'text-reviews': { ...TEXT_DEFAULTS } };

let cache: WorldInfo[] | undefined;

export function worldsInfo(): WorldInfo[] {
  cache ??= WORLD_NAMES.map((name) => {
    const w = makeWorld(name, {}, 0);
    const rng = new Rng(12345);
    const examples = w.sftSamples(4, rng).map((s) => ({ prompt: w.render(s.prompt), response: w.render(s.response), gold: w.gold(s.prompt, s.response) }));
    return {
      name, ...TEXT[name]!, settings: DEFAULTS[name] ?? {}, vocabSize: w.vocabSize, lora: loraChoices(w.modelConfig()), maxResponseTokens: w.maxResponseTokens,
      trainPrompts: w.trainPrompts.length, evalPrompts: w.evalPrompts.length, examples,
    };
  });
  return cache;
}
