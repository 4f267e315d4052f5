/**
 * The kmemcheck engine end to end: a booted Kernel, pages from
 * kernel.frames tracked with track(), CPL-0 (and CPL-1) guest snippets run
 * by the CPU, reports drained from the error queue.
 */
import { describe, expect, it } from 'vitest';
import { PTE_HIDDEN, PTE_P } from '../../src/kernel/paging.js';
import { installUserTraps } from '../../src/kernel/traps.js';
import type { TrapFrame } from '../../src/kernel/kernel.js';
import { Kmemcheck, kmemcheckSlabHooks } from '../../src/shadow/kmemcheck.js';
import { SHADOW_FREED, SHADOW_INITIALIZED, SHADOW_UNINITIALIZED, UNTRACKED } from '../../src/shadow/shadow.js';
import { formatReport, toFinding, type Symbolizer } from '../../src/shadow/report.js';
import { architecturalState, haltOnInt3, hex, instrAddrs, machine, peek, type Init, type Machine } from './fixture.js';

const TF = 0x100, IF = 0x200;

/** Run `src` on a machine with kmemcheck and on one without; the architectural results must match. */
function both(
  src: string,
  setup: (m: Machine) => void,
  init: Partial<Init> | ((m: Machine) => Partial<Init>) = {},
  opts: Parameters<typeof machine>[0] = {},
): Machine {
  const ref = machine({ ...opts, kmemcheck: false });
  const m = machine(opts);
  for (const x of [ref, m]) {
    const i = typeof init === 'function' ? init(x) : init;
    if (i.cpl1) haltOnInt3(x.k);
    setup(x);
    expect(x.run(src, i)).toEqual({ kind: 'halted' });
  }
  const [a, b] = [architecturalState(m.k), architecturalState(ref.k)];
  // The CPU counts each single-stepped REP iteration as a retired instruction (RDTSC and the timer see that);
  // every other instruction retires exactly once with kmemcheck too.
  if (/\brep/.test(src)) {
    expect(a.icount).toBeGreaterThanOrEqual(b.icount);
    a.icount = b.icount;
  }
  expect(a).toEqual(b);
  for (const d of m.data) expect(peek(m, d, 4096), `data page ${hex(d)}`).toEqual(peek(ref, d, 4096));
  return m;
}
const track = (m: Machine, virt: number, n = 4096): void => m.km?.track(virt, n);

