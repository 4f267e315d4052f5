/**
 * `kmemsim run FILE --gdb PORT` driven by Debian's gdb-multiarch in batch
 * mode, as a user would: break on a module function (symbols from the
 * printed add-symbol-file commands), read registers and variables, step,
 * watch a field of a kmalloc'd struct (a hardware watchpoint the machine
 * implements), stop at a kmemcheck finding (--gdb-on-finding), and break in
 * a user program. Each run then finishes as it would without gdb: same
 * console output, same exit status.
 */
import { describe, expect, it } from 'vitest';
import { finished, gdbSkip, runGdb, startKmemsim } from './helpers.js';

const skip = gdbSkip(true);
if (skip) console.log(`test/gdb/gdb-multiarch.test.ts: skipped: ${skip}`);

describe.skipIf(skip !== null)('gdb-multiarch against kmemsim run --gdb', () => {
  it('a module: break on a function, backtrace, variables, registers, step, continue to the end', async () => {
    const k = await startKmemsim(['test/gdb/counter.c']);
    expect(k.symbolCommands[0]).toMatch(/^add-symbol-file \S+counter\.o -s \.text 0xc[0-9a-f]+ /);
    const out = await runGdb(k, ['break bump', 'continue', 'bt', 'print by', 'print *c', 'info registers eip', 'stepi', 'info registers eip', 'next', 'print c->hits', 'delete', 'continue']);
    expect(out).toMatch(/Breakpoint 1, bump \(c=0x[0-9a-f]+, by=by@entry=1\) at test\/gdb\/counter\.c:19/);
    expect(out).toMatch(/#1 +0x[0-9a-f]+ in init_module \(\) at test\/gdb\/counter\.c:37/);
    expect(out).toContain('$1 = 1');
    expect(out).toContain('$2 = {hits = 0, limit = 0}');
    expect(out).toMatch(/eip +0xc[0-9a-f]+ +0xc[0-9a-f]+ <bump>/);
    expect(out).toMatch(/eip +0xc[0-9a-f]+ +0xc[0-9a-f]+ <bump\+\d+>/); // one instruction further
    expect(out).toContain('$3 = 1'); // after `next`, the += ran
    expect(out).toMatch(/\[Inferior 1 \(Remote target\) exited normally\]/);
    expect(await finished(k)).toBe(0);
    expect(k.stdout()).toBe('counter: sum 10, total 1\n');
  });

  it('a module: watch a field of a kmalloc\'d struct (stops after each write, old and new value)', async () => {
    const k = await startKmemsim(['test/gdb/counter.c']);
    const out = await runGdb(k, ['break bump', 'continue', 'watch -l c->hits', 'delete 1', 'continue', 'continue', 'continue', 'delete', 'continue']);
    expect(out).toMatch(/Hardware watchpoint 2: -location c->hits/);
    expect(out).toMatch(/Old value = 0\nNew value = 1\n/);
    expect(out).toMatch(/Old value = 1\nNew value = 3\n/);
    expect(out).toMatch(/Old value = 3\nNew value = 6\n/);
    expect(await finished(k)).toBe(0);
  });

  it('a checked module: --gdb-on-finding stops at the instruction kmemcheck reports, the report on gdb\'s console', async () => {
    const k = await startKmemsim(['test/gdb/counter.c', '--kmemcheck', '--gdb-on-finding']);
    const out = await runGdb(k, ['continue', 'bt', 'x/i $pc', 'print c->hits', 'continue']);
    expect(out).toMatch(/WARNING: kmemcheck: Caught 32-bit read from uninitialized memory \(c[0-9a-f]+\)/);
    expect(out).toMatch(/Program received signal SIGTRAP[^\n]*\n0x[0-9a-f]+ in total \(c=0x[0-9a-f]+\) at test\/gdb\/counter\.c:25/);
    expect(out).toMatch(/=> 0x[0-9a-f]+ <total\+\d+>:\tmov +0x4\(%eax\),/);
    expect(out).toContain('$1 = 6'); // the page kmemcheck hides is readable from gdb
    expect(out).toMatch(/exited with code 0143\]/); // 99, in octal
    expect(await finished(k)).toBe(99);
    expect(k.stderr()).toMatch(/kmemsim: kmemcheck: 1 error reported/);
  });

  it('the inline checker (--kmemcheck-inline): --gdb-on-finding stops before the instruction it reports, which then runs once', async () => {
    const k = await startKmemsim(['test/gdb/counter.c', '--kmemcheck', '--kmemcheck-inline', '--gdb-on-finding']);
    const out = await runGdb(k, ['break bump', 'continue', 'print by', 'delete', 'continue', 'x/i $pc', 'print c->limit', 'continue']);
    expect(out).toMatch(/Breakpoint 1, bump \(c=0x[0-9a-f]+, by=/);
    expect(out).toMatch(/WARNING: kmemcheck: Caught 32-bit read from uninitialized memory \(c[0-9a-f]+\)/);
    expect(out).toMatch(/Program received signal SIGTRAP[^\n]*\n0x[0-9a-f]+ in total \(c=0x[0-9a-f]+\) at test\/gdb\/counter\.c:25/);
    expect(out).toMatch(/=> 0x[0-9a-f]+ <total\+\d+>:\tmov +0x4\(%eax\),/); // stopped before the read
    expect(out).toMatch(/exited with code 0143\]/);
    expect(await finished(k)).toBe(99);
    // Checked ahead for gdb, not again when it runs: one finding.
    expect(k.stderr()).toMatch(/kmemsim: kmemcheck \(inline checker\): 1 error reported/);
  });

  it('the precise stack oracle (--stack precise): --gdb-on-finding stops at the uninitialized stack read', async () => {
    const k = await startKmemsim(['examples/stack/uninit-local.c', '--stack', 'precise', '--gdb-on-finding']);
    const out = await runGdb(k, ['continue', 'bt 2', 'continue']);
    expect(out).toMatch(/uninitialized/i);
    expect(out).toMatch(/Program received signal SIGTRAP[^\n]*\n(?:0x[0-9a-f]+ in )?report \(s=[^\n]*\) at examples\/stack\/uninit-local\.c:30/);
    expect(out).toMatch(/#1 +0x[0-9a-f]+ in init_module \(\) at examples\/stack\/uninit-local\.c:\d+/);
    expect(out).toMatch(/exited with code 0143\]/);
    expect(await finished(k)).toBe(99);
    expect(k.stderr()).toMatch(/kmemsim: stack precise: 1 error reported/);
  });

  it('a user program: break on main, read argv, finish', async () => {
    const k = await startKmemsim(['build/examples/hello-O0', '--', 'world']);
    const out = await runGdb(k, ['break main', 'continue', 'print argc', 'print argv[1]', 'info registers cs ss', 'continue'], 'build/examples/hello-O0');
    expect(out).toMatch(/Breakpoint 1, main \(argc=2, /);
    expect(out).toContain('$1 = 2');
    expect(out).toMatch(/\$2 = 0x[0-9a-f]+ "world"/);
    expect(out).toMatch(/cs +0x73 /);
    expect(out).toMatch(/exited with code 01\]/);
    expect(await finished(k)).toBe(1);
  });
});
