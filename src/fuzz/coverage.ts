/**
 * AFL's edge coverage: a 64 KiB map of edge hit counts (the CPU's
 * block-entry edge counters, src/cpu/cpu.ts `edgeCounts`), classified into
 * AFL's hit-count buckets (afl-fuzz's count_class_lookup8: 1, 2, 3, 4–7,
 * 8–15, 16–31, 32–127, 128+), and the "virgin" map of buckets never seen
 * (afl-fuzz's has_new_bits()): an input is interesting when its classified
 * trace sets a bucket the virgin map still has.
 */

/** AFL's MAP_SIZE (1 << MAP_SIZE_POW2 = 16). */
export const MAP_SIZE = 1 << 16;

/** afl-fuzz's count_class_lookup8. */
const BUCKET = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  BUCKET[i] = i === 0 ? 0 : i === 1 ? 1 : i === 2 ? 2 : i === 3 ? 4 : i < 8 ? 8 : i < 16 ? 16 : i < 32 ? 32 : i < 128 ? 64 : 128;
}

/** Replace every hit count in `trace` by its bucket bit (in place). */
export function classifyCounts(trace: Uint8Array): void {
  for (let i = 0; i < trace.length; i++) {
    const v = trace[i]!;
    if (v !== 0) trace[i] = BUCKET[v]!;
  }
}

/** What a classified trace adds to the virgin map: 0 nothing, 1 new hit-count buckets only, 2 new edges. */
export type NewBits = 0 | 1 | 2;

/** afl-fuzz's has_new_bits(): compare a classified trace with `virgin` (0xff = never seen) and clear what it sets. */
export function hasNewBits(virgin: Uint8Array, trace: Uint8Array): NewBits {
  let ret: NewBits = 0;
  for (let i = 0; i < trace.length; i++) {
    const t = trace[i]!;
    if (t === 0) continue;
    const v = virgin[i]!;
    if ((t & v) === 0) continue;
    if (v === 0xff) ret = 2;
    else if (ret === 0) ret = 1;
    virgin[i] = v & ~t;
  }
  return ret;
}

/** A virgin map: nothing seen yet. */
export function newVirginMap(): Uint8Array {
  return new Uint8Array(MAP_SIZE).fill(0xff);
}

/** Edges seen at least once (AFL's count_non_255_bytes on the virgin map). */
export function countEdges(virgin: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < virgin.length; i++) if (virgin[i] !== 0xff) n++;
  return n;
}

/** Edges a (raw or classified) trace hit. */
export function countTraceEdges(trace: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < trace.length; i++) if (trace[i] !== 0) n++;
  return n;
}