describe('kmemcheck: reads and writes', () => {
  it('reports an uninitialized 32-bit read with its size, address and EIP; the program runs as without kmemcheck', () => {
    let d = 0;
    const m = both(
      `mov dword ptr [D], 0x11223344
       mov eax, [D]
       mov ebx, [D + 0x24]
       add eax, ebx
       hlt`,
      (x) => {
        d = x.data[0];
        track(x, d);
      },
    );
    void d;
    const eips = instrAddrs(m);
    const errs = m.km!.recall();
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ address: m.data[0] + 0x24, size: 4, eip: eips[2], access: 'read', stateName: 'uninitialized' });
    expect(m.k.cpu.regs[0]).toBe(0x11223344);
    expect(m.km!.shadow.get(m.data[0] + 0x24)).toBe(SHADOW_INITIALIZED); // reported bytes are not reported again
    expect(m.km!.shadow.get(m.data[0] + 0x28)).toBe(SHADOW_UNINITIALIZED);
    expect(m.km!.hiding.stats).toMatchObject({ faults: 3, steps: 3, extraFaults: 0, unbalanced: 0 });
  });

  it('writes then reads are clean; byte and word accesses track their own sizes', () => {
    const m = both(
      `mov byte ptr [D], 1
       mov word ptr [D + 2], 0x202
       mov eax, [D]
       movzx ebx, byte ptr [D + 1]
       movsx ecx, word ptr [D + 4]
       hlt`,
      (x) => track(x, x.data[0]),
      {},
      { kmemcheck: { partialOk: false } },
    );
    const errs = m.km!.recall();
    // Strict mode: the dword at D has byte 1 uninitialized; MOVZX reads that byte alone; MOVSX reads 2 fresh bytes.
    expect(errs.map((e) => [e.address - m.data[0], e.size])).toEqual([[0, 4], [4, 2]]);
  });

  it('partialOk (the default): a read passes when any byte is initialized; off: every byte must be', () => {
    for (const partialOk of [true, false]) {
      const m = machine({ kmemcheck: { partialOk } });
      const d = m.data[0];
      m.km!.track(d, 4096);
      expect(m.run(`mov byte ptr [${d + 1}], 7\nmov eax, [${d}]\nmov ebx, [${d + 8}]\nhlt`)).toEqual({ kind: 'halted' });
      const errs = m.km!.recall();
      const eips = instrAddrs(m);
      expect(errs.map((e) => e.eip)).toEqual(partialOk ? [eips[2]] : [eips[1], eips[2]]);
      if (!partialOk) expect(errs[0]).toMatchObject({ address: d, size: 4, stateName: 'uninitialized' });
    }
  });

  it('read-modify-write instructions count as writes (as Linux), or are checked with checkReadModifyWrite', () => {
    for (const check of [false, true]) {
      const m = machine({ kmemcheck: { checkReadModifyWrite: check } });
      const d = m.data[0];
      m.km!.track(d, 4096);
      expect(m.run(`add dword ptr [${d}], 1\nor byte ptr [${d + 8}], 4\nmov eax, [${d}]\nhlt`)).toEqual({ kind: 'halted' });
      const errs = m.km!.recall();
      expect(errs.map((e) => e.address - d)).toEqual(check ? [0, 8] : []);
      expect(m.km!.shadow.get(d)).toBe(SHADOW_INITIALIZED);
    }
  });

  it('an access straddling two hidden pages shows both at once and checks the whole access', () => {
    const m = both(
      `mov eax, [P1 - 2]
       mov dword ptr [P1 + 0x1000 - 1], 0x55667788
       mov ebx, [P1 + 0x1000 - 1]
       hlt`,
      (x) => {
        track(x, x.data[0], 8192);
      },
    );
    const p1 = m.data[1];
    const errs = m.km!.recall();
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ address: p1 - 2, size: 4, eip: instrAddrs(m)[0] });
    expect(m.km!.hiding.stats).toMatchObject({ faults: 3, extraFaults: 0 });
    for (const p of [m.data[0], p1]) {
      const pte = m.k.as.readPte(p);
      expect(pte & PTE_P, hex(p)).toBe(0);
      expect(pte & PTE_HIDDEN, hex(p)).toBe(PTE_HIDDEN);
    }
    expect(m.km!.shadow.get(p1 + 0x1000 - 1)).toBe(SHADOW_INITIALIZED);
    expect(m.km!.shadow.get(p1 + 0x1000 + 2)).toBe(UNTRACKED); // the write's other half is on a page nobody tracks
    expect(m.k.cpu.regs[3]).toBe(0x55667788);
  });
});

