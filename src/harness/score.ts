/**
 * Scoring a strategy's findings against the precise oracle (`kmemsim
 * compare`): which findings are true, which are false, which the strategy
 * missed.
 *
 * The oracle is the precise run (the inline heap checker and the precise
 * stack checker together: every access of every instruction checked, exact
 * stack liveness). A finding is matched by what a user would act on:
 *
 *  - kmemcheck (heap) and cpl1 (stack) report the reading instruction, as
 *    the oracle does: a finding is true when the oracle reported the same
 *    region at the same instruction (function+offset);
 *  - ftrace reports where an uninitialized value arrives — the entry of the
 *    function receiving it — not where it was read: a finding is true when
 *    the oracle has a stack finding in the caller that passed the value
 *    (the finding's second stack frame), i.e. the read that loaded it.
 *    A poisoned argument with no such oracle finding is a false positive
 *    (a poison collision, or garbage that travelled through registers).
 *
 * Recall is over the oracle findings of the region the strategy watches
 * (heap for kmemcheck, stack for cpl1 and ftrace): the share of them the
 * strategy found (for ftrace: whose function passed a poisoned argument).
 */
import type { Finding, FindingRegion } from '../shadow/report.js';

export type Strategy = 'plain' | 'kmemcheck' | 'cpl1' | 'ftrace' | 'precise';
export const STRATEGIES: readonly Strategy[] = ['plain', 'kmemcheck', 'cpl1', 'ftrace', 'precise'];

/** The region each strategy checks (null: none, or both for the oracle). */
export function regionOf(s: Strategy): FindingRegion | null {
  return s === 'kmemcheck' ? 'heap' : s === 'cpl1' || s === 'ftrace' ? 'stack' : null;
}

export interface Score {
  /** Oracle findings in the strategy's region (recall's denominator). */
  oracleFindings: number;
  /** Of those, how many the strategy found. */
  detected: number;
  truePositives: number;
  falsePositives: number;
  /** Oracle findings (of the strategy's region) the strategy did not find. */
  falseNegatives: number;
  /** truePositives / oracle findings of the region; null when the oracle found nothing there. */
  recall: number | null;
  /** truePositives / findings; null without findings. */
  precision: number | null;
}

/**
 * The reading instruction, by symbol (function+offset) when known: the
 * ring-1 layout allocates its stack before the module is loaded, so the
 * same instruction can sit at a different address than in the oracle's run.
 */
const key = (f: Finding): string => (f.function !== null ? `${f.region}:${f.function}+${f.offset}` : `${f.region}@${f.eip >>> 0}`);

/** Score `findings` of `strategy` against the oracle's. */
export function score(strategy: Strategy, findings: readonly Finding[], oracle: readonly Finding[]): Score {
  const region = regionOf(strategy);
  if (region === null) {
    return { oracleFindings: 0, detected: 0, truePositives: 0, falsePositives: 0, falseNegatives: 0, recall: null, precision: null };
  }
  const relevant = oracle.filter((f) => f.region === region);
  let tp = 0;
  let fp = 0;
  const found = new Set<Finding>();
  if (strategy === 'ftrace') {
    for (const f of findings) {
      const caller = f.stack[1]?.function ?? null;
      const hits = relevant.filter((o) => caller !== null && o.function === caller);
      if (hits.length > 0) {
        tp++;
        for (const h of hits) found.add(h);
      } else fp++;
    }
  } else {
    const byKey = new Map<string, Finding[]>();
    for (const o of relevant) byKey.set(key(o), [...(byKey.get(key(o)) ?? []), o]);
    for (const f of findings) {
      const hits = byKey.get(key(f));
      if (hits) {
        tp++;
        for (const h of hits) found.add(h);
      } else fp++;
    }
  }
  const fn = relevant.length - found.size;
  return {
    oracleFindings: relevant.length,
    detected: found.size,
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: fn,
    recall: relevant.length ? found.size / relevant.length : null,
    precision: findings.length ? tp / findings.length : null,
  };
}
