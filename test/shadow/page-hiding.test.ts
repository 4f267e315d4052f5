/**
 * The page-hiding service (src/kernel/page-hiding.ts) with plain clients:
 * hiding splits the kernel's 4 MiB direct-map page without changing any
 * translation; the #PF → show + TF → #DB → hide protocol; chaining; the
 * access decoder's role; several clients; code on a hidden page.
 */
import { describe, expect, it } from 'vitest';
import { mnemonicOf } from '../../src/cpu/decoder.js';
import { Kernel, type TrapFrame } from '../../src/kernel/kernel.js';
import { kva } from '../../src/kernel/layout.js';
import { PageHidingService, type HiddenFault, type PageHidingClient } from '../../src/kernel/page-hiding.js';
import { PTE_HIDDEN, PTE_P, PTE_PS } from '../../src/kernel/paging.js';
import { decodeAccesses } from '../../src/shadow/access.js';
import { assemble } from '../helpers/asm.js';
import { readStackWords } from '../../src/kernel/dumpstack.js';
import { MEM } from './fixture.js';

const TF = 0x100, IF = 0x200;

interface Seen {
  eip: number;
  cr2: number;
  errorCode: number;
  mnemonic: string;
  repeat: boolean;
  accesses: number;
}
class Recorder implements PageHidingClient {
  readonly seen: Seen[] = [];
  steps = 0;
  constructor(readonly name: string) {}
  onFault(f: HiddenFault): void {
    this.seen.push({ eip: f.eip >>> 0, cr2: f.cr2 >>> 0, errorCode: f.errorCode, mnemonic: mnemonicOf(f.ins), repeat: f.repeat, accesses: f.accesses.count });
  }
  onStepDone(): void {
    this.steps++;
  }
}

function setup(decoder = true): { k: Kernel; svc: PageHidingService; pages: number[]; code: number; run: (src: string, eflags?: number) => ReturnType<Kernel['cpu']['run']> } {
  const k = new Kernel({ memorySize: MEM });
  const svc = new PageHidingService(k);
  svc.install();
  if (decoder) svc.setAccessDecoder(decodeAccesses);
  const pages = [0, 1, 2].map(() => kva(k.frames.alloc()) >>> 0);
  const code = kva(k.frames.alloc()) >>> 0;
  const run = (src: string, eflags = 0x2): ReturnType<Kernel['cpu']['run']> => {
    const names: Record<string, number> = { A: pages[0], B: pages[1], C: pages[2] };
    const text = src.replace(/\b(A|B|C)\b/g, (n) => `0x${names[n].toString(16)}`);
    k.mem.write(code, assemble(text, { base: code }));
    k.cpu.stopReason = null;
    k.cpu.eip = code;
    k.cpu.setEflags(eflags, 0x3f7fd5);
    return k.cpu.run(100_000);
  };
  return { k, svc, pages, code, run };
}

