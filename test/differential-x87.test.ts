/**
 * Differential test of the x87 FPU: kmemsim against the host CPU's x87.
 *
 * Random x87 programs (test/differential/x87-generator.ts) run natively and
 * in kmemsim (interpreted, and with every block compiled); their dumps (the
 * FNSAVE image — control, status and tag words, last-instruction pointers
 * and opcode, the eight registers — and the scratch buffer the stores,
 * FNSTSW, FCOMI's EFLAGS and FNSTENV wrote) must be identical byte for
 * byte, apart from the FCS/FDS selectors (see the generator's header).
 *
 *   KMEMSIM_X87_PROGRAMS=2000   number of programs (default 150, 60 steps each)
 *   KMEMSIM_X87_FIRST_SEED=N    first seed (default 0)
 *   KMEMSIM_X87_SEED=17,42      only these seeds
 *
 * The transcendental instructions (FSIN, FCOS, FSINCOS, FPTAN, FPATAN,
 * F2XM1, FYL2X, FYL2XP1) run in programs of their own, each result dumped
 * at once, and are compared bit for bit except the result registers within
 * one unit in the last place and C1 (KMEMSIM_X87_TRANS_PROGRAMS, default 25
 * programs of 40 cases).
 *
 * Skipped, with a warning naming the reason, where the host cannot
 * assemble or run static i386 executables.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runUserProgram } from '../src/kernel/process.js';
import { assembleAndLink, assembleAndLinkAsync } from './differential/generator.js';
import { canRunNativeI386, runNative, runNativeAsync } from './differential/native.js';
import type { NativeResult } from './differential/native.js';
import {
  RECORD_SIZE, TRANSCENDENTAL, X87_GROUPS, compareTranscendental, describeRecordDiff, generateX87Program, generateX87TranscendentalProgram, maskRecord,
} from './differential/x87-generator.js';
import type { X87Program } from './differential/x87-generator.js';

const N = Number(process.env.KMEMSIM_X87_PROGRAMS ?? 150);
const FIRST = Number(process.env.KMEMSIM_X87_FIRST_SEED ?? 0);
const ONLY = process.env.KMEMSIM_X87_SEED;
const SEEDS = ONLY ? ONLY.split(',').map((s) => Number(s.trim())) : Array.from({ length: N }, (_, i) => FIRST + i);
const probe = canRunNativeI386();
if (!probe.ok) console.warn(`[differential-x87] kmemsim-vs-host x87 tests skipped: ${probe.why}`);
const CHUNK = 50;
const TRANS_N = Number(process.env.KMEMSIM_X87_TRANS_PROGRAMS ?? 25);

interface Case {
  prog: X87Program;
  exe: string;
  elf: Uint8Array;
  native: NativeResult;
}

function runSim(elf: Uint8Array, jitThreshold = Infinity): { stdout: Uint8Array; stop: string } {
  try {
    const r = runUserProgram(elf, { argv: ['prog'], maxInstructions: 5_000_000, jitThreshold });
    const s = r.stop;
    return { stdout: r.stdout, stop: s.kind === 'exited' ? `exited ${s.status}` : `${s.kind}: ${'message' in s ? s.message : ''}` };
  } catch (err) {
    return { stdout: new Uint8Array(0), stop: `runUserProgram threw: ${(err as Error).stack ?? err}` };
  }
}

/** The first differing record, described; null when the outputs agree. */
function diff(prog: X87Program, host: Uint8Array, sim: { stdout: Uint8Array; stop: string }): string | null {
  const n = prog.dumps.length;
  for (let d = 0; d < n; d++) {
    const a = host.subarray(d * RECORD_SIZE, (d + 1) * RECORD_SIZE);
    const b = sim.stdout.subarray(d * RECORD_SIZE, (d + 1) * RECORD_SIZE);
    if (b.length < RECORD_SIZE) return `seed ${prog.seed}: kmemsim stopped before dump ${d} (after step ${prog.dumps[d]}): ${sim.stop}`;
    const ma = maskRecord(a, prog.fresh[d]!), mb = maskRecord(b, prog.fresh[d]!);
    if (!Buffer.from(ma).equals(Buffer.from(mb))) {
      const step = prog.dumps[d]!;
      const from = d === 0 ? 0 : prog.dumps[d - 1]! + 1;
      const steps = prog.steps.slice(from, step + 1).map((s, i) => `  step ${from + i} (${s.group}): ${s.asm.replace(/\n/g, '; ')}`).join('\n');
      return `seed ${prog.seed}: dump after step ${step} differs\n${describeRecordDiff(ma, mb)}\nsteps since the previous dump:\n${steps}`;
    }
  }
  if (sim.stdout.length !== host.length) return `seed ${prog.seed}: output length host ${host.length}, kmemsim ${sim.stdout.length} (${sim.stop})`;
  return null;
}

