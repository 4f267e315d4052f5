/**
 * The embedding API (src/api): a program run through Machine, resumable
 * budgets, registers and memory, each hook kind, hooks stopping the
 * machine, and checkers attached to a module through the options.
 *
 * The guests are the example programs (build/examples, scripts/build-guests.mjs)
 * and the kmemcheck example modules (compiled with gcc -m32): without them
 * the tests skip with a message.
 */
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Machine, KmemsimError } from '../../src/api/index.js';
import { HookSet } from '../../src/api/hooks.js';
import { parseElf32, findSymbol } from '../../src/elf/elf32.js';
import { runUserProgram } from '../../src/kernel/process.js';
import type { JitInstructionSite, JitAccess } from '../../src/cpu/jit.js';
import type { Instr } from '../../src/cpu/instr.js';
import { gccM32Missing } from '../linux/harness.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PRIMES = join(ROOT, 'build/examples/primes-O2');
const HELLO = join(ROOT, 'build/examples/hello-O2');
const haveGuests = existsSync(PRIMES) && existsSync(HELLO);
if (!haveGuests) console.warn('skipping the embedding API tests on programs: build/examples is not built (npm run build with gcc)');
const haveGcc = spawnSync('gcc', ['-m32', '-E', '-x', 'c', '/dev/null'], { encoding: 'utf8' }).status === 0;
if (!haveGcc) console.warn('skipping the embedding API tests on modules: gcc -m32 is not available');

const ARGS = ['1000'];

function symbol(file: string, name: string): { start: number; end: number } {
  const s = findSymbol(parseElf32(new Uint8Array(readFileSync(file))), name);
  if (!s) throw new Error(`no symbol ${name} in ${file}`);
  return { start: s.value >>> 0, end: (s.value + Math.max(1, s.size)) >>> 0 };
}

const text = (parts: Uint8Array[]): string => Buffer.concat(parts).toString('latin1');

/** Per-address counts of a code hook over `range` in a whole run of primes. */
function codeCounts(range: { start: number; end: number }, jitThreshold?: number): Map<number, number> {
  const m = Machine.load(PRIMES, { args: ARGS, jitThreshold });
  const counts = new Map<number, number>();
  // (No expect() in hooks called a million times: vitest's expect costs microseconds.)
  m.onCode(range, (addr, size) => counts.set(addr, (counts.get(addr) ?? 0) + size - size + 1));
  expect(m.run().reason).toBe('exit');
  return counts;
}

