/**
 * `kmemsim boot KERNEL -s`/`-S`/`--gdb PORT` (QEMU's options) driven by
 * gdb-multiarch in batch mode against the Multiboot kernels of
 * test/kernels: with -S the machine stops before the kernel's first
 * instruction (EAX holds the Multiboot magic), a breakpoint on a kernel
 * function stops there, registers and memory read as the kernel has them,
 * stepi steps one instruction, and the run ends as without gdb (gdb told
 * the exit status). Without -S the kernel runs until gdb connects (spin.S
 * waits for gdb to write its `go` word).
 */
import { describe, expect, it } from 'vitest';
import { cli } from '../module/helpers.js';
import { finished, gdbSkip, runGdb, startKmemsim } from './helpers.js';

const skip = gdbSkip(true);
const built = skip ?? (cli(['boot', 'build/kernels/spin.elf', '--max-instructions', '1']).status === 124 ? null : 'build/kernels/spin.elf is missing: run `npm run build`');
if (built) console.log(`test/gdb/boot-gdb.test.ts: skipped: ${built}`);

describe.skipIf(built !== null)('gdb-multiarch against kmemsim boot', () => {
  it('-S: stopped before the first instruction; break, registers, memory, stepi, continue to the exit', async () => {
    const k = await startKmemsim(['build/kernels/hello.elf'], ['boot', '--gdb', '0', '-S']);
    const out = await runGdb(k, [
      'info registers eip eax',
      'break puts_serial',
      'continue',
      'info registers esi',
      'x/s $esi',
      'stepi',
      'print $eip',
      'delete',
      'continue',
    ], 'build/kernels/hello.elf');
    const code = await finished(k);
    expect(out).toMatch(/eip\s+0x1003b3\s+0x1003b3 <_start>/);
    expect(out).toMatch(/eax\s+0x2badb002/); // the Multiboot magic, before the kernel ran
    expect(out).toMatch(/Breakpoint 1, 0x[0-9a-f]+ in puts_serial \(\)/);
    expect(out).toContain('<msg>:\t"Hello from kmemsim boot\\n"');
    expect(out).toMatch(/\$1 = \(void \(\*\)\(\)\) 0x[0-9a-f]+ <puts_serial\+1>/);
    expect(out).toContain('[Inferior 1 (Remote target) exited with code 041]'); // 33
    expect(code).toBe(33);
    expect(k.stdout()).toBe('Hello from kmemsim boot\nHello from kmemsim boot\n');
  });

  it('without -S: the kernel runs until gdb connects; gdb writes memory and the kernel sees it', async () => {
    const k = await startKmemsim(['build/kernels/spin.elf'], ['boot', '--gdb', '0']);
    expect(k.stderr()).toMatch(/the guest runs until gdb connects/);
    await new Promise((r) => setTimeout(r, 300));
    const out = await runGdb(k, ['print $pc', 'set var *(int *)&go = 5', 'print *(int *)&go', 'continue'], 'build/kernels/spin.elf');
    const code = await finished(k);
    expect(out).toMatch(/\$1 = \(void \(\*\)\(\)\) 0x[0-9a-f]+ <(spin|_start)\+?\d*>/);
    expect(out).toContain('$2 = 5');
    expect(out).toContain('exited with code 013'); // (5 << 1) | 1 = 11
    expect(code).toBe(11);
  });

  it('-S without a gdb port, and -s with --gdb, are usage errors', () => {
    const a = cli(['boot', 'build/kernels/hello.elf', '-S']);
    expect(a.status).toBe(2);
    expect(a.stderr).toContain('-S needs -s or --gdb PORT');
    const b = cli(['boot', 'build/kernels/hello.elf', '-s', '--gdb', '0']);
    expect(b.status).toBe(2);
    expect(b.stderr).toContain('-s is --gdb 1234');
  });

  it('-s listens on 127.0.0.1:1234; without a client the kernel boots as without it', () => {
    const r = cli(['boot', 'build/kernels/hello.elf', '-s']);
    if (r.status === 2 && /address already in use/.test(r.stderr)) return; // another process has port 1234: the message is the check
    expect(r.stderr).toContain('listening on 127.0.0.1:1234');
    expect(r.status).toBe(33);
    expect(r.stdout).toBe('Hello from kmemsim boot\nHello from kmemsim boot\n');
  });
});