describe('kmemcheck: string instructions', () => {
  it('REP MOVSB/MOVSD from uninitialized to tracked memory copies the shadow silently; the reader of the copy is reported', () => {
    const m = both(
      `cld
       mov esi, SRC
       mov edi, DST
       mov ecx, 16
       rep movsb
       mov esi, SRC + 16
       mov edi, DST + 16
       mov ecx, 4
       rep movsd
       mov eax, [DST]
       mov ebx, [DST + 16]
       hlt`,
      (x) => {
        track(x, x.data[0], 8192);
      },
    );
    const [src, dst] = m.data;
    const eips = instrAddrs(m);
    const errs = m.km!.recall();
    expect(errs.map((e) => [e.eip, e.address, e.size])).toEqual([
      [eips[9], dst, 4],
      [eips[10], dst + 16, 4],
    ]);
    // The copy carried "uninitialized" over; the bytes nobody read are still uninitialized.
    expect(m.km!.shadow.get(dst + 8)).toBe(SHADOW_UNINITIALIZED);
    expect(m.km!.shadow.get(dst + 40)).toBe(SHADOW_UNINITIALIZED); // beyond the copy: as tracked
    void src;
    expect(m.km!.stats.copies).toBe(16 + 4);
  });

  it('MOVS to an untracked destination reports the source once per REP (same-EIP suppression)', () => {
    const m = both(
      `cld
       mov esi, SRC
       mov edi, DST
       mov ecx, 16
       rep movsb
       hlt`,
      (x) => track(x, x.data[0]),
    );
    const errs = m.km!.recall();
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatchObject({ address: m.data[0], size: 1, eip: instrAddrs(m)[4] });
    expect(m.km!.errors.suppressed).toBe(15);
  });

  it('rep movsl is checked per element: a partly initialized source element passes (partial-ok)', () => {
    const m = machine();
    const [src, dst] = m.data;
    m.km!.track(src, 4096);
    expect(m.run(`mov byte ptr [${src + 1}], 1\ncld\nmov esi, ${src}\nmov edi, ${dst}\nmov ecx, 2\nrep movsd\nhlt`)).toEqual({ kind: 'halted' });
    const errs = m.km!.recall();
    expect(errs.map((e) => [e.address - src, e.size])).toEqual([[4, 4]]);
  });

  it('CMPS checks both operands', () => {
    for (const initSide of ['src', 'dst'] as const) {
      const m = machine();
      const [a, b] = m.data;
      m.km!.track(a, 8192);
      const init = initSide === 'src' ? a : b;
      expect(m.run(`mov dword ptr [${init}], 9\ncld\nmov esi, ${a}\nmov edi, ${b}\ncmpsd\nhlt`)).toEqual({ kind: 'halted' });
      const errs = m.km!.recall();
      expect(errs).toHaveLength(1);
      expect(errs[0].address).toBe(initSide === 'src' ? b : a);
      expect(errs[0].eip).toBe(instrAddrs(m)[4]);
    }
  });

  it('STOS initializes, LODS and SCAS read, with DF set too', () => {
    const m = both(
      `std
       mov edi, D + 12
       mov eax, 0xabcdef01
       mov ecx, 3
       rep stosd
       cld
       mov esi, D + 4
       lodsd
       lodsd
       mov edi, D + 16
       scasd
       hlt`,
      (x) => track(x, x.data[0]),
    );
    const d = m.data[0];
    const eips = instrAddrs(m);
    // STOSD with DF=1 wrote D+12, D+8, D+4; LODSD reads D+4 and D+8 (clean); SCASD reads D+16 (uninitialized).
    expect(m.km!.recall().map((e) => [e.eip, e.address - d])).toEqual([[eips[10], 16]]);
  });
});

describe('kmemcheck: stack instructions', () => {
  it('PUSH/POP on a tracked stack page (code at CPL 1, so the #PF frame goes to the ring-0 stack)', () => {
    const m = both(
      `push eax
       pop ebx
       pop ecx
       push dword ptr [D2 + 8]
       pop edx
       pushfd
       pop esi
       int3`,
      (x) => {
        track(x, x.data[0]);
        track(x, x.data[1]);
      },
      (x) => ({ cpl1: true, regs: { esp: x.data[0] + 0x800, eax: 0x1234 }, eflags: 0x202 }),
    );
    const d = m.data[0];
    const eips = instrAddrs(m);
    const errs = m.km!.recall();
    expect(errs.map((e) => [e.eip, e.address - d])).toEqual([
      [eips[2], 0x800], // POP ECX: the slot below the pushed value was never written
      [eips[4], 0x800], // POP EDX: PUSH [D2+8] copied uninitialized bytes onto the stack silently
    ]);
    // PUSHFD pushed the program's flags, not the TF/IF kmemcheck used for the step.
    expect(m.k.cpu.regs[6] & (TF | IF)).toBe(IF);
    expect(m.km!.hiding.stats.extraFaults).toBe(0);
  });

  it('PUSH m and POP m with an untracked stack: the read of PUSH [m] is checked, POP [m] initializes', () => {
    const m = both(
      `push dword ptr [D + 8]
       pop dword ptr [D + 16]
       mov eax, [D + 16]
       push dword ptr [D + 16]
       pop eax
       hlt`,
      (x) => track(x, x.data[0]),
    );
    const eips = instrAddrs(m);
    expect(m.km!.recall().map((e) => [e.eip, e.address - m.data[0]])).toEqual([[eips[0], 8]]);
  });

  it('PUSHA/POPA, CALL/RET, ENTER/LEAVE on a tracked stack', () => {
    const m = both(
      `call 1f
       jmp 2f
     1: enter 8, 0
       mov eax, [ebp - 4]
       leave
       ret
     2: pushad
       popad
       pop eax
       int3`,
      (x) => track(x, x.data[0]),
      (x) => ({ cpl1: true, regs: { esp: x.data[0] + 0x800, ebp: x.data[0] + 0x900 }, eflags: 0x202 }),
    );
    const d = m.data[0];
    const eips = instrAddrs(m);
    expect(m.km!.recall().map((e) => [e.eip, e.address - d])).toEqual([
      [eips[3], 0x7f4], // [ebp-4]: ENTER's locals were never written (return address at 7FC, saved EBP at 7F8)
      [eips[8], 0x800], // POP EAX above the area PUSHAD wrote: never written
    ]);
    expect(m.km!.hiding.stats.extraFaults).toBe(0);
  });
});