describe('page-hiding service: hiding and showing', () => {
  it('hiding a direct-map page splits its 4 MiB page with identical translations, clears P and sets the hidden bit', () => {
    const { k, svc } = setup();
    const c = new Recorder('c');
    svc.register(c);
    // A page of the second 4 MiB of the direct map (boot already split the first, for the kernel stack's guard page).
    const a = kva(0x400000 + 0x5000) >>> 0;
    k.mem.write(a, new Uint8Array(4096));
    const pdeAddr = k.as.pgdir + (a >>> 22) * 4;
    expect(k.mem.readPhys32(pdeAddr) & PTE_PS).toBe(PTE_PS);
    const base = (a & 0xffc00000) >>> 0;
    const before = Array.from({ length: 1024 }, (_, i) => k.cpu.lookupPhys((base + i * 4096) | 0, true, false));
    svc.hidePage(a, c);
    expect(k.mem.readPhys32(pdeAddr) & PTE_PS).toBe(0);
    const after = Array.from({ length: 1024 }, (_, i) => k.cpu.lookupPhys((base + i * 4096) | 0, true, false));
    const hiddenIndex = (a - base) / 4096;
    expect(after[hiddenIndex]).toBe(-1);
    after[hiddenIndex] = before[hiddenIndex];
    expect(after).toEqual(before);
    const pte = k.as.readPte(a);
    expect(pte & (PTE_P | PTE_HIDDEN)).toBe(PTE_HIDDEN);
    expect(svc.isHidden(a + 123)).toBe(true);
    expect(svc.ownerOf(a)).toBe(c);
    expect(svc.peek8(a)).toBe(0);
    expect(svc.poke(a + 4, new Uint8Array([1, 2, 3]))).toBe(true);
    expect(svc.peek32(a + 4)).toBe(0x030201);
    svc.showPage(a);
    expect(k.as.readPte(a) & (PTE_P | PTE_HIDDEN)).toBe(PTE_P);
    expect(svc.isHidden(a)).toBe(false);
    expect(k.mem.read32(a + 4)).toBe(0x030201);
  });

  it('clients must register; a page several clients hide stays hidden until the last lets it go', () => {
    const { svc, pages } = setup();
    const a = new Recorder('a');
    const b = new Recorder('b');
    expect(() => svc.hidePage(pages[0], a)).toThrow(/not registered/);
    svc.register(a);
    svc.register(b);
    svc.hidePage(pages[0], a);
    svc.hidePage(pages[0], a);
    svc.hidePage(pages[0], b);
    expect(svc.ownerOf(pages[0])).toBe(a);
    expect(svc.isHiddenBy(pages[0], a) && svc.isHiddenBy(pages[0], b)).toBe(true);
    expect(svc.pagesOf(b)).toEqual([pages[0] >>> 12]);
    // Suspending one owner leaves the page hidden for the other.
    svc.suspend(a);
    expect(svc.isHidden(pages[0])).toBe(true);
    expect(svc.physOf(pages[0]) >= 0 && (svc.kernel.as.readPte(pages[0]) & PTE_P)).toBe(0);
    svc.resume(a);
    svc.unregister(a);
    expect(svc.isHidden(pages[0])).toBe(true);
    expect(svc.ownerOf(pages[0])).toBe(b);
    svc.showPage(pages[0], a);
    expect(svc.isHidden(pages[0])).toBe(true);
    svc.showPage(pages[0], b);
    expect(svc.isHidden(pages[0])).toBe(false);
    expect(svc.kernel.as.readPte(pages[0]) & (PTE_P | PTE_HIDDEN)).toBe(PTE_P);
  });

  it('on a shared page every owner is called once, in `order` then registration order; a client can defer the access', () => {
    const { svc, pages, run } = setup();
    const calls: string[] = [];
    let defer = 1;
    const mk = (name: string, order?: number, deferring = false): PageHidingClient => ({
      name,
      ...(order !== undefined ? { order } : {}),
      onFault(f) {
        calls.push(`${name} fault`);
        // Deferring without rewriting the frame: the instruction simply faults again.
        if (deferring && defer-- > 0) f.deferred = true;
      },
      onStepDone() {
        calls.push(`${name} step`);
      },
    });
    const a = mk('a');
    const b = mk('b');
    const w = mk('w', -10, true);
    for (const c of [a, b, w]) svc.register(c);
    for (const c of [a, b, w]) svc.hidePage(pages[0], c);
    expect(run('mov eax, [A]\nhlt')).toEqual({ kind: 'halted' });
    expect(calls).toEqual(['w fault', 'w fault', 'a fault', 'b fault', 'w step', 'a step', 'b step']);
    expect(svc.stats).toMatchObject({ faults: 2, steps: 1 });
  });
});

describe('page-hiding service: host-side reads', () => {
  it('peek32 reads a dword as four peek8 do: hidden pages, across a page boundary, unmapped, the end of RAM', () => {
    const { k, svc, pages } = setup();
    const c = new Recorder('c');
    svc.register(c);
    const bytes = Uint8Array.from({ length: 4096 }, (_, i) => (i * 37 + 11) & 0xff);
    k.mem.write(pages[0], bytes);
    k.mem.write(pages[1], bytes.slice().reverse());
    svc.hidePage(pages[0], c);
    const bytewise = (lin: number): number | null => {
      let v = 0;
      for (let i = 0; i < 4; i++) {
        const b = svc.peek8((lin + i) | 0);
        if (b < 0) return null;
        v |= b << (8 * i);
      }
      return v;
    };
    const unmapped = 0x1000; // below the kernel: no user mapping
    const endOfRam = kva(MEM) >>> 0;
    const probes = [pages[0], pages[0] + 1, pages[0] + 0x7fe, pages[0] + 0xffc, pages[0] + 0xffd, pages[0] + 0xfff, pages[1] + 3, unmapped, unmapped - 2, endOfRam - 4, endOfRam - 2];
    for (const lin of probes) expect([lin, svc.peek32(lin | 0)]).toEqual([lin, bytewise(lin | 0)]);
    expect(svc.peek32(pages[0] + 0x7fe)).not.toBe(null);
    expect(svc.peek32(unmapped)).toBe(null);
  });

  it('peekWords reads what readStackWords over peek32 reads: a page at a time, across pages, up to the end of RAM, unaligned', () => {
    const { k, svc, pages } = setup();
    const c = new Recorder('c');
    svc.register(c);
    for (const p of pages) k.mem.write(p, Uint8Array.from({ length: 4096 }, (_, i) => (i * 53 + (p >>> 12)) & 0xff));
    svc.hidePage(pages[1], c);
    const endOfRam = kva(MEM) >>> 0;
    const starts = [pages[0], pages[0] + 0xf00, pages[1] + 0xfc0, pages[1] + 0xf81, pages[2] + 6, endOfRam - 0x40, endOfRam - 0x3e, 0x1000];
    let words = 0;
    for (const lin of starts) {
      const want = new Int32Array(64);
      const n = readStackWords(svc.peek32Fn, lin, 0, want);
      const got = new Int32Array(70).fill(0x5a5a5a5a);
      expect([lin, svc.peekWords(lin | 0, got, 3, 64)]).toEqual([lin, n]);
      expect(Array.from(got.subarray(3, 3 + n))).toEqual(Array.from(want.subarray(0, n)));
      expect(got[2]).toBe(0x5a5a5a5a);
      expect(got[3 + n] ?? 0x5a5a5a5a).toBe(0x5a5a5a5a);
      words += n;
    }
    expect(words).toBeGreaterThan(64 * 4); // most starts read all 64 words; the end of RAM and the unmapped page stop early
  });
});

