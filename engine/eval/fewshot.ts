// Few-shot examples as lm-evaluation-harness draws them (lm_eval/api/samplers.py and task.py at commit
// 4e7e0d47): MMLU's task YAML picks the first K of its few-shot split (FirstNSampler); every other task
// uses the default ContextSampler, one Python `random.Random(1234)` (defaults.py DEFAULT_OTHER_SEED,
// set by set_fewshot_seed) whose `sample(pool, K)` is called once per scored document, in order, so each
// document gets its own examples. To give the same examples, and so the same numbers, Python's generator
// is reproduced here: MT19937 seeded by init_by_array, getrandbits, _randbelow and random.sample's two
// strategies (CPython Lib/random.py, Modules/_randommodule.c). The tests compare it with Debian's python3.

const N = 624, M = 397;

/** CPython's `random.Random(seed)` for a non-negative integer seed: the parts `sample` uses. */
export class PyRandom {
  private mt = new Uint32Array(N);
  private i = N;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`a few-shot seed is a non-negative integer, got ${seed}`);
    // random.seed(int): the absolute value as 32-bit words, least significant first, into init_by_array.
    const key: number[] = [];
    for (let s = seed; ; s = Math.floor(s / 2 ** 32)) { key.push(s % 2 ** 32); if (s < 2 ** 32) break; }
    this.initByArray(key);
  }

  private initGenrand(s: number) {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) { const p = mt[i - 1]! ^ (mt[i - 1]! >>> 30); mt[i] = (Math.imul(1812433253, p) + i) >>> 0; }
    this.i = N;
  }

  private initByArray(key: number[]) {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1, j = 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const p = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = ((mt[i]! ^ Math.imul(p, 1664525)) + key[j]! + j) >>> 0;
      i++; j++;
      if (i >= N) { mt[0] = mt[N - 1]!; i = 1; }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const p = mt[i - 1]! ^ (mt[i - 1]! >>> 30);
      mt[i] = ((mt[i]! ^ Math.imul(p, 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) { mt[0] = mt[N - 1]!; i = 1; }
    }
    mt[0] = 0x80000000;
  }

  uint32(): number {
    const mt = this.mt;
    if (this.i >= N) {
      for (let k = 0; k < N; k++) {
        const y = (mt[k]! & 0x80000000) | (mt[(k + 1) % N]! & 0x7fffffff);
        mt[k] = mt[(k + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.i = 0;
    }
    let y = mt[this.i++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** getrandbits(k) for 1 ≤ k ≤ 32. */
  getrandbits(k: number): number { return this.uint32() >>> (32 - k); }

  /** _randbelow_with_getrandbits(n): uniform in [0, n) by rejection. */
  randbelow(n: number): number {
    if (!(n > 0 && n < 2 ** 32)) throw new Error(`randbelow needs 0 < n < 2^32, got ${n}`);
    const k = 32 - Math.clz32(n);
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }

  /** random.sample(population, k): a pool swap for small populations, a set of picks otherwise. */
  sample<T>(population: readonly T[], k: number): T[] {
    const n = population.length;
    if (k < 0 || k > n) throw new Error(`Sample larger than population or is negative (${k} of ${n})`);
    const result: T[] = new Array(k);
    let setsize = 21;
    if (k > 5) setsize += 4 ** Math.ceil(Math.log(k * 3) / Math.log(4));
    if (n <= setsize) {
      const pool = [...population];
      for (let i = 0; i < k; i++) {
        const j = this.randbelow(n - i);
        result[i] = pool[j]!;
        pool[j] = pool[n - i - 1]!;
      }
    } else {
      const selected = new Set<number>();
      for (let i = 0; i < k; i++) {
        let j = this.randbelow(n);
        while (selected.has(j)) j = this.randbelow(n);
        selected.add(j);
        result[i] = population[j]!;
      }
    }
    return result;
  }
}

/** The harness's few-shot seed (lm_eval/defaults.py DEFAULT_OTHER_SEED). */
export const FEWSHOT_SEED = 1234;

/** Examples for each scored document, in scoring order, from a separate few-shot pool: the first K
 *  (first_n) or a fresh seeded sample per document (default). */
export function fewshotDrawer<T>(pool: readonly T[], k: number, sampler: 'first_n' | 'default', seed = FEWSHOT_SEED): () => T[] {
  if (sampler === 'first_n') { const first = pool.slice(0, k); return () => first; }
  const rnd = new PyRandom(seed);
  return () => rnd.sample(pool, k);
}