describe('kmemcheck: the single-step protocol', () => {
  it('after the step the page is hidden again (P clear, hidden bit set) and TF/IF are what the program had', () => {
    for (const eflags of [0x202, 0x002]) {
      const m = machine();
      const d = m.data[0];
      m.km!.track(d, 4096);
      const seen: { pte: number; eflags: number; pending: boolean }[] = [];
      const probe = m.k.bindRoutine((k) => {
        seen.push({ pte: k.as.readPte(d), eflags: k.cpu.getEflags(), pending: m.km!.hiding.stepPending });
      });
      expect(m.run(`mov eax, [D]\nmov ebx, ${probe >>> 0}\ncall ebx\nmov dword ptr [D], eax\ncall ebx\nhlt`, { eflags })).toEqual({ kind: 'halted' });
      expect(seen).toHaveLength(2);
      for (const s of seen) {
        expect(s.pte & PTE_P).toBe(0);
        expect(s.pte & PTE_HIDDEN).toBe(PTE_HIDDEN);
        expect(s.eflags & (TF | IF)).toBe(eflags & IF);
        expect(s.pending).toBe(false);
      }
      expect(m.k.cpu.getEflags() & (TF | IF)).toBe(eflags & IF);
    }
  });

  it('a program that single-steps itself still gets every #DB (kmemcheck chains to the previous handler)', () => {
    const runs = [false, true].map((withKm) => {
      const m = machine({ kmemcheck: false });
      const traps: number[] = [];
      m.k.setTrapHandler(1, (k, f: TrapFrame) => {
        traps.push(f.eip >>> 0);
        k.cpu.dr[6] = 0;
      });
      if (withKm) {
        m.km = Kmemcheck.attach(m.k);
        m.km.track(m.data[0], 4096);
      }
      expect(
        m.run(`pushfd
               or dword ptr [esp], 0x100
               popfd
               mov eax, [D]
               nop
               mov dword ptr [D + 4], 5
               pushfd
               and dword ptr [esp], ~0x100
               popfd
               hlt`),
      ).toEqual({ kind: 'halted' });
      return { traps, state: architecturalState(m.k), errs: m.km?.recall().length ?? 0 };
    });
    expect(runs[1].traps).toEqual(runs[0].traps);
    expect(runs[1].traps.length).toBe(6);
    expect(runs[1].state).toEqual(runs[0].state);
    expect(runs[1].errs).toBe(1);
  });

  it('faults that are not on hidden pages go to the handler installed before (here: the user-program policy)', () => {
    const m = machine({ kmemcheck: false });
    installUserTraps(m.k);
    m.km = Kmemcheck.attach(m.k);
    m.km.track(m.data[0], 4096);
    const stop = m.run(`mov eax, [D]\nmov ebx, [0x1000]\nhlt`);
    expect(stop).toMatchObject({ kind: 'fault', vector: 14 });
    expect(stop && 'message' in stop ? stop.message : '').toMatch(/^SIGSEGV: #PF page fault accessing 0x1000 \(supervisor read, page not present\)/);
    expect(m.km.recall()).toHaveLength(1);
  });
});

describe('kmemcheck: the error queue', () => {
  it('drops an error from the same EIP as the previous one (a loop over an uninitialized buffer reports once)', () => {
    const m = machine();
    m.km!.track(m.data[0], 4096);
    expect(m.run(`mov esi, D\nmov ecx, 16\n1: mov eax, [esi]\nadd esi, 4\nloop 1b\nhlt`)).toEqual({ kind: 'halted' });
    const errs = m.km!.recall();
    expect(errs).toHaveLength(1);
    expect(errs[0].address).toBe(m.data[0]);
    expect(m.km!.errors.suppressed).toBe(15);
  });

  it('keeps 64 errors and counts the rest as lost', () => {
    const m = machine();
    m.km!.track(m.data[0], 4096);
    const loads = Array.from({ length: 70 }, (_, i) => `mov eax, [D + ${4 * i}]`).join('\n');
    expect(m.run(`${loads}\nhlt`)).toEqual({ kind: 'halted' });
    expect(m.km!.errors.length).toBe(64);
    expect(m.km!.errors.lost).toBe(6);
    const text = m.km!.recallText();
    expect(text.split('\n').filter((l) => l.startsWith('WARNING: kmemcheck:'))).toHaveLength(64);
    expect(text.endsWith('kmemcheck: Lost 6 error reports because the queue was too small')).toBe(true);
    expect(m.km!.errors.lost).toBe(0);
    // Drained: the queue takes new errors again.
    expect(m.run(`mov eax, [D + 0x800]\nhlt`)).toEqual({ kind: 'halted' });
    expect(m.km!.recall()).toHaveLength(1);
  });
});

describe('kmemcheck: modes', () => {
  it('one-shot: the first report switches kmemcheck off (pages present, no more faults)', () => {
    const m = machine({ kmemcheck: { oneShot: true } });
    const d = m.data[0];
    m.km!.track(d, 4096);
    expect(m.run(`mov eax, [D]\nmov ebx, [D + 8]\nmov ecx, [D + 16]\nhlt`)).toEqual({ kind: 'halted' });
    expect(m.km!.recall()).toHaveLength(1);
    expect(m.km!.enabled).toBe(false);
    expect(m.k.as.readPte(d) & PTE_P).toBe(PTE_P);
    expect(m.km!.hiding.stats.faults).toBe(1);
  });

  it('run-time off and on: no faults while off; hidden again when on', () => {
    const m = machine();
    const d = m.data[0];
    m.km!.track(d, 4096);
    m.km!.setEnabled(false);
    expect(m.run(`mov eax, [D]\nhlt`)).toEqual({ kind: 'halted' });
    expect(m.km!.hiding.stats.faults).toBe(0);
    expect(m.km!.recall()).toHaveLength(0);
    m.km!.setEnabled(true);
    expect(m.k.as.readPte(d) & PTE_P).toBe(0);
    expect(m.run(`mov eax, [D + 4]\nhlt`)).toEqual({ kind: 'halted' });
    expect(m.km!.recall()).toHaveLength(1);
  });

  it('starting disabled, and untrack(): the page is an ordinary page again', () => {
    const m = machine({ kmemcheck: { enabled: false } });
    const d = m.data[0];
    m.km!.track(d, 4096);
    expect(m.k.as.readPte(d) & PTE_P).toBe(PTE_P);
    m.km!.setEnabled(true);
    m.km!.untrack(d, 4096);
    expect(m.k.as.readPte(d) & (PTE_P | PTE_HIDDEN)).toBe(PTE_P);
    expect(m.km!.shadow.isTracked(d)).toBe(false);
    expect(m.run(`mov eax, [D]\nhlt`)).toEqual({ kind: 'halted' });
    expect(m.km!.hiding.stats.faults).toBe(0);
  });
});

describe('kmemcheck: allocator hooks', () => {
  it('new slab pages are unallocated, objects uninitialized (zeroed/notrack initialized), freed objects freed', () => {
    const m = machine();
    const d = m.data[0];
    const hooks = kmemcheckSlabHooks(m.km!);
    hooks.newSlabPages(d, 4096, { name: 'kmalloc-32' });
    hooks.objectAllocated(d + 64, 32);
    hooks.objectAllocated(d + 128, 32, { zeroed: true });
    hooks.objectAllocated(d + 192, 32, { notrack: true });
    hooks.objectAllocated(d + 256, 32);
    hooks.objectFreed(d + 256, 32);
    hooks.pagesAllocated(m.data[1], 4096, { zeroed: false });
    expect(m.km!.shadow.get(d + 256)).toBe(SHADOW_FREED);
    expect(
      m.run(`mov eax, [D]
             mov eax, [D + 64]
             mov eax, [D + 128]
             mov eax, [D + 192]
             mov eax, [D + 256]
             mov eax, [D2]
             hlt`),
    ).toEqual({ kind: 'halted' });
    expect(m.km!.recall().map((e) => [e.address - d, e.stateName])).toEqual([
      [0, 'unallocated'],
      [64, 'uninitialized'],
      [256, 'freed'],
      [4096, 'uninitialized'],
    ]);
    hooks.pagesFreed(m.data[1], 4096);
    expect(m.km!.hiding.isHidden(m.data[1])).toBe(false);
    expect(m.km!.shadow.isTracked(m.data[1])).toBe(false);
  });

  it('SLAB_NOTRACK caches are not tracked; caches with a constructor keep object state across free', () => {
    const m = machine();
    const [a, b] = m.data;
    const hooks = kmemcheckSlabHooks(m.km!);
    hooks.newSlabPages(a, 4096, { notrack: true });
    expect(m.km!.shadow.isTracked(a)).toBe(false);
    const cache = { name: 'with-ctor', ctor: () => undefined };
    hooks.newSlabPages(b, 4096, cache);
    m.km!.markInitialized(b, 64); // what the constructor wrote
    hooks.objectAllocated(b, 64, { cache });
    hooks.objectFreed(b, 64, cache);
    expect(m.km!.shadow.get(b)).toBe(SHADOW_INITIALIZED);
  });
});

describe('kmemcheck: reports', () => {
  it('prints the report as kmemcheck did, with a frame-pointer backtrace through a symbolizer, and a JSON finding', () => {
    const m = machine();
    const d = m.data[0];
    const code = m.code;
    m.km!.track(d, 4096);
    m.km!.markInitialized(d, 8);
    const src = `main:
        mov ebp, 0
        call f_outer
        hlt
      .org 0x100
      f_outer:
        push ebp
        mov ebp, esp
        call f_inner
        pop ebp
        ret
      .org 0x200
      f_inner:
        push ebp
        mov ebp, esp
        mov eax, [D + 0x14]
        pop ebp
        ret`;
    expect(m.run(src)).toEqual({ kind: 'halted' });
    const fns: [string, number][] = [['main', 0], ['f_outer', 0x100], ['f_inner', 0x200]];
    const symbolize: Symbolizer = (addr) => {
      for (const [name, off] of fns) {
        const start = code + off;
        if (addr >= start && addr < start + 0x40) return { function: name, offset: addr - start, size: 0x40 };
      }
      return null;
    };
    const errs = m.km!.recall();
    expect(errs).toHaveLength(1);
    const e = errs[0];
    const text = formatReport(e, { symbolize });
    const h = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
    const lines = text.split('\n');
    expect(lines[0]).toBe(`WARNING: kmemcheck: Caught 32-bit read from uninitialized memory (${h(d + 0x14)})`);
    expect(lines[1]).toBe('00'.repeat(32));
    expect(lines[2]).toBe(' i'.repeat(8) + ' u'.repeat(24));
    expect(lines[3]).toBe(' '.repeat(1 + 2 * 0x14) + '^');
    expect(lines[4]).toBe('');
    expect(lines[5]).toMatch(new RegExp(`^EIP: 0060:\\[<${h(code + 0x203)}>\\] EFLAGS: [0-9a-f]{8} CPU: 0$`));
    expect(lines[6]).toBe('EIP is at f_inner+0x3/0x40');
    expect(lines[7]).toMatch(/^EAX: [0-9a-f]{8} EBX: [0-9a-f]{8} ECX: [0-9a-f]{8} EDX: [0-9a-f]{8}$/);
    expect(lines[9]).toBe(' DS: 0068 ES: 0068 FS: 0000 GS: 0000 SS: 0068');
    expect(lines[10]).toMatch(new RegExp(`^CR0: [0-9a-f]{8} CR2: ${h(d + 0x14)} CR3: 00006000 CR4: [0-9a-f]{8}$`));
    expect(lines.slice(13)).toEqual([` [<${h(code + 0x108)}>] f_outer+0x8/0x40`, ` [<${h(code + 10)}>] main+0xa/0x40`]);
    expect(toFinding(e, symbolize)).toEqual({
      kind: 'uninitialized',
      region: 'heap',
      checker: 'kmemcheck',
      access: 'read',
      size: 4,
      address: d + 0x14,
      eip: code + 0x203,
      function: 'f_inner',
      offset: 3,
      stack: [
        { function: 'f_inner', offset: 3, address: code + 0x203 },
        { function: 'f_outer', offset: 8, address: code + 0x108 },
        { function: 'main', offset: 10, address: code + 10 },
      ],
    });
  });
});

describe('kmemcheck: transparency', () => {
  it('a mixed program has identical registers, flags, memory and instruction count with kmemcheck on and off', () => {
    const m = both(
      `mov dword ptr [D], 0x01020304
       mov dword ptr [D + 4], 0x7fffffff
       mov eax, [D]
       add eax, [D + 4]
       xchg eax, [D + 8]
       mov ecx, 3
       xadd [D + 8], ecx
       mov eax, 0
       mov edx, 5
       cmpxchg [D + 12], edx
       bts dword ptr [D + 16], 33
       mov ebx, 2
       bt [D + 16], ebx
       imul esi, dword ptr [D + 4], 7
       mov eax, 100
       xor edx, edx
       div dword ptr [D + 4]
       push dword ptr [D]
       pop dword ptr [D2 - 2]
       movzx edi, word ptr [D2 - 1]
       movsx ebp, byte ptr [D2 + 1]
       setc byte ptr [D + 24]
       cmovz esi, [D + 28]
       neg dword ptr [D + 28]
       shl dword ptr [D + 32], 3
       shld [D + 36], eax, 4
       lea esi, [D + 40]
       mov edi, esi
       lodsd
       stosd
       inc word ptr [D + 44]
       not byte ptr [D + 45]
       hlt`,
      (x) => track(x, x.data[0], 8192),
    );
    expect(m.km!.hiding.stats.extraFaults).toBe(0);
    expect(m.km!.recall().length).toBeGreaterThan(0);
  });
});

describe('kmemcheck: with the block compiler', () => {
  it('hot loops over tracked memory run compiled and interpreted with the same results and reports', () => {
    const src = `mov esi, D
       mov ecx, 300
     1: mov eax, [esi]
       add [esi + 4], eax
       add esi, 8
       cmp eax, 0
       jne 2f
       inc edx
     2: loop 1b
       hlt`;
    const results = [Infinity, 0, 50].map((threshold) => {
      const m = machine();
      m.k.cpu.jitThreshold = threshold;
      m.km!.track(m.data[0], 8192);
      expect(m.run(src)).toEqual({ kind: 'halted' });
      return { state: architecturalState(m.k), errs: m.km!.recall().map((e) => [e.eip, e.address]), faults: m.km!.hiding.stats.faults };
    });
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
    expect(results[0].errs).toHaveLength(1); // one EIP reads uninitialized memory 300 times: reported once
    expect(results[0].faults).toBe(600);
  });
});
