/**
 * `kmemsim compare PATH --access-size`: the access-size strategies
 * (`--access-size decode|emulate`) against each other on the same modules,
 * with every page-hiding client a module run can have switched on
 * (kmemcheck and the CPL-1 stack tracker). Per program and strategy:
 *
 *   accesses   instructions (REP iterations) that touched a hidden page and
 *              were handled: single steps + emulated ones
 *   exc/acc    exceptions the guest took per access: #PF + #DB (debugreg:
 *              one #DB per pass)
 *   unknown    accesses whose size the strategy did not know in advance
 *              (a fault the decoder did not predict: handled with CR2 and
 *              the operand size, as Linux's fallback)
 *   same       the findings equal decode's (kind, access, size, address, EIP)
 *   µs/acc     host CPU time per access above the plain run's, median of
 *              `runs` interleaved runs (process.cpuUsage: user + system)
 *
 *   wrong      accesses whose learned address or size differ from the
 *              decoder's prediction (debugreg: what its breakpoints cannot
 *              see — the bytes below CR2, a second operand)
 *
 * decode and emulate take their sizes from the decoder, which the property
 * test (property-tests/access-size.test.ts) checks against the CPU.
 */
import { runChecked, type CheckedRunResult } from './checked-run.js';
import { ACCESS_SIZE_STRATEGIES, accessSizeStrategyOf, type AccessSizeStrategy } from './module-services.js';
import { DebugRegisterProbe } from '../watch/debugreg.js';
import type { CompiledProgram } from './compare.js';

export interface AccessSizeRow {
  program: string;
  strategy: AccessSizeStrategy;
  accesses: number;
  faults: number;
  steps: number;
  emulated: number;
  unknown: number;
  /** Accesses whose learned address or size differ from the decoder's (debugreg). */
  wrong: number;
  exceptionsPerAccess: number;
  sameFindings: boolean;
  findings: number;
  /** Host µs per access above the plain run (median). */
  usPerAccess: number;
  error: string | null;
}

export interface AccessSizeOptions {
  runs?: number;
  maxInstructions?: number;
  progress?(line: string): void;
}

const cpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[(s.length - 1) >> 1]!;
};

const findingKey = (r: CheckedRunResult): string =>
  JSON.stringify(r.findings.map((f) => [f.checker, f.kind, f.access, f.size, f.address, f.eip]));

export function compareAccessSize(programs: readonly (CompiledProgram | { name: string; error: string })[], opts: AccessSizeOptions = {}): AccessSizeRow[] {
  const runs = opts.runs ?? 1;
  const rows: AccessSizeRow[] = [];
  for (const p of programs) {
    if ('error' in p) {
      for (const strategy of ACCESS_SIZE_STRATEGIES) rows.push(emptyRow(p.name, strategy, p.error));
      continue;
    }
    opts.progress?.(`kmemsim: compare --access-size: ${p.name}`);
    const run = (strategy: AccessSizeStrategy | null): { r: CheckedRunResult; us: number } => {
      const t0 = cpuUs();
      const r = runChecked(p.object, {
        name: p.name,
        maxInstructions: opts.maxInstructions,
        ...(strategy === null ? {} : { heap: 'kmemcheck' as const, stack: 'cpl1' as const, services: { accessSize: strategy } }),
      });
      return { r, us: cpuUs() - t0 };
    };
    // Interleaved: plain, decode, emulate, plain, decode, ... (the machine's load drifts).
    const times = new Map<string, number[]>();
    const last = new Map<string, CheckedRunResult>();
    for (let i = 0; i < runs; i++) {
      for (const s of [null, ...ACCESS_SIZE_STRATEGIES]) {
        const { r, us } = run(s);
        const k = s ?? 'plain';
        times.set(k, [...(times.get(k) ?? []), us]);
        // The machine goes back to the RAM pool (CheckedRunResult.release): only the host-side counters are read below.
        r.release();
        last.set(k, r);
      }
    }
    const plainUs = median(times.get('plain')!);
    const decodeKey = findingKey(last.get('decode')!);
    for (const strategy of ACCESS_SIZE_STRATEGIES) {
      const r = last.get(strategy)!;
      const err = r.error !== null ? String(r.error instanceof Error ? r.error.message : r.error) : null;
      const hs = r.checkers.heap && 'hiding' in r.checkers.heap ? r.checkers.heap.hiding.stats : null;
      const steps = hs?.steps ?? 0;
      const emulated = hs?.emulated ?? 0;
      const faults = hs?.faults ?? 0;
      const accesses = steps + emulated;
      const strat = r.run ? accessSizeStrategyOf(r.run.kernel) : null;
      const probe = strat instanceof DebugRegisterProbe ? strat.counters : null;
      rows.push({
        program: p.name,
        strategy,
        accesses,
        faults,
        steps,
        emulated,
        unknown: (hs?.extraFaults ?? 0) + (probe?.unknown ?? 0),
        wrong: probe?.wrong ?? 0,
        exceptionsPerAccess: accesses === 0 ? 0 : (faults + steps) / accesses,
        sameFindings: findingKey(r) === decodeKey,
        findings: r.findings.length,
        usPerAccess: accesses === 0 ? 0 : Math.max(0, median(times.get(strategy)!) - plainUs) / accesses,
        error: err,
      });
    }
  }
  return rows;
}

function emptyRow(program: string, strategy: AccessSizeStrategy, error: string): AccessSizeRow {
  return { program, strategy, accesses: 0, faults: 0, steps: 0, emulated: 0, unknown: 0, wrong: 0, exceptionsPerAccess: 0, sameFindings: false, findings: 0, usPerAccess: 0, error };
}

/** The table: one line per program and strategy, then the totals per strategy. */
export function formatAccessSizeTable(rows: readonly AccessSizeRow[]): string {
  const head = ['program', 'strategy', 'accesses', 'exc/acc', 'wrong', 'unknown', 'findings', 'same', 'µs/acc'];
  const line = (r: AccessSizeRow): string[] => r.error !== null
    ? [r.program, r.strategy, `error: ${r.error}`, '', '', '', '', '', '']
    : [r.program, r.strategy, String(r.accesses), r.exceptionsPerAccess.toFixed(2), String(r.wrong), String(r.unknown), String(r.findings), r.sameFindings ? 'yes' : 'NO', r.usPerAccess.toFixed(1)];
  const body = rows.map(line);
  for (const s of ACCESS_SIZE_STRATEGIES) {
    const rs = rows.filter((r) => r.strategy === s && r.error === null);
    const acc = rs.reduce((n, r) => n + r.accesses, 0);
    const exc = rs.reduce((n, r) => n + r.faults + r.steps, 0);
    const us = rs.reduce((n, r) => n + r.usPerAccess * r.accesses, 0);
    body.push(['(all)', s, String(acc), acc ? (exc / acc).toFixed(2) : '0.00', String(rs.reduce((n, r) => n + r.wrong, 0)), String(rs.reduce((n, r) => n + r.unknown, 0)), String(rs.reduce((n, r) => n + r.findings, 0)), rs.every((r) => r.sameFindings) ? 'yes' : 'NO', acc ? (us / acc).toFixed(1) : '0.0']);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [fmt(head), ...body.map(fmt)].join('\n') + '\n';
}
