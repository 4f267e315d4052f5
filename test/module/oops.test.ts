/**
 * Oops reports (src/kernel/module-run.ts, src/kernel/dumpstack.ts): an
 * oops prints the fault, the registers and the call trace with file:line,
 * as Linux's die() does; a module that recurses until its stack overflows
 * hits the kernel stack's guard page and is reported as "BUG: stack guard
 * page was hit at … (stack is …)" with its frames (exit status 125), at
 * ring 0 (where the processor itself would shut down: #PF → #DF → #PF) and
 * on the ring-1 layout's stack alike; kmemsim's own routines in a trace
 * have names (kmemsim_call_stub, ftrace's return_to_handler).
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runModule } from '../../src/kernel/module-run.js';
import { runChecked } from '../../src/harness/checked-run.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { returnStubAddress } from '../../src/kernel/call.js';
import { kva, PHYS_KSTACK_GUARD, PHYS_KSTACK_TOP } from '../../src/kernel/layout.js';
import { Ftrace } from '../../src/ftrace/ftrace.js';
import { builtCliState, cli, compiled, hasGcc, MODULES, NO_GCC, runtimeObject } from './helpers.js';

if (!hasGcc) console.log(`test/module/oops.test.ts: ${NO_GCC}`);

const recurseLine = readFileSync(join(MODULES, 'stack-overflow.c'), 'utf8').split('\n').findIndex((l) => l.includes('RECURSE')) + 1;

describe('the kernel stack guard page', () => {
  it('is not present below the 16 KiB ring-0 stack; the stack above it is', () => {
    const k = new Kernel();
    const guard = kva(PHYS_KSTACK_GUARD) >>> 0;
    expect(k.as.readPte(guard) & 1).toBe(0);
    expect(k.as.readPte(guard + 4096) & 1).toBe(1);
    expect(k.as.readPte((kva(PHYS_KSTACK_TOP) - 4) >>> 0) & 1).toBe(1);
    expect(k.stackGuardAt(guard + 0xffc)).toEqual({ guard, low: guard + 4096, high: kva(PHYS_KSTACK_TOP) >>> 0 });
    expect(k.stackGuardAt(guard + 4096)).toBeNull();
  });

  it('names kmemsim\'s own routines for stack traces: the guest-call return stub, ftrace\'s trampolines', () => {
    const k = new Kernel();
    const stub = returnStubAddress(k);
    expect(k.routineSymbol(stub)).toEqual({ name: 'kmemsim_call_stub', offset: 0, size: 8 });
    const f = Ftrace.of(k);
    expect(k.routineSymbol(f.trampolineAddress)?.name).toBe('return_to_handler');
    expect(k.routineSymbol(f.callerAddress)?.name).toBe('ftrace_caller');
  });
});

describe.skipIf(!hasGcc)('oops and stack-overflow reports', () => {
  it('a NULL dereference: the oops with registers and the call trace (file:line), then the one-line stop', () => {
    const diags: string[] = [];
    const r = runModule(compiled('oops'), { name: 'oops.c', runtime: runtimeObject(), onDiagnostic: (l) => diags.push(l) });
    expect(r.exitCode).toBe(125);
    const text = diags.join('\n');
    expect(text).toMatch(/^BUG: unable to handle kernel NULL pointer dereference at 00000004\nOops: 0000 \[#1\]\nEIP: 0060:\[<c[0-9a-f]{7}>\] EFLAGS: [0-9a-f]{8} CPU: 0\nEIP is at init_module\+0x[0-9a-f]+\/0x[0-9a-f]+ \[.*oops\.c:13\]\nEAX: /);
    expect(text).toMatch(/\nCR0: [0-9a-f]{8} CR2: 00000004 /);
    expect(text).toMatch(/\nCall Trace:\n \[<c[0-9a-f]{7}>\] \? kmemsim_call_stub\+0x0\/0x8$/);
    expect(r.stop).toMatchObject({ kind: 'fault', vector: 14 });
  });

  it('recursion at ring 0: "BUG: stack guard page was hit", the registers and the recursing frames; a fault stop, 125 (not a bare triple fault)', () => {
    const diags: string[] = [];
    const r = runModule(compiled('stack-overflow'), { name: 'stack-overflow.c', runtime: runtimeObject(), onDiagnostic: (l) => diags.push(l) });
    expect(r.exitCode).toBe(125);
    expect(r.stop!.kind).toBe('fault');
    const msg = r.stop!.kind === 'fault' ? r.stop!.message : '';
    expect(msg).toMatch(/^kernel stack overflow: stack guard page was hit at 0xc0007[0-9a-f]{3} \(stack is 0xc0008000\.\.0xc000bfff\) at EIP 0x[0-9a-f]{8} recurse\+0x[0-9a-f]+\/0x[0-9a-f]+ \[stack-overflow\]$/);
    const text = diags.join('\n');
    expect(text).toMatch(/^BUG: stack guard page was hit at c0007[0-9a-f]{3} \(stack is c0008000\.\.c000bfff\)\nkernel stack overflow \(double-fault\): 0000 \[#1\]\nEIP: 0060:/);
    expect(text).toMatch(/\nEIP is at recurse\+0x[0-9a-f]+\/0x[0-9a-f]+ \[.*stack-overflow\.c:\d+\]\n/);
    const frames = text.split('\n').filter((l) => l.startsWith(' [<'));
    expect(frames.length).toBeGreaterThan(10);
    for (const f of frames) expect(f).toMatch(new RegExp(`\\? recurse\\+0x[0-9a-f]+/0x[0-9a-f]+ \\[.*stack-overflow\\.c:${recurseLine}\\]$`));
  });

  it('recursion on the ring-1 stack (--stack cpl1): its own guard page, the same report', () => {
    const diags: string[] = [];
    const r = runChecked(compiled('stack-overflow'), { name: 'stack-overflow.c', runtime: runtimeObject(), stack: 'cpl1', onDiagnostic: (l) => diags.push(l) });
    expect(r.run!.exitCode).toBe(125);
    expect(r.run!.stop!.kind === 'fault' && r.run!.stop!.message).toMatch(/^kernel stack overflow: stack guard page was hit at /);
    const text = diags.join('\n');
    expect(text).toMatch(/^BUG: stack guard page was hit at [0-9a-f]{8} \(stack is /);
    expect(text).toMatch(/\nEIP: 0089:/);
    expect(text.split('\n').filter((l) => /^ \[<.*\? recurse\+/.test(l)).length).toBeGreaterThan(10);
  });

  const skipCli = builtCliState(['src/kernel/module-run.ts', 'src/kernel/dumpstack.ts', 'src/kernel/kernel.ts', 'src/kernel/call.ts', 'src/ftrace/ftrace.ts']);
  it.skipIf(skipCli !== null)('the CLI: the report on stderr, 125; ftrace\'s report names the return stub instead of a bare address', () => {
    const r = cli(['run', 'test/modules/stack-overflow.c']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/^BUG: stack guard page was hit at /);
    expect(r.stderr).toMatch(/\nkmemsim: guest killed: kernel stack overflow: stack guard page was hit at 0x/);
    const f = cli(['run', 'examples/stack/uninit-local.c', '--stack', 'ftrace']);
    expect(f.status).toBe(99);
    expect(f.stderr).toMatch(/\n \[<c[0-9a-f]{7}>\] kmemsim_call_stub\+0x0\/0x8\n/);
    expect(f.stderr).not.toMatch(/\] 0x[0-9a-f]{8}\n/);
  });
});
