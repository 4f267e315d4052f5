/**
 * Calling guest code (src/kernel/call.ts) and running modules like insmod +
 * rmmod (src/kernel/module-run.ts), with C modules from test/modules/
 * compiled by src/cli/compile.ts and a fake printk export.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { ExportTable } from '../../src/kernel/exports.js';
import { loadModule, ModuleLoadError } from '../../src/kernel/module.js';
import { callGuest, returnStubAddress } from '../../src/kernel/call.js';
import { runModule, DEFAULT_RUNTIME_PATH, type ModuleRunOptions } from '../../src/kernel/module-run.js';
import { kva, PHYS_KSTACK_TOP } from '../../src/kernel/layout.js';
import { compiled, fakeKernelApi, hasGcc, NO_GCC, runtimeObject, type FakeKernelApi } from './helpers.js';

if (!hasGcc) console.log(`test/module/module.test.ts: ${NO_GCC}`);

/** Options for runModule with the fake kernel API; `api` is filled in when the kernel boots. */
function withFakeApi(extra: ModuleRunOptions = {}): { opts: ModuleRunOptions; api: () => FakeKernelApi } {
  let api: FakeKernelApi | null = null;
  return {
    opts: {
      runtime: runtimeObject(),
      exports: (k, io) => {
        api = fakeKernelApi(k, io.console);
        return api.exports;
      },
      ...extra,
    },
    api: () => api!,
  };
}

describe.skipIf(!hasGcc)('callGuest', () => {
  const setup = (): { k: Kernel; fn: (n: string) => number } => {
    const k = new Kernel();
    const api = fakeKernelApi(k);
    const m = loadModule(k, compiled('hello'), { name: 'hello.o', exports: ExportTable.from(api.exports), runtime: runtimeObject() });
    return { k, fn: (n) => m.lookup(n)! };
  };

  it('passes three arguments in EAX, EDX, ECX and the rest on the stack (regparm(3)), at CPL 0', () => {
    const { k, fn } = setup();
    const r = callGuest(k, fn('weighted_sum'), [1, 2, 3, 4, 5]);
    expect(r).toMatchObject({ returned: true, stop: null, eax: 1 + 4 + 9 + 16 + 25 + 40, value: 95 });
    expect(r.instructions).toBeGreaterThan(0);
    const neg = callGuest(k, fn('weighted_sum'), [-100, 0, 0, 0, 0]);
    expect(neg.value).toBe(-60);
    expect(neg.eax).toBe((-60) >>> 0);
    expect(k.cpu.cpl).toBe(0);
  });

  it('leaves the kernel stack as it found it, and can be called again and again', () => {
    const { k, fn } = setup();
    const esp = k.cpu.regs[4];
    expect(esp).toBe(kva(PHYS_KSTACK_TOP));
    for (let i = 0; i < 5; i++) {
      const r = callGuest(k, fn('weighted_sum'), [i, i, i, i, i, 99, 98]);
      expect(r.value).toBe(15 * i + 40);
      expect(k.cpu.regs[4]).toBe(esp);
      expect(k.cpu.stopReason).toBeNull();
    }
  });

  it('reports a stop instead of a return: budget, and a fault with no handler', () => {
    const { k, fn } = setup();
    const r = callGuest(k, fn('weighted_sum'), [1, 2, 3, 4, 5], 3);
    expect(r.returned).toBe(false);
    expect(r.stop).toMatchObject({ kind: 'budget' });
    // Calling address 0 page-faults at CPL 0; with no #PF handler the kernel stops.
    const k2 = new Kernel();
    const f = callGuest(k2, 0, []);
    expect(f.returned).toBe(false);
    expect(f.stop?.kind).toBe('fault');
  });

  it('returns through a native stub, and refuses bad arguments and nested calls', () => {
    const k = new Kernel();
    const stub = returnStubAddress(k);
    expect(returnStubAddress(k)).toBe(stub);
    // A "function" that is just the stub's address: returns at once with EAX = the first argument.
    const r = callGuest(k, stub, [0x1234]);
    expect(r).toMatchObject({ returned: true, eax: 0x1234 });
    expect(() => callGuest(k, stub, [2 ** 40])).toThrow(RangeError);
    let inner: unknown = null;
    const nested = k.bindRoutine((kern) => {
      try {
        callGuest(kern, stub, []);
      } catch (e) {
        inner = e;
      }
    });
    expect(callGuest(k, nested, []).returned).toBe(true);
    expect(String(inner)).toMatch(/nested guest calls are not supported/);
  });
});

