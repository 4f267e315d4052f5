/**
 * `--trace-events` (src/trace/events.ts): the line format, the int $0x80
 * lines of a user program under `kmemsim run`, and a boot kernel's page
 * fault and timer interrupts under `kmemsim boot`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { formatEvent, eventTracer, shortVectorName } from '../src/trace/events.js';
import { runUserProgram } from '../src/kernel/process.js';
import { bootMultiboot } from '../src/boot/machine.js';
import type { ExceptionEvent } from '../src/cpu/cpu.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function ev(p: Partial<ExceptionEvent>): ExceptionEvent {
  return {
    vector: 14, errorCode: null, eip: 0, cplBefore: 0, cplAfter: 0, oldStack: [0x10, 0x1000], newStack: [0x10, 0xff0], cr2: 0, software: false, external: false,
    ...p,
  };
}

describe('trace line format', () => {
  it('a page fault from user mode: vector, error code, EIP, CPL change, both stacks, CR2', () => {
    expect(
      formatEvent(
        ev({ vector: 14, errorCode: 6, eip: 0x08049012, cplBefore: 3, cplAfter: 0, oldStack: [0x7b, 0xbfffefe0], newStack: [0x68, 0xc000bff0], cr2: 0x0804c000 }),
        1234,
      ),
    ).toBe('[icount 1234] #PF(14) err=0x0006 eip=0x08049012 cpl 3->0 stack 007b:bfffefe0 -> 0068:c000bff0 cr2=0x0804c000');
  });

  it('INT n is marked as such; equal CPL shows "(no switch)"', () => {
    expect(formatEvent(ev({ vector: 0x80, software: true, eip: 0x0804901a, cplBefore: 3, cplAfter: 0, oldStack: [0x7b, 0xbffff000], newStack: [0x68, 0xc000bfec] }), 7))
      .toBe('[icount 7] int 0x80 err=- eip=0x0804901a cpl 3->0 stack 007b:bffff000 -> 0068:c000bfec');
    expect(formatEvent(ev({ vector: 3, software: true, eip: 0x100001, oldStack: [0x10, 0x7000] }), 8))
      .toBe('[icount 8] int #BP(3) err=- eip=0x00100001 cpl 0->0 stack 0010:00007000 (no switch)');
  });

  it('an external interrupt names its IRQ line; other vectors and spurious ones are still readable', () => {
    expect(formatEvent(ev({ vector: 0x20, eip: 0x100404, oldStack: [0x10, 0x105030] }), 99, 0))
      .toBe('[icount 99] irq 0 vec 0x20 err=- eip=0x00100404 cpl 0->0 stack 0010:00105030 (no switch)');
    expect(formatEvent(ev({ vector: 0x27 }), 1, -2)).toMatch(/^\[icount 1\] spurious irq vec 0x27 /);
    expect(formatEvent(ev({ vector: 0x40 }), 1)).toMatch(/^\[icount 1\] vec 0x40 /);
    expect(formatEvent(ev({ vector: 13, errorCode: 0x1a }), 1)).toMatch(/^\[icount 1\] #GP\(13\) err=0x001a /);
    expect(formatEvent(ev({ vector: 21 }), 1)).toMatch(/^\[icount 1\] exception 21 /);
    expect(shortVectorName(2)).toBe('NMI');
  });

  it('chains to an observer already on the CPU', () => {
    const seen: number[] = [];
    const lines: string[] = [];
    const cpu = { icount: 5, observer: { onException: (e: ExceptionEvent) => seen.push(e.vector) } };
    const t = eventTracer(cpu as never, (l) => lines.push(l));
    t.onException!(ev({ vector: 6 }));
    expect(seen).toEqual([6]);
    expect(lines).toEqual(['[icount 5] #UD(6) err=- eip=0x00000000 cpl 0->0 stack 0010:00001000 (no switch)']);
  });
});

// ---- a user program (kmemsim run) -----------------------------------------------------

const HELLO = join(ROOT, 'build/examples/hello-O2');
function prepareExample(): string | null {
  if (spawnSync(process.env.CC || 'gcc', ['--version']).error) return 'gcc not found: example guests not built';
  try {
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-guests.mjs'), '--kind=examples', '--quiet'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`building the example guests failed: ${(e as { stderr?: Buffer }).stderr?.toString() ?? e}`);
  }
  return existsSync(HELLO) ? null : 'build/examples/hello-O2 was not built (see the build script’s message)';
}
const skipExample = prepareExample();
if (skipExample) console.log(`test/trace-events.test.ts: user-program tests skipped: ${skipExample}`);

const INT80 = /^\[icount (\d+)\] int 0x80 err=- eip=0x08[0-9a-f]{6} cpl 3->0 stack 007b:[0-9a-f]{8} -> 0068:c000bfec$/;

describe.skipIf(skipExample !== null)('--trace-events on a user program', () => {
  it('prints one line per int $0x80: CPL 3 → 0, user stack → the TSS’s kernel stack', () => {
    const lines: string[] = [];
    const plain = runUserProgram(new Uint8Array(readFileSync(HELLO)), { argv: ['hello'] });
    const r = runUserProgram(new Uint8Array(readFileSync(HELLO)), {
      argv: ['hello'],
      traceEvents: (cpu) => eventTracer(cpu, (l) => lines.push(l)),
    });
    expect(r.exitCode).toBe(0);
    expect(lines.length).toBeGreaterThanOrEqual(2); // at least a write and exit_group
    for (const l of lines) expect(l).toMatch(INT80);
    const counts = lines.map((l) => Number(INT80.exec(l)![1]));
    expect([...counts].sort((a, b) => a - b)).toEqual(counts);
    // Tracing is transparent: same output, same instruction count.
    expect(Buffer.from(r.stdout).toString()).toBe(Buffer.from(plain.stdout).toString());
    expect(r.instructions).toBe(plain.instructions);
  });
});

// ---- boot kernels (kmemsim boot) -------------------------------------------------------

const KDIR = join(ROOT, 'build/kernels');
function prepareKernels(): string | null {
  if (spawnSync('as', ['--version']).error || spawnSync('ld', ['--version']).error) return 'GNU as/ld not found: test kernels not built';
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-guests.mjs'), '--kind=kernels', '--quiet'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  return existsSync(join(KDIR, 'pagefault.elf')) ? null : 'build/kernels/pagefault.elf was not built';
}
const skipKernels = prepareKernels();
if (skipKernels) console.log(`test/trace-events.test.ts: boot-kernel tests skipped: ${skipKernels}`);
const kernel = (name: string): Uint8Array => new Uint8Array(readFileSync(join(KDIR, `${name}.elf`)));

describe.skipIf(skipKernels !== null)('--trace-events on boot kernels', () => {
  it('pagefault.elf: one #PF line with the error code and CR2, delivered at CPL 0 on the same stack', () => {
    const lines: string[] = [];
    const r = bootMultiboot(kernel('pagefault'), { traceEvents: (l) => lines.push(l) });
    expect(r.exitCode).toBe(37);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[icount \d+\] #PF\(14\) err=0x0002 eip=0x0010[0-9a-f]{4} cpl 0->0 stack 0010:[0-9a-f]{8} \(no switch\) cr2=0x00300000$/);
  });

  it('timer.elf: ten "irq 0 vec 0x20" lines, one PIT period apart', () => {
    const lines: string[] = [];
    bootMultiboot(kernel('timer'), { traceEvents: (l) => lines.push(l) });
    expect(lines).toHaveLength(10);
    const re = /^\[icount (\d+)\] irq 0 vec 0x20 err=- eip=0x0010[0-9a-f]{4} cpl 0->0 stack 0010:[0-9a-f]{8} \(no switch\)$/;
    const at = lines.map((l) => {
      expect(l).toMatch(re);
      return Number(re.exec(l)![1]);
    });
    for (let i = 1; i < at.length; i++) expect(Math.abs(at[i]! - at[i - 1]! - 1_000_015)).toBeLessThanOrEqual(1);
  });

  it('the trace is deterministic and does not change the run', () => {
    const a: string[] = [];
    const b: string[] = [];
    const r1 = bootMultiboot(kernel('timer'), { traceEvents: (l) => a.push(l) });
    const r2 = bootMultiboot(kernel('timer'), { traceEvents: (l) => b.push(l) });
    const r3 = bootMultiboot(kernel('timer'));
    expect(a).toEqual(b);
    expect(r1.instructions).toBe(r2.instructions);
    expect(r1.instructions).toBe(r3.instructions);
  });
});

// ---- the built CLI ----------------------------------------------------------------------

function cliFresh(): string | null {
  const main = join(ROOT, 'dist/trace/events.js');
  if (!existsSync(main)) return 'dist/ has no trace module: run `npm run build` first';
  const built = statSync(main).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory() ? newer(join(dir, e.name)) : e.name.endsWith('.ts') && statSync(join(dir, e.name)).mtimeMs > built));
  return newer(join(ROOT, 'src')) ? 'dist/ is older than src/: run `npm run build` to test the built CLI' : null;
}
const skipCli = skipKernels ?? skipExample ?? cliFresh();
if (skipCli && !skipKernels && !skipExample) console.log(`test/trace-events.test.ts: CLI tests skipped: ${skipCli}`);

describe.skipIf(skipCli !== null)('--trace-events on the command line', () => {
  it('kmemsim run --trace-events writes the lines to stderr, the guest output stays on stdout', () => {
    const r = spawnSync(process.execPath, ['bin/kmemsim.js', 'run', 'build/examples/hello-O2', '--trace-events'], { cwd: ROOT, encoding: 'utf8', env: {} });
    expect(r.status).toBe(0);
    const trace = r.stderr.split('\n').filter((l) => l.startsWith('[icount'));
    expect(trace.length).toBeGreaterThanOrEqual(2);
    for (const l of trace) expect(l).toMatch(INT80);
    expect(r.stdout).not.toMatch(/\[icount/);
  });

  it('kmemsim boot --trace-events', () => {
    const r = spawnSync(process.execPath, ['bin/kmemsim.js', 'boot', 'build/kernels/pagefault.elf', '--trace-events'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(37);
    expect(r.stderr).toMatch(/^\[icount \d+\] #PF\(14\) err=0x0002 .* cr2=0x00300000\n$/);
  });
});
