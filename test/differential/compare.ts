/**
 * Comparing a program's native output with kmemsim's and explaining the
 * first difference in terms a CPU implementer can act on: which step (with
 * its source), which registers, which EFLAGS bits, which buffer bytes.
 */
import { BUF_SIZE, ESP0, LOW_BUF_ADDR, LOW_BUF_SIZE, REG_NAMES, STACK_SIZE, flagNames } from './generator.js';
import type { GeneratedProgram, Step } from './generator.js';
import { readSymbols, symbolize } from './elfsyms.js';

export interface SimOutcome {
  stdout: Uint8Array;
  exitCode: number;
  /** One-line description of why kmemsim stopped ("exited 0", "fault #GP at 0x…: …"). */
  stop: string;
  /** EIP of a fault/unsupported stop, when known. */
  eip?: number;
}

export interface NativeOutcome {
  stdout: Uint8Array;
  status: number | null;
}

const hex8 = (v: number): string => '0x' + (v >>> 0).toString(16).padStart(8, '0');
const hex2 = (v: number): string => '0x' + v.toString(16).padStart(2, '0');

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** The step's source as indented lines, labelled with the step number. */
export function formatSteps(steps: Step[]): string {
  return steps.map((s) => `  [${s.index}] ${s.group}\n${s.lines.map((l) => '      ' + l.replace(/^\t/, '')).join('\n')}`).join('\n');
}

/** The instruction a step is about (its last real instruction line) for one-line summaries. */
export function mainInstruction(s: Step): string {
  const ins = s.lines.filter((l) => l.startsWith('\t')).map((l) => l.trim());
  return ins[ins.length - 1] ?? '(none)';
}

function diffBytes(what: string, a: Uint8Array, b: Uint8Array, name: (i: number) => string, limit = 8): string[] {
  const out: string[] = [];
  let count = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      if (count < limit) out.push(`${name(i)}: native ${hex2(a[i]!)} kmemsim ${hex2(b[i]!)}`);
      count++;
    }
  }
  if (count > limit) out.push(`… and ${count - limit} more differing ${what} bytes`);
  return out;
}

/** Human-readable differences between two dump records (empty if equal). */
export function describeRecordDiff(prog: GeneratedProgram, nat: Uint8Array, sim: Uint8Array): { summary: string; lines: string[] } {
  const L = prog.layout;
  const lines: string[] = [];
  const summary: string[] = [];
  for (let r = 0; r < 8; r++) {
    const a = u32(nat, L.regsOffset + 4 * r), b = u32(sim, L.regsOffset + 4 * r);
    if (a !== b) {
      const x = `${REG_NAMES[r]} native ${hex8(a)} kmemsim ${hex8(b)}`;
      lines.push(r === 4 ? `${x} (kmemsim ${b - a >= 0 ? '+' : ''}${(b - a) | 0} bytes)` : x);
      summary.push(x);
    }
  }
  const fa = u32(nat, L.eflagsOffset), fb = u32(sim, L.eflagsOffset);
  const mask = u32(nat, L.maskOffset);
  if (fa !== fb) {
    const x = `EFLAGS native ${hex8(fa)} kmemsim ${hex8(fb)} (${flagNames(fa ^ fb)})`;
    lines.push(`${x}   [compared bits ${hex8(mask)}: ${flagNames(mask)}]`);
    summary.push(x);
  }
  if (u32(nat, L.maskOffset) !== u32(sim, L.maskOffset) || u32(nat, 0) !== u32(sim, 0)) {
    lines.push(`dump header differs: native id ${u32(nat, 0)} mask ${hex8(mask)}, kmemsim id ${u32(sim, 0)} mask ${hex8(u32(sim, L.maskOffset))} (the dump code itself misbehaved)`);
    summary.push('dump header');
  }
  const bufD = diffBytes('buf', nat.subarray(L.bufOffset, L.bufOffset + BUF_SIZE), sim.subarray(L.bufOffset, L.bufOffset + BUF_SIZE), (i) => `buf[${i}] (EBP${i - 128 >= 0 ? '+' : ''}${i - 128})`);
  if (bufD.length) summary.push('buf bytes');
  lines.push(...bufD);
  const stD = diffBytes('stack', nat.subarray(L.stackOffset, L.stackOffset + STACK_SIZE), sim.subarray(L.stackOffset, L.stackOffset + STACK_SIZE), (i) => `stack[initial ESP${i - ESP0 >= 0 ? '+' : ''}${i - ESP0}]`);
  if (stD.length) summary.push('stack bytes');
  lines.push(...stD);
  if (L.lowOffset !== null) {
    const lo = L.lowOffset;
    const lD = diffBytes('lowbuf', nat.subarray(lo, lo + LOW_BUF_SIZE), sim.subarray(lo, lo + LOW_BUF_SIZE), (i) => `lowbuf[${i}] (0x${(LOW_BUF_ADDR + i).toString(16)})`);
    if (lD.length) summary.push('lowbuf bytes');
    lines.push(...lD);
  }
  return { summary: summary.join(', '), lines };
}