describe('page-hiding service: the fault-driven single step', () => {
  it('the owner sees EIP, CR2, the error code and the instruction; the page is shown for one instruction with TF set and IF clear', () => {
    const { k, svc, pages, code } = setup();
    const c = new Recorder('c');
    svc.register(c);
    svc.hidePage(pages[0], c);
    const dbFlags: number[] = [];
    k.setTrapHandler(1, (kk, f: TrapFrame) => {
      dbFlags.push(f.eflags);
      svc.onDebug(kk, f);
    });
    expect(svc.stepPending).toBe(false);
    expect(runTwoMovs(k, code, pages)).toEqual({ kind: 'halted' });
    expect(c.seen).toEqual([
      { eip: code, cr2: pages[0] + 8, errorCode: 0, mnemonic: 'mov', repeat: false, accesses: 1 },
      { eip: code + 5, cr2: pages[0] + 12, errorCode: 2, mnemonic: 'mov', repeat: false, accesses: 1 },
    ]);
    expect(c.steps).toBe(2);
    // The #DB frames: the stepped instruction ran with TF set and IF clear.
    expect(dbFlags.map((f) => f & (TF | IF))).toEqual([TF, TF]);
    expect(k.cpu.getEflags() & (TF | IF)).toBe(IF);
    expect(k.as.readPte(pages[0]) & PTE_P).toBe(0);
    expect(svc.stats).toEqual({ faults: 2, steps: 2, extraFaults: 0, unbalanced: 0, emulated: 0 });
    expect(svc.stepPending).toBe(false);
  });

  it('without an access decoder an instruction touching two hidden pages faults twice (the second a repeat) and still runs right', () => {
    for (const decoder of [false, true]) {
      const { k, svc, pages, run } = setup(decoder);
      const c = new Recorder('c');
      svc.register(c);
      svc.hidePage(pages[0], c);
      svc.hidePage(pages[1], c);
      expect(svc.poke(pages[0] + 16, new Uint8Array([0x78, 0x56, 0x34, 0x12]))).toBe(true);
      expect(run(`cld\nmov esi, A + 16\nmov edi, B + 32\nmovsd\nmov eax, [B + 32]\nhlt`, 0x202)).toEqual({ kind: 'halted' });
      expect(k.cpu.regs[0]).toBe(0x12345678);
      expect(c.seen.map((s) => [s.cr2 - pages[0], s.repeat])).toEqual(decoder ? [[16, false], [0x1020, false]] : [[16, false], [0x1020, true], [0x1020, false]]);
      expect(svc.stats.extraFaults).toBe(decoder ? 0 : 1);
      expect(k.cpu.getEflags() & (TF | IF)).toBe(IF);
      for (const p of pages.slice(0, 2)) expect(k.as.readPte(p) & PTE_P).toBe(0);
    }
  });

  it('two clients touched by one instruction are each called once', () => {
    const { svc, pages, run } = setup();
    const a = new Recorder('a');
    const b = new Recorder('b');
    svc.register(a);
    svc.register(b);
    svc.hidePage(pages[0], a);
    svc.hidePage(pages[1], b);
    expect(run(`cld\nmov esi, A\nmov edi, B\nmovsd\nhlt`)).toEqual({ kind: 'halted' });
    expect(a.seen).toHaveLength(1);
    expect(b.seen).toHaveLength(1);
    expect(a.seen[0].cr2).toBe(pages[0]);
    expect(b.seen[0].cr2).toBe(pages[0]); // the fault was on A's page; B was shown with it
    expect(svc.stats.faults).toBe(1);
  });

  it('the client reads the interrupted registers (ESP from before the trap) and the decoder addresses with them', () => {
    const { k, svc, pages, run } = setup();
    const seen: { regs: number[]; eflags: number; access: number }[] = [];
    const c: PageHidingClient = {
      name: 'c',
      onFault(f) {
        seen.push({ regs: [...f.context.regs], eflags: f.context.eflags, access: f.accesses.addr[0] });
      },
    };
    svc.register(c);
    svc.hidePage(pages[0], c);
    // ESP-relative, with ESP on another page (the #PF frame goes below it): the handler's ESP would miss by the frame.
    const src = 'mov eax, 1\nmov ecx, 2\nmov edx, 3\nmov ebx, 4\nmov esi, 6\nmov edi, 7\nmov ebp, esp\nmov esp, B + 64\nmov eax, [esp + A - B - 56]\nmov esp, ebp\nhlt';
    expect(run(src, 0x2)).toEqual({ kind: 'halted' });
    expect(seen).toEqual([{ regs: [1, 2, 3, 4, (pages[1] + 64) | 0, k.cpu.regs[5], 6, 7], eflags: 0x10002, access: (pages[0] + 8) | 0 }]); // RF: a fault's frame
    // The handler's own ESP was back for its IRET: the program went on with its stack.
    expect(k.cpu.regs[4]).toBe(k.cpu.regs[5]);
  });

  it('a page that changed owners between two faults of the same instruction goes to its new owner', () => {
    const { k, svc, pages, run } = setup();
    const a = new Recorder('a');
    const b = new Recorder('b');
    svc.register(a);
    svc.register(b);
    svc.hidePage(pages[0], a);
    const src = 'mov ecx, 3\n1:\nmov eax, [A + 8]\ndec ecx\njnz 1b\nhlt';
    expect(run(src)).toEqual({ kind: 'halted' });
    svc.showPage(pages[0], a);
    svc.hidePage(pages[0], b);
    expect(run(src)).toEqual({ kind: 'halted' });
    expect([a.seen.length, b.seen.length, a.steps, b.steps]).toEqual([3, 3, 3, 3]);
    expect(k.as.readPte(pages[0]) & (PTE_P | PTE_HIDDEN)).toBe(PTE_HIDDEN);
  });

  it('code on a hidden page runs: every fetch faults, is shown for its instruction and hidden again', () => {
    const { k, svc, pages } = setup();
    const c = new Recorder('c');
    svc.register(c);
    const at = pages[2];
    k.mem.write(at, assemble('mov eax, 7\nadd eax, 5\nhlt', { base: at }));
    svc.hidePage(at, c);
    k.cpu.eip = at;
    expect(k.cpu.run(1000)).toEqual({ kind: 'halted' });
    expect(k.cpu.regs[0]).toBe(12);
    expect(c.seen.map((s) => [s.eip - at, s.cr2 - at, s.mnemonic])).toEqual([[0, 0, 'mov'], [5, 5, 'add'], [8, 8, 'hlt']]);
  });

  it('suspend makes the owner\'s pages present (no faults), resume hides them again', () => {
    const { k, svc, pages, run } = setup();
    const c = new Recorder('c');
    svc.register(c);
    svc.hidePage(pages[0], c);
    svc.suspend(c);
    expect(k.as.readPte(pages[0]) & (PTE_P | PTE_HIDDEN)).toBe(PTE_P | PTE_HIDDEN);
    expect(run(`mov eax, [A]\nhlt`)).toEqual({ kind: 'halted' });
    expect(c.seen).toHaveLength(0);
    svc.resume(c);
    expect(run(`mov eax, [A]\nhlt`)).toEqual({ kind: 'halted' });
    expect(c.seen).toHaveLength(1);
  });

  it('faults and #DB traps that are not ours go to the previous handler (none here: the kernel\'s "unexpected interrupt")', () => {
    const { svc, pages, run } = setup();
    const c = new Recorder('c');
    svc.register(c);
    svc.hidePage(pages[0], c);
    expect(run(`mov eax, [0x1000]\nhlt`)).toMatchObject({ kind: 'fault', vector: 14, message: expect.stringMatching(/unexpected interrupt 14/) });
    expect(run(`int1\nhlt`)).toMatchObject({ kind: 'fault', vector: 1 });
    expect(c.seen).toHaveLength(0);
  });
});

/** mov eax, [A + 8] (A1 moffs, 5 bytes); mov [A + 12], eax; hlt — with IF set. */
function runTwoMovs(k: Kernel, code: number, pages: number[]): ReturnType<Kernel['cpu']['run']> {
  k.mem.write(code, assemble(`mov eax, [${pages[0] + 8}]\nmov dword ptr [${pages[0] + 12}], eax\nhlt`, { base: code }));
  k.cpu.eip = code;
  k.cpu.setEflags(0x202, 0x3f7fd5);
  return k.cpu.run(1000);
}