describe.skipIf(!haveGuests)('Machine: programs', () => {
  it('runs a program as kmemsim run does: output, exit status, instruction count', () => {
    const plain = runUserProgram(new Uint8Array(readFileSync(HELLO)), { argv: [HELLO, 'world'], env: [] });
    const m = Machine.load(HELLO, { args: ['world'] });
    const r = m.run();
    expect(r.reason).toBe('exit');
    expect(r.exitCode).toBe(plain.exitCode);
    expect(r.instructions).toBe(plain.instructions);
    expect(text(m.stdout)).toBe(Buffer.from(plain.stdout).toString('latin1'));
    // Once exited, run() says so again and runs nothing.
    expect(m.run()).toMatchObject({ reason: 'exit', instructions: 0, resumable: false });
  });

  it('release(): the next machine reuses the RAM and runs exactly as on fresh memory; the released one refuses to run or be read', () => {
    const fresh = Machine.load(PRIMES, { args: ARGS });
    const r1 = fresh.run();
    const out1 = text(fresh.stdout);
    const buffer = fresh.kernel.cpu.mem8.buffer;
    fresh.release();
    fresh.release();
    expect(text(fresh.stdout)).toBe(out1); // what it collected stays
    expect(() => fresh.run()).toThrow(KmemsimError);
    expect(() => fresh.reg('eax')).toThrow(/released/);
    expect(() => fresh.read(0x08048000, 4)).toThrow(/released/);
    const next = Machine.load(PRIMES, { args: ARGS });
    expect(next.kernel.cpu.mem8.buffer).toBe(buffer);
    const r2 = next.run();
    expect({ ...r2, stop: null }).toEqual({ ...r1, stop: null });
    expect(text(next.stdout)).toBe(out1);
    next.release();
  });

  it('resumes after a budget stop deterministically: any split gives the same registers, output and count', () => {
    const whole = Machine.load(PRIMES, { args: ARGS });
    expect(whole.run({ instructions: 200_000 })).toMatchObject({ reason: 'budget', exitCode: 124, instructions: 200_000, resumable: true });
    const split = Machine.load(PRIMES, { args: ARGS });
    for (let i = 0; i < 20; i++) expect(split.run({ instructions: 10_000 }).instructions).toBe(10_000);
    for (const r of ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'eip', 'eflags'] as const) expect(split.reg(r)).toBe(whole.reg(r));
    expect(split.instructions).toBe(whole.instructions);
    const a = whole.run(), b = split.run();
    expect(b.reason).toBe('exit');
    expect(b.exitCode).toBe(a.exitCode);
    expect(split.instructions).toBe(whole.instructions);
    expect(text(split.stdout)).toBe(text(whole.stdout));
  });

  it('reads and writes registers and memory; refuses what it cannot do with a clear error', () => {
    const m = Machine.load(HELLO);
    m.run({ instructions: 50 });
    const esp = m.reg('esp');
    m.write32(esp - 64, 0xdeadbeef);
    expect(m.read32(esp - 64)).toBe(0xdeadbeef);
    expect(m.read(esp - 64, 4)).toEqual(new Uint8Array([0xef, 0xbe, 0xad, 0xde]));
    expect(m.reg('cs') & 3).toBe(3); // a user program runs at CPL 3
    m.setReg('edi', 0x12345678);
    expect(m.reg('edi')).toBe(0x12345678);
    expect(() => m.read(0, 4)).toThrow(KmemsimError);
    expect(() => m.reg('xyz' as 'eax')).toThrow(/unknown register "xyz"/);
    expect(() => m.setReg('cs', 0)).toThrow(/read-only/);
    expect(() => Machine.load(join(ROOT, 'no-such-file'))).toThrow(expect.objectContaining({ status: 127 }));
    expect(() => Machine.load(join(ROOT, 'README.md'))).toThrow(expect.objectContaining({ status: 126 }));
  });

  it('onCode: called for exactly the instructions in its range, compiled or interpreted', () => {
    const range = symbol(PRIMES, '__umoddi3');
    const compiled = codeCounts(range, 0);
    const interpreted = codeCounts(range, Infinity);
    const mixed = codeCounts(range);
    expect(compiled.size).toBeGreaterThan(3);
    expect(compiled).toEqual(interpreted);
    expect(mixed).toEqual(interpreted);
    for (const a of compiled.keys()) expect(a >= range.start && a < range.end).toBe(true);
    // The function's entry runs once per call: as often as its RET retires (the last hooked address is not the RET,
    // but every path enters at the start).
    expect(compiled.get(range.start)).toBeGreaterThan(100);
  });

  it('onCode: a hook outside a block adds no code to it (blocks outside the ranges compile as without hooks)', () => {
    const hooks = new HookSet();
    hooks.addCode({ start: 0x1000, end: 0x1010 }, () => {});
    const site = (addr: number): JitInstructionSite => ({
      ins: { addr, len: 2 } as unknown as Instr, index: 1, bind: () => 'x', reg: (n) => `r[${n}]`, sync: '/*sync*/', flags: '',
    });
    expect(hooks.instruction(site(0x2000))).toBe('');
    expect(hooks.instruction(site(0x0fff))).toBe(''); // an instruction is in the range when its first byte is (Unicorn's rule)
    expect(hooks.instruction(site(0x1010))).toBe('');
    expect(hooks.instruction(site(0x100f))).toContain('codeAt');
    expect(hooks.instruction(site(0x1000))).toContain('codeAt');
    const access = { ...site(0x2000), size: 4, lin: 'l', rmw: false, stack: false } as JitAccess;
    expect(hooks.read(access)).toBe('');
    expect(hooks.write(access)).toBe('');
  });

  for (const [mode, threshold] of [['compiled', 0], ['interpreted', Infinity], ['mixed', undefined]] as const) {
    it(`onMemory (${mode}): every read and write of a range, with values that replay to the final memory`, () => {
      const sieve = symbol(PRIMES, 'sieve');
      const exit = symbol(PRIMES, 'exit');
      const m = Machine.load(PRIMES, { args: ARGS, jitThreshold: threshold });
      const shadow = new Uint8Array(sieve.end - sieve.start); // .bss: zeros
      let reads = 0, writes = 0, mismatches = 0, outside = 0, wrongType = 0, lowEip = 0;
      const at = (a: number, n: number): number => {
        let v = 0;
        for (let i = 0; i < n; i++) v |= shadow[a - sieve.start + i]! << (8 * i);
        return v >>> 0;
      };
      m.onMemory('write', sieve, (w) => {
        if (w.type !== 'write') wrongType++;
        if (!(w.address >= sieve.start && w.address + w.size <= sieve.end)) outside++;
        for (let i = 0; i < w.size; i++) shadow[w.address - sieve.start + i] = (w.value >>> (8 * i)) & 0xff;
        writes++;
      });
      m.onMemory('read', sieve, (r) => {
        if (r.value !== at(r.address, r.size)) mismatches++;
        if (r.type !== 'read') wrongType++;
        if (r.eip < 0x08048000) lowEip++;
        reads++;
      });
      m.onCode({ start: exit.start, end: exit.start + 1 }, () => m.stop());
      const r = m.run();
      expect(r.reason).toBe('hook');
      expect(writes).toBeGreaterThan(100);
      expect(reads).toBeGreaterThan(1000);
      expect({ mismatches, outside, wrongType, lowEip }).toEqual({ mismatches: 0, outside: 0, wrongType: 0, lowEip: 0 });
      expect(m.read(sieve.start, shadow.length)).toEqual(shadow);
      expect(m.run().reason).toBe('exit');
    });
  }

  it('onInterrupt: sees the int $0x80 system calls, with the frame\'s EIP after the INT', () => {
    const m = Machine.load(HELLO);
    const events: { vector: number; errorCode: number | null; cr2: number; software: boolean; eip: number }[] = [];
    let intAt = 0;
    const h = m.onInterrupt((e) => {
      events.push(e);
      // The frame's EIP of INT n is the next instruction: CD 80 right before it.
      if (e.vector === 0x80 && m.read(e.eip - 2, 2).join() === '205,128') intAt++;
    });
    expect(m.run().reason).toBe('exit');
    const syscalls = events.filter((e) => e.vector === 0x80);
    expect(syscalls.length).toBeGreaterThanOrEqual(3); // write, write, exit_group at least
    expect(intAt).toBe(syscalls.length);
    expect(syscalls.every((e) => e.software && e.errorCode === null)).toBe(true);
    h.remove();
  });

  it('a hook stops the machine exactly, and run() goes on from there with the same result as an unhooked run', () => {
    const main = symbol(PRIMES, 'main');
    const plain = Machine.load(PRIMES, { args: ARGS });
    const full = plain.run();
    const m = Machine.load(PRIMES, { args: ARGS });
    let calls = 0;
    const h = m.onCode({ start: main.start, end: main.start + 1 }, () => {
      calls++;
      m.stop();
    });
    const first = m.run();
    expect(first).toMatchObject({ reason: 'hook', resumable: true });
    expect(m.reg('eip')).toBe(main.start); // before the hooked instruction
    // Resuming runs the instruction the hook stopped before, without stopping there again.
    const second = m.run();
    expect(calls).toBe(1);
    expect(second.reason).toBe('exit');
    expect(first.instructions + second.instructions).toBe(full.instructions);
    expect(text(m.stdout)).toBe(text(plain.stdout));
    h.remove();

    // A write hook's stop: after the writing instruction.
    const sieve = symbol(PRIMES, 'sieve');
    const w = Machine.load(PRIMES, { args: ARGS, jitThreshold: 0 });
    let eip = 0;
    w.onMemory('write', sieve, (a) => {
      if (eip === 0) {
        eip = a.eip;
        w.stop();
      }
    });
    expect(w.run().reason).toBe('hook');
    expect(w.reg('eip')).not.toBe(eip);
    const after = w.reg('eip');
    expect(after - eip).toBeGreaterThan(0);
    expect(after - eip).toBeLessThan(16);
    expect(w.run().reason).toBe('exit');
    expect(text(w.stdout)).toBe(text(plain.stdout));
    // An interrupt hook's stop: after the delivery, at the handler.
    const i = Machine.load(HELLO);
    i.onInterrupt((e) => {
      if (e.vector === 0x80) i.stop();
    });
    expect(i.run().reason).toBe('hook');
    expect(i.reg('cs') & 3).toBe(0); // in the kernel's handler
  });

  it('removing a hook stops its calls and takes its code out of the blocks', () => {
    const range = symbol(PRIMES, '__umoddi3');
    const m = Machine.load(PRIMES, { args: ARGS, jitThreshold: 0 });
    let n = 0;
    const h = m.onCode(range, () => n++);
    m.run({ instructions: 300_000 });
    const seen = n;
    expect(seen).toBeGreaterThan(0);
    h.remove();
    expect(m.run().reason).toBe('exit');
    expect(n).toBe(seen);
  });
});