describe('x87 differential generator', () => {
  it('covers every template group within the first 50 programs and is deterministic', () => {
    const seen = new Set<string>();
    for (let s = 0; s < 50; s++) for (const st of generateX87Program(s).steps) seen.add(st.group);
    expect(X87_GROUPS.filter((g) => !seen.has(g))).toEqual([]);
    expect(generateX87Program(7).source).toBe(generateX87Program(7).source);
    expect(generateX87Program(7, { dumpProbability: 1 }).steps).toEqual(generateX87Program(7).steps);
  });
});

describe.skipIf(!probe.ok)('differential: kmemsim x87 vs host x87', () => {
  let dir = '';
  const cases = new Map<number, Case>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kmemsim-x87-'));
    const progs = SEEDS.map((s) => generateX87Program(s));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < progs.length) {
        const prog = progs[next++]!;
        const exe = await assembleAndLinkAsync(prog.source, dir, `x${prog.seed}`);
        cases.set(prog.seed, { prog, exe, elf: new Uint8Array(readFileSync(exe)), native: await runNativeAsync(exe) });
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }, 600_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('native runs complete with one record per dump', () => {
    const bad = [...cases.values()]
      .filter((c) => c.native.status !== 0 || c.native.stdout.length !== c.prog.dumps.length * RECORD_SIZE)
      .map((c) => `seed ${c.prog.seed}: status ${c.native.status} signal ${c.native.signal} (${c.native.stdout.length} bytes)`);
    expect(bad, bad.join('\n')).toEqual([]);
  });

  for (let i = 0; i < SEEDS.length; i += CHUNK) {
    const chunk = SEEDS.slice(i, i + CHUNK);
    it(`kmemsim matches the host (seeds ${chunk[0]}..${chunk[chunk.length - 1]}), interpreted and compiled`, async () => {
      const failures: string[] = [];
      for (const seed of chunk) {
        await new Promise((resolve) => setImmediate(resolve));
        const c = cases.get(seed)!;
        if (c.native.status !== 0) continue;
        let msg = diff(c.prog, c.native.stdout, runSim(c.elf));
        if (msg !== null) {
          // The host's own x87 state is not always reproducible: its FIP/FCS/FOP can come back zero after the
          // host kernel switched the process out (seen once under load: FIP 0 on the host only). A difference
          // the host does not repeat is the host's; run it once more before blaming kmemsim.
          const again = runNative(c.exe).stdout;
          if (diff(c.prog, again, runSim(c.elf)) === null) msg = null;
        }
        if (msg === null) {
          const compiled = diff(c.prog, c.native.stdout, runSim(c.elf, 0));
          if (compiled !== null) msg = `block compiler only:\n${compiled}`;
        }
        if (msg !== null && failures.length < 3 && c.prog.dumps.length < c.prog.steps.length) {
          // Name the step: the same program with a dump after every step.
          const dense = generateX87Program(seed, { dumpProbability: 1 });
          const exe = assembleAndLink(dense.source, dir, `dense${seed}`);
          const d = diff(dense, runNative(exe).stdout, runSim(new Uint8Array(readFileSync(exe))));
          if (d !== null) msg = d;
        }
        if (msg !== null) failures.push(msg);
      }
      expect(failures, `${failures.length} of ${chunk.length} programs differ\n\n${failures.slice(0, 3).join('\n\n')}`).toEqual([]);
    }, 600_000);
  }

  it(`transcendental instructions within 1 ulp of the host (${TRANS_N} programs of 40 cases)`, async () => {
    const failures: string[] = [];
    const stats = { ulps: 0 };
    const byOp = new Map<string, number>();
    let cases = 0;
    for (let seed = 0; seed < TRANS_N; seed++) {
      await new Promise((resolve) => setImmediate(resolve));
      const prog = generateX87TranscendentalProgram(FIRST + seed);
      const exe = await assembleAndLinkAsync(prog.source, dir, `t${prog.seed}`);
      const host = (await runNativeAsync(exe)).stdout;
      const sim = runSim(new Uint8Array(readFileSync(exe)));
      for (let d = 0; d < prog.dumps.length; d++) {
        cases++;
        const a = maskRecord(host.subarray(d * RECORD_SIZE, (d + 1) * RECORD_SIZE), prog.fresh[d]!);
        const b = maskRecord(sim.stdout.subarray(d * RECORD_SIZE, (d + 1) * RECORD_SIZE), prog.fresh[d]!);
        const msg = b.length < RECORD_SIZE ? `kmemsim stopped: ${sim.stop}` : compareTranscendental(a, b, stats);
        if (msg !== null) byOp.set(prog.steps[d]!.group, (byOp.get(prog.steps[d]!.group) ?? 0) + 1);
        if (msg !== null) failures.push(`seed ${prog.seed} group ${d}: ${prog.steps[d]!.asm.replace(/\n/g, '; ')}\n${msg}`);
      }
    }
    console.log(`x87 transcendentals: ${cases} cases of ${TRANSCENDENTAL.join('/')}, ${stats.ulps} results 1 ulp from the host, ${failures.length} differing otherwise ${JSON.stringify([...byOp])}`);
    expect(failures.slice(0, 5), failures.slice(0, 5).join('\n\n')).toEqual([]);
  }, 600_000);
});
