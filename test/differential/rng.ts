/**
 * A tiny seeded PRNG (mulberry32). The differential tests must generate the
 * very same program for the same seed on every machine and every run, so a
 * failure report ("seed 123") is reproducible; Math.random() cannot do that.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    // Scramble the seed a little so that seeds 0, 1, 2, … do not start from
    // nearly identical states.
    this.state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ 0x27d4eb2f) >>> 0;
  }

  /** Uniform unsigned 32-bit integer. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    if (hi < lo) throw new Error(`Rng.int: empty range [${lo}, ${hi}]`);
    const span = hi - lo + 1;
    return lo + Math.floor((this.u32() / 0x1_0000_0000) * span);
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[this.int(0, items.length - 1)]!;
  }

  /** Pick by weight; `weights[i]` belongs to `items[i]`. */
  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    let total = 0;
    for (const w of weights) total += w;
    let x = (this.u32() / 0x1_0000_0000) * total;
    for (let i = 0; i < items.length; i++) {
      x -= weights[i]!;
      if (x < 0) return items[i]!;
    }
    return items[items.length - 1]!;
  }

  /**
   * A 32-bit value biased towards the values where arithmetic goes wrong:
   * zero, ±1, the signed/unsigned boundaries of every operand size, and
   * small numbers, plus plenty of uniformly random ones.
   */
  interesting32(): number {
    const r = this.int(0, 99);
    if (r < 45) return this.u32();
    if (r < 65) return this.int(-16, 16) >>> 0;
    if (r < 90) {
      return this.pick([
        0, 1, 2, 0xffffffff, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
        0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xff80, 0xffffff80, 0xffff8000,
        0x0f, 0x10, 0x99, 0x09, 0x0a, 0x55555555, 0xaaaaaaaa, 0x01010101,
      ]);
    }
    // A random value with a random run of set/clear bits: good for BSF/BSR,
    // shifts and carries.
    const lo = this.int(0, 31);
    const hi = this.int(lo, 31);
    const run = hi - lo === 31 ? 0xffffffff : ((1 << (hi - lo + 1)) - 1) << lo;
    return (this.chance(0.5) ? run : ~run) >>> 0;
  }
}