describe.skipIf(!hasGcc)('runModule: insmod + rmmod', () => {
  it('runs init_module and cleanup_module of a C module that prints through printk', () => {
    const { opts, api } = withFakeApi({ name: 'hello.o' });
    const printed: string[] = [];
    const r = runModule(compiled('hello'), { ...opts, onConsole: (t) => printed.push(t) });
    expect(r.stop).toBeNull();
    expect(r.exitCode).toBe(0);
    expect(r).toMatchObject({ initCalled: true, initReturn: 0, cleanupCalled: true, cleanupReturned: true });
    expect(r.console).toBe('hello, world (5 letters) from init #1\ngoodbye after 2 calls, 42\n');
    expect(printed.join('')).toBe(r.console);
    expect(api().console).toHaveLength(2);
    expect(r.diagnostics).toEqual([]);
    expect(r.instructions).toBeGreaterThan(10);
  });

  it('is deterministic, and the same with every block compiled or none', () => {
    const a = runModule(compiled('hello'), withFakeApi({ jitThreshold: 0 }).opts);
    const b = runModule(compiled('hello'), withFakeApi({ jitThreshold: Infinity }).opts);
    expect(a.console).toBe(b.console);
    expect(a.instructions).toBe(b.instructions);
    expect(a.module.object.base).toBe(b.module.object.base);
  });

  it('fails like insmod when init_module returns a negative errno: status 1, no cleanup_module', () => {
    const k = new Kernel();
    const api = fakeKernelApi(k);
    const before = k.frames.allocated;
    const r = runModule(compiled('fail'), { kernel: k, exports: api.exports, runtime: runtimeObject(), name: 'fail.o' });
    expect(r).toMatchObject({ initCalled: true, initReturn: -12, cleanupCalled: false, stop: null, exitCode: 1 });
    expect(api.console.join('')).toBe('fail: giving up\n');
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatch(/fail\.o: init_module returned -12 \(-ENOMEM\): insmod fails \("Cannot allocate memory"\)/);
    // The module and its runtime were freed.
    expect(k.frames.allocated).toBe(before);
  });

  it('loads anyway, with Linux\'s warning, when init_module returns a positive value; annotations reach the kernel', () => {
    const { opts, api } = withFakeApi({ name: 'bitfield.o' });
    const r = runModule(compiled('bitfield'), opts);
    expect(r.initReturn).toBe(8); // &f.after - &f.before: the markers take no space
    expect(r.exitCode).toBe(0);
    expect(r.diagnostics.join('\n')).toMatch(/init_module suspiciously returned 8, it should follow 0\/-E convention; loading module anyway/);
    // kmemcheck_annotate_bitfield(p, bits): the 4 bytes of the bitfield word, right after `before`.
    const f = r.module.object.symbolAddress('f')!;
    expect(api().marked).toEqual([[f + 4, 4]]);
  });

  it('turns a NULL dereference in module code into an oops naming the function (status 125)', () => {
    const r = runModule(compiled('oops'), withFakeApi({ name: 'oops.o' }).opts);
    expect(r.exitCode).toBe(125);
    expect(r.stop?.kind).toBe('fault');
    if (r.stop?.kind !== 'fault') return;
    expect(r.stop.vector).toBe(14);
    expect(r.stop.message).toMatch(/^Oops: BUG: unable to handle kernel NULL pointer dereference at 0x00000004 \(supervisor read, page not present\)/);
    expect(r.stop.message).toMatch(/init_module\+0x[0-9a-f]+\/0x[0-9a-f]+ \[oops\]/);
    expect(r.stop.message).toMatch(/CPL 0/);
    expect(r.initReturn).toBeUndefined();
    expect(r.cleanupCalled).toBe(false);
  });

  it('stops with status 124 when the budget runs out', () => {
    const r = runModule(compiled('hello'), withFakeApi({ maxInstructions: 5 }).opts);
    expect(r.stop?.kind).toBe('budget');
    expect(r.exitCode).toBe(124);
  });

  it('refuses to load a module whose symbols are missing, listing all of them', () => {
    expect(() => runModule(compiled('hello'), { runtime: null, name: 'hello.o' })).toThrow(ModuleLoadError);
    try {
      runModule(compiled('hello'), { runtime: null, name: 'hello.o' });
    } catch (e) {
      const err = e as ModuleLoadError;
      expect(err.kind).toBe('unresolved-symbols');
      expect([...err.missing].sort()).toEqual(['memset', 'printk', 'strcpy', 'strlen']);
    }
  });

  it('finds the built runtime by default, and accepts a path', () => {
    runtimeObject(); // make sure it is built
    const r = runModule(compiled('quiet'), { name: 'quiet.o' });
    expect(r.initReturn).toBe(0);
    expect(r.exitCode).toBe(0);
    const p = runModule(compiled('quiet'), { runtime: { path: DEFAULT_RUNTIME_PATH } });
    expect(p.exitCode).toBe(0);
    expect(() => runModule(compiled('quiet'), { runtime: { path: '/nonexistent/runtime.o' } })).toThrow(/cannot read \/nonexistent\/runtime\.o: no such file/);
  });

  it('says so when a module has neither init_module nor cleanup_module', () => {
    const r = runModule(compiled('empty'), { runtime: null, name: 'empty.o' });
    expect(r).toMatchObject({ initCalled: false, cleanupCalled: false, exitCode: 0, stop: null });
    expect(r.diagnostics[0]).toMatch(/empty\.o defines neither init_module nor cleanup_module/);
  });

  it('runs in a given kernel with a ready-made export map, and says where it loaded with verbose', () => {
    const k = new Kernel();
    const api = fakeKernelApi(k);
    const r = runModule(compiled('hello'), { kernel: k, exports: api.exports, runtime: runtimeObject(), verbose: true, name: 'hello.o' });
    expect(r.kernel).toBe(k);
    expect(r.exitCode).toBe(0);
    expect(api.console.join('')).toMatch(/^hello, world/);
    expect(r.diagnostics[0]).toMatch(/^kmemsim: loaded hello\.o at 0xc[0-9a-f]+ \(\d+ bytes: \.text 0xc/);
  });
});