/** Registers and EFLAGS of one dump record, on one line. */
export function describeState(prog: GeneratedProgram, rec: Uint8Array): string {
  const L = prog.layout;
  const regs = REG_NAMES.map((n, r) => `${n}=${hex8(u32(rec, L.regsOffset + 4 * r))}`).join(' ');
  const mask = u32(rec, L.maskOffset);
  return `${regs} EFLAGS=${hex8(u32(rec, L.eflagsOffset))} (status flags compared: ${flagNames(mask & 0x8d5) || 'none'})`;
}

function stepsBetween(prog: GeneratedProgram, afterDump: number, uptoStep: number): Step[] {
  const from = afterDump < 0 ? 0 : prog.dumps[afterDump]!.afterStep + 1;
  return prog.steps.slice(from, uptoStep + 1);
}

/**
 * null if kmemsim's output and exit status equal the native ones; otherwise
 * an actionable description of the first difference.
 */
export function diffOutputs(prog: GeneratedProgram, elf: Uint8Array, nat: NativeOutcome, sim: SimOutcome): string | null {
  const R = prog.layout.recordSize;
  const a = nat.stdout, b = sim.stdout;
  const nA = Math.floor(a.length / R);
  const head = `seed ${prog.seed}${prog.addr16 ? ' (addr16)' : ''}`;
  for (let k = 0; k < nA; k++) {
    const ra = a.subarray(k * R, (k + 1) * R);
    if (b.length < (k + 1) * R) {
      // kmemsim stopped (or wrote less) before this dump.
      const dump = prog.dumps[k]!;
      const steps = stepsBetween(prog, k - 1, dump.afterStep);
      let where = '';
      if (sim.eip !== undefined) {
        const syms = readSymbols(elf);
        where = ` at ${hex8(sim.eip)} = ${symbolize(syms, sim.eip, (n) => /^S\d+$/.test(n) || n === 'dump' || n === 'done' || n === '_start')}`;
      }
      return [
        `${head}: kmemsim's output ends before dump #${k} (after step ${dump.afterStep}); kmemsim stopped: ${sim.stop}${where}`,
        `native wrote ${nA} dumps, kmemsim ${b.length} bytes (${Math.floor(b.length / R)} complete dumps)`,
        `steps since the last matching dump:`,
        formatSteps(steps),
      ].join('\n');
    }
    const rb = b.subarray(k * R, (k + 1) * R);
    if (!Buffer.from(ra).equals(Buffer.from(rb))) {
      const dump = prog.dumps[k]!;
      const steps = stepsBetween(prog, k - 1, dump.afterStep);
      const last = prog.steps[dump.afterStep]!;
      const d = describeRecordDiff(prog, ra, rb);
      const one = steps.length === 1 ? 'after' : `somewhere in steps ${steps[0]!.index}..${dump.afterStep}, dumped after`;
      return [
        `${head}: ${one} step ${dump.afterStep} \`${mainInstruction(last)}\`: ${d.summary}`,
        ...d.lines.map((l) => '  ' + l),
        ...(k > 0 ? [`state at the previous dump: ${describeState(prog, a.subarray((k - 1) * R, k * R))}`] : []),
        `steps since the previous dump (${k === 0 ? 'program start' : `dump after step ${prog.dumps[k - 1]!.afterStep}`}, which matched):`,
        formatSteps(steps),
      ].join('\n');
    }
  }
  if (b.length !== a.length) {
    return `${head}: kmemsim wrote ${b.length} bytes, native ${a.length} (all ${nA} native dumps matched); kmemsim stopped: ${sim.stop}`;
  }
  if ((nat.status ?? -1) !== sim.exitCode) {
    return `${head}: output matches but exit status differs: native ${nat.status}, kmemsim ${sim.exitCode} (${sim.stop})`;
  }
  return null;
}