describe.skipIf(!haveGcc)('Machine: modules and checkers', () => {
  const UNINIT = join(ROOT, 'examples/kmemcheck/uninit-kmalloc.c');

  for (const heap of ['kmemcheck', 'inline'] as const) {
    it(`finds the planted uninitialized read with heap: '${heap}', as objects in the report schema`, () => {
      const m = Machine.load(UNINIT, { heap });
      const r = m.run();
      expect(r.reason).toBe('exit');
      expect(m.findings.length).toBe(1);
      expect(m.findings[0]).toMatchObject({ kind: 'uninitialized', region: 'heap', checker: heap, access: 'read', size: 4, function: 'read_config' });
      expect(m.reports[0]).toMatch(/uninitialized/);
      expect(m.console).toMatch(/uninit-kmalloc: level/);
    });
  }

  it('onInterrupt: sees kmemcheck\'s #PF on the hidden page (error code, CR2 = the address found) and its #DB', () => {
    const m = Machine.load(UNINIT, { heap: 'kmemcheck' });
    const pf: { errorCode: number | null; cr2: number }[] = [];
    let db = 0;
    m.onInterrupt((e) => {
      if (e.vector === 14) pf.push(e);
      if (e.vector === 1) db++;
    });
    expect(m.run().reason).toBe('exit');
    expect(m.findings.length).toBe(1);
    expect(pf.some((e) => e.cr2 === m.findings[0]!.address && e.errorCode !== null && (e.errorCode & 1) === 0)).toBe(true);
    expect(db).toBe(pf.length); // one single step after each fault on a hidden page
  });

  it('hooks work in module code alongside a precise checker (the two instrumentations composed)', () => {
    const m = Machine.load(UNINIT, { heap: 'inline', jitThreshold: 0 });
    const seen = new Set<number>();
    m.onCode(undefined, (a) => seen.add(a));
    let reads = 0;
    m.onMemory('read', undefined, () => reads++);
    expect(m.run().reason).toBe('exit');
    expect(seen.size).toBeGreaterThan(10);
    expect(reads).toBeGreaterThan(0);
    expect(m.findings.map((f) => f.function)).toEqual(['read_config']);
  });

  it('stopOnFinding: the run stops at the first finding (reason "finding"), before the module goes on', () => {
    const m = Machine.load(UNINIT, { heap: 'kmemcheck', stopOnFinding: true });
    const r = m.run();
    expect(r).toMatchObject({ reason: 'finding', exitCode: 99, resumable: false });
    expect(m.findings.map((f) => f.function)).toEqual(['read_config']);
    expect(m.console).not.toMatch(/uninit-kmalloc: level/); // printed after read_config() returns
    const whole = Machine.load(UNINIT, { heap: 'kmemcheck' });
    expect(whole.run()).toMatchObject({ reason: 'exit', exitCode: 99 });
    expect(r.instructions).toBeLessThan(whole.instructions);
  });

  it('hooks on a module\'s symbols by name, resolved when it is loaded; an unknown one is a clear error', () => {
    const m = Machine.load(UNINIT);
    const calls: number[] = [];
    m.onCode('read_config', (a) => calls.push(a));
    const reads: number[] = [];
    m.onMemory('read', 'cfg', (a) => reads.push(a.address));
    expect(m.symbol('read_config')).toBeNull(); // not loaded yet
    expect(m.run().reason).toBe('exit');
    const fn = m.symbol('read_config')!;
    expect(calls.length).toBeGreaterThan(1);
    expect(calls[0]).toBe(fn.start);
    expect(calls.every((a) => a >= fn.start && a < fn.end)).toBe(true);
    const cfg = m.symbol('cfg')!;
    expect(cfg.end - cfg.start).toBe(4);
    expect(reads.length).toBeGreaterThan(0); // init_module and cleanup_module read the pointer
    expect(reads.every((a) => a === cfg.start)).toBe(true);
    const bad = Machine.load(UNINIT);
    bad.onCode('no_such_function', () => {});
    expect(() => bad.run()).toThrow(/no symbol "no_such_function" in uninit-kmalloc.c/);
  });

  it('no checker: no findings; a module that does not compile is a clear error', () => {
    const m = Machine.load(UNINIT);
    expect(m.run().reason).toBe('exit');
    expect(m.findings).toEqual([]);
    expect(() => m.reg('eax')).not.toThrow();
    const lines: string[] = [];
    expect(() => Machine.load(join(ROOT, 'README.md.c'), { onDiagnostic: (l) => lines.push(l) })).toThrow(KmemsimError);
  });
});

