/**
 * The fuzzer's deterministic PRNG (`--seed N`): SplitMix32-style
 * generator on 32-bit integers. No wall clock, no Math.random: the same
 * seed gives the same mutations, corpus and crashes.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = (seed ^ 0x5bd1e995) | 0;
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  next32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** An integer in [0, n) (n ≥ 1). */
  below(n: number): number {
    return n <= 1 ? 0 : this.next32() % n;
  }

  /** True with probability 1/n. */
  oneIn(n: number): boolean {
    return this.below(n) === 0;
  }
}
