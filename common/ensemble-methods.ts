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

/** Where independent members' trunks come from (spec `ensemble.trunks`;
 *  docs/science.md § Pretraining-seed members): 'shared' — every member fine-tunes π₀ (Coste et al.); 'per-member' — member k > 0 fine-tunes
 *  its own π₀ variant, a fresh decoder SFT-trained from its own seed (Eisenstein et al. 2312.09244). */
export const ENSEMBLE_TRUNKS = ['shared', 'per-member'] as const;
export type EnsembleTrunks = (typeof ENSEMBLE_TRUNKS)[number];
export const DEFAULT_ENSEMBLE_TRUNKS: EnsembleTrunks = 'shared';

/** Menu labels and the one-line help the wizard and the Ensembles screen show. */
export const ENSEMBLE_TRUNKS_LABEL: Record<EnsembleTrunks, string> = {
  shared: 'one pretrained trunk (π₀) for all members',
  'per-member': 'a pretrained trunk per member',
};
export const ENSEMBLE_TRUNKS_HELP = 'Per member: members pretrained from different seeds — Eisenstein et al. (2312.09244) found such ensembles more robust than ones that differ only in fine-tuning. Built-in worlds, independent members only; costs one extra SFT per member.';