const m32 = gccM32Missing();
if (m32 !== null) console.warn(`skipping the embedding API's multi-process test: ${m32}`);

/** Two processes that print while they spin: the interleaving of their lines is the schedule (quantum 10^6 instructions). */
const SPINNERS = `#include <stdio.h>
#include <unistd.h>
#include <sys/wait.h>
static volatile unsigned sink;
int main(void) {
  setvbuf(stdout, 0, _IONBF, 0);
  pid_t p = fork();
  for (int i = 0; i < 12; i++) {
    for (unsigned j = 0; j < 30000; j++) sink += j * 7;
    printf("%s %d\\n", p ? "parent" : "child", i);
  }
  if (p) wait(0);
  return 0;
}
`;

describe.skipIf(m32 !== null)('Machine: a run in pieces schedules as one run', () => {
  it('two preempted processes: the same task switches, system calls and output for any split', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-api-'));
    try {
      writeFileSync(join(dir, 'spin.c'), SPINNERS);
      const exe = join(dir, 'spin');
      const cc = spawnSync('gcc', ['-m32', '-static', '-O1', '-o', exe, join(dir, 'spin.c')], { encoding: 'utf8' });
      expect(cc.stderr).toBe('');
      const trace = (chunk: number | undefined): { events: string[]; out: string; count: number; reason: string } => {
        const m = Machine.load(exe);
        const events: string[] = [];
        // CR3 names the process: the order of the processes' system calls and faults is the schedule.
        m.onInterrupt((e) => events.push(`${e.vector}:${m.reg('cr3').toString(16)}:${e.eip.toString(16)}`));
        let r = m.run({ instructions: chunk });
        while (r.resumable) r = m.run({ instructions: chunk });
        return { events, out: text(m.stdout), count: m.instructions, reason: r.reason };
      };
      const whole = trace(undefined);
      expect(whole.reason).toBe('exit');
      // Preempted mid-loop: the lines interleave (neither process prints all of its lines in one go).
      expect(whole.out).toMatch(/parent \d+\nchild \d+\n[\s\S]*parent/);
      expect(new Set(whole.events.map((e) => e.split(':')[1])).size).toBe(2);
      expect(trace(99_991)).toEqual(whole);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
