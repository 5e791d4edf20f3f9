// The reward-ensemble methods and their names in words, shared by the engine (spec, CLI, reports) and
// the renderer (wizard, Ensembles screen): BRME heads on one trunk (engine/rlhf/brme.ts), K independent
// Bradley–Terry models (engine/rlhf/independent.ts), and K LoRA adapter sets + heads on one frozen trunk
// (Zhang et al. 2401.16635; docs/engine.md § LoRA).

export const ENSEMBLE_METHODS = ['brme', 'independent', 'lora'] as const;
export type EnsembleMethod = (typeof ENSEMBLE_METHODS)[number];

/** Short label (menus, lists). */
export const ENSEMBLE_METHOD_LABEL: Record<EnsembleMethod, string> = {
  brme: 'BRME', independent: 'independent', lora: 'LoRA',
};

/** "K …" in a sentence: "5 BRME heads", "3 independent reward models", "4 LoRA reward models on one trunk". */
export const ensembleMembersPhrase = (method: EnsembleMethod, k: number): string =>
  method === 'brme' ? `${k} BRME heads` : method === 'lora' ? `${k} LoRA reward models on one frozen trunk` : `${k} independent reward models`;
