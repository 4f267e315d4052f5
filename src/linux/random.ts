/**
 * The kernel's random bytes (getrandom, /dev/urandom, /dev/random, AT_RANDOM)
 * are deterministic (DESIGN.md invariant 4): a splitmix32 stream from a
 * fixed seed, so the same run reads the same "random" bytes.
 */
export class DeterministicRandom {
  private state: number;
  constructor(seed = 0x6b6d656d /* "kmem" */) {
    this.state = seed >>> 0;
  }
  private next32(): number {
    let z = (this.state = (this.state + 0x9e3779b9) >>> 0);
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const w = this.next32();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (w >>> (8 * j)) & 0xff;
    }
    return out;
  }
}
