/**
 * Test-case minimization keeping a crash's signature (afl-tmin's
 * algorithm, in its normal mode): block deletion with block sizes halving
 * from half the input down to one byte, repeated while it still removes
 * something, then normalization — every byte replaced by '0' where the
 * signature stays. Every candidate runs on a fresh machine, as in fuzzing.
 */
import type { FuzzTarget } from './fuzzer.js';

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
