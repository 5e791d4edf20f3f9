// Model parity on a device: the committed PyTorch fixtures (test/fixtures/models) evaluated on the
// given execution provider; prints max |logits − reference|, loss error and gradient-sum error.
//   node scripts/gpu/parity.mjs cuda|webgpu|cpu
import { readFileSync } from 'node:fs';
import { CausalLM, gradSums } from '../../dist/engine/models/model.js';

const device = process.argv[2] ?? 'cpu';
const out = { device, models: {} };
for (const name of ['gpt2-tiny', 'llama-tiny-gqa', 'qwen2-tiny', 'sharded-llama']) {
  const dir = `test/fixtures/models/${name}`;
  const exp = JSON.parse(readFileSync(`${dir}/expected.json`, 'utf8'));
  try {
    const m = await CausalLM.load(dir, device);
    const r = await m.evaluate(exp.input_ids, { grads: true });
    const V = exp.logits[0][0].length, T = exp.logits[0].length;
    let logit = 0;
    exp.logits.forEach((row, b) => row.forEach((v, t) => v.forEach((x, k) => { logit = Math.max(logit, Math.abs(r.logits.data[(b * T + t) * V + k] - x)); })));
    const sums = gradSums(r.grads);
    let grad = 0;
    for (const [p, want] of Object.entries(exp.grads)) grad = Math.max(grad, Math.abs(sums[p].abs_sum - want.abs_sum) / want.abs_sum, Math.abs(sums[p].sum - want.sum) / want.abs_sum);
    out.models[name] = { logits_max_abs: logit, loss_rel: Math.abs(r.loss - exp.loss) / exp.loss, grad_max_rel: grad, pass: logit <= 1e-4 && grad <= 1e-3 };
  } catch (e) {
    out.models[name] = { error: String(e.message ?? e).split('\n')[0] };
  }
}
console.log(JSON.stringify(out));
