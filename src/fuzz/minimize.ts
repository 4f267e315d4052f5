/**
 * Test-case minimization keeping a crash's signature (afl-tmin's
 * algorithm, in its normal mode): block deletion with block sizes halving
 * from half the input down to one byte, repeated while it still removes
 * something, then normalization — every byte replaced by '0' where the
 * signature stays; and corpus minimization (afl-cmin). Every candidate
 * runs from the target's snapshot, as in fuzzing.
 */
import type { FuzzTarget } from './fuzzer.js';
import { MAP_SIZE, classifyCounts, hasNewBits, newVirginMap } from './coverage.js';

export interface Minimized {
  data: Uint8Array;
  signature: string;
  execs: number;
}

/** Minimize `input`, which must crash (or hang) `target`; null when it does not. */
export function minimize(target: FuzzTarget, input: Uint8Array): Minimized | null {
  let execs = 0;
  const signatureOf = (d: Uint8Array): string | null => {
    execs++;
    const e = target.execute(d, null);
    return e.outcome === 'ok' ? null : `${e.outcome}: ${e.signature}`;
  };
  const want = signatureOf(input);
  if (want === null) return null;
  let cur = input;
  let removed = true;
  while (removed && cur.length > 0) {
    removed = false;
    for (let chunk = Math.max(1, 2 ** Math.floor(Math.log2(cur.length)) / 2); chunk >= 1; chunk /= 2) {
      let i = 0;
      while (i < cur.length) {
        const cand = new Uint8Array(cur.length - Math.min(chunk, cur.length - i));
        cand.set(cur.subarray(0, i), 0);
        cand.set(cur.subarray(i + chunk), i);
        if (signatureOf(cand) === want) {
          cur = cand;
          removed = true;
        } else i += chunk;
      }
    }
  }
  // afl-tmin's character normalization: '0' wherever the byte does not matter.
  for (let i = 0; i < cur.length; i++) {
    if (cur[i] === 0x30) continue;
    const cand = cur.slice();
    cand[i] = 0x30;
    if (signatureOf(cand) === want) cur = cand;
  }
  return { data: cur, signature: want, execs };
}

export interface CorpusInput {
  name: string;
  data: Uint8Array;
}

/**
 * Corpus minimization (afl-cmin): the smallest input for every edge tuple
 * (edge and hit-count bucket) any input covers. Inputs are taken smallest
 * first (ties by name); one is kept when it covers a tuple no kept input
 * covers — which makes it the smallest holder of that tuple, as afl-cmin
 * chooses. Crashing and hanging inputs are left out, as afl-cmin does.
 */
export function minimizeCorpus(target: FuzzTarget, inputs: readonly CorpusInput[]): { kept: CorpusInput[]; crashes: number } {
  const order = [...inputs].sort((a, b) => a.data.length - b.data.length || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const virgin = newVirginMap();
  const trace = new Uint8Array(MAP_SIZE);
  const kept: CorpusInput[] = [];
  let crashes = 0;
  for (const input of order) {
    trace.fill(0);
    const e = target.execute(input.data, trace);
    if (e.outcome !== 'ok') {
      crashes++;
      continue;
    }
    classifyCounts(trace);
    if (hasNewBits(virgin, trace) !== 0) kept.push(input);
  }
  return { kept, crashes };
}
