/**
 * 32-bit paging (Intel SDM Vol. 3 §4.3, §4.6 access rights, §4.7 #PF error
 * code, §4.8 accessed and dirty flags, §4.10 TLBs): the whole matrix of
 * PDE/PTE U/S and R/W × read/write × CPL 0/3 × CR0.WP, the P and RSVD
 * error-code bits, CR2, A/D bits, and the TLB's visible behaviour (stale
 * entries until INVLPG or a CR3 write; global pages across CR3 writes).
 *
 * The test page is linear 0x40000000, in its own page table (so flipping its
 * PDE does not affect the code or the stacks), mapped to physical DATA.
 */
import { describe, expect, it } from 'vitest';
import type { StopReason } from '../../src/cpu/stop.js';
import { L, SystemMachine } from './machine.js';

const VA = 0x40000000;
const PT2 = 0x102000;
const P = 1, RW = 2, US = 4, A = 0x20, D = 0x40, PS = 0x80, G = 0x100;
const PF = 14;

function machine(): SystemMachine {
  const m = new SystemMachine({ paging: true });
  for (let i = 0; i < 1024; i++) m.w32(PT2 + 4 * i, 0);
  m.setPde(VA, PT2 | P | RW | US);
  m.w32(PT2, L.DATA | P | RW | US);
  m.cpu.writeControlRegister(3, m.cpu.cr3);
  return m;
}
/** Reset a machine between cases: flush the TLB, clear the recorded deliveries and the stop. */
function rerun(m: SystemMachine, cpl: number, src: string): StopReason | null {
  m.events.length = 0;
  m.cpu.stopReason = null;
  m.cpu.writeControlRegister(3, m.cpu.cr3);
  return m.runAt(cpl, `${src}\nmov eax, 0x600d\njmp EXIT`);
}

describe('#PF error code and CR2: PDE/PTE U/S and R/W × read/write × CPL × CR0.WP', () => {
  // Expected outcome from the SDM's rules (§4.6.1), written independently of the CPU's walk:
  // user accesses need U/S = 1 in both entries and, for writes, R/W = 1 in both;
  // supervisor accesses may touch user pages; supervisor writes need R/W = 1 in both only when CR0.WP = 1.
  function allowed(pdeUs: number, pdeRw: number, pteUs: number, pteRw: number, write: boolean, cpl: number, wp: boolean): boolean {
    const user = cpl === 3;
    const us = pdeUs & pteUs;
    const rw = pdeRw & pteRw;
    if (user && !us) return false;
    if (write && !rw && (user || wp)) return false;
    return true;
  }
  for (const cpl of [0, 3]) {
    for (const wp of [false, true]) {
      it(`CPL ${cpl}, CR0.WP = ${wp ? 1 : 0}: all 32 combinations`, () => {
        const m = machine();
        if (wp) m.cpu.writeControlRegister(0, m.cpu.cr0 | 0x10000);
        const rows: string[] = [];
        const want: string[] = [];
        for (let bits = 0; bits < 16; bits++) {
          const [pdeUs, pdeRw, pteUs, pteRw] = [(bits >> 3) & 1, (bits >> 2) & 1, (bits >> 1) & 1, bits & 1];
          for (const write of [false, true]) {
            m.setPde(VA, PT2 | P | (pdeRw ? RW : 0) | (pdeUs ? US : 0));
            m.w32(PT2, L.DATA | P | (pteRw ? RW : 0) | (pteUs ? US : 0));
            m.w32(L.DATA + 0x10, 0x5a5a);
            const stop = rerun(m, cpl, write ? `mov dword ptr [${VA + 0x10}], 0x77` : `mov eax, [${VA + 0x10}]\nmov [${L.DATA + 0x100}], eax`);
            const name = `PDE U/S=${pdeUs} R/W=${pdeRw} PTE U/S=${pteUs} R/W=${pteRw} ${write ? 'write' : 'read'}`;
            const ok = allowed(pdeUs, pdeRw, pteUs, pteRw, write, cpl, wp);
            const err = P | (write ? 2 : 0) | (cpl === 3 ? 4 : 0);
            want.push(`${name}: ${ok ? 'ok' : `#PF(${err}) cr2=${(VA + 0x10).toString(16)} eip=${L.CODE.toString(16)}`}`);
            if (stop?.kind === 'exited') rows.push(`${name}: ok`);
            else if (stop?.kind === 'fault' && stop.vector === PF) rows.push(`${name}: #PF(${stop.errorCode}) cr2=${m.events[0].cr2.toString(16)} eip=${(stop.eip >>> 0).toString(16)}`);
            else rows.push(`${name}: ${JSON.stringify(stop)}`);
            // A faulting write leaves memory alone; an allowed one lands.
            if (write) expect(m.r32(L.DATA + 0x10), name).toBe(ok ? 0x77 : 0x5a5a);
          }
        }
        expect(rows).toEqual(want);
      });
    }
  }
});

describe('not present and reserved bits', () => {
  it('a not-present PTE or PDE: P = 0 in the error code, W/R and U/S as for the access', () => {
    const m = machine();
    m.w32(PT2, 0);
    expect(rerun(m, 3, `mov dword ptr [${VA + 4}], 1`)).toMatchObject({ kind: 'fault', vector: PF, errorCode: 6 });
    expect(m.events[0].cr2).toBe(VA + 4);
    m.w32(PT2, L.DATA | P | RW | US);
    m.setPde(VA, PT2 | RW | US); // PDE not present
    expect(rerun(m, 0, `mov eax, [${VA + 8}]`)).toMatchObject({ kind: 'fault', vector: PF, errorCode: 0 });
    expect(m.events[0].cr2).toBe(VA + 8);
  });
  it('a 4-MiB page (CR4.PSE, PDE.PS) maps with the PDE alone; reserved bits 21:13 set → RSVD | P in the error code', () => {
    const m = machine();
    m.cpu.writeControlRegister(4, m.cpu.cr4 | 0x10);
    m.setPde(VA, 0 | PS | P | RW | US); // 4 MiB at physical 0
    m.w32(0x30, 0xfeed);
    expect(rerun(m, 3, `mov eax, [${VA + 0x30}]\nmov [${L.DATA}], eax`)).toEqual({ kind: 'exited', status: 0x600d });
    expect(m.r32(L.DATA)).toBe(0xfeed);
    for (const bit of [13, 17, 21]) {
      m.setPde(VA, (1 << bit) | PS | P | RW | US);
      expect(rerun(m, 3, `mov eax, [${VA + 0x30}]`), `bit ${bit}`).toMatchObject({ kind: 'fault', vector: PF, errorCode: 8 | 4 | 1 });
      expect(rerun(m, 0, `mov dword ptr [${VA + 0x30}], 0`), `bit ${bit}`).toMatchObject({ kind: 'fault', vector: PF, errorCode: 8 | 2 | 1 });
    }
  });
  it('without CR4.PSE the PS bit is ignored: the PDE points to a page table', () => {
    const m = machine();
    m.setPde(VA, PT2 | PS | P | RW | US);
    m.w32(L.DATA + 0x30, 0xbeef);
    expect(rerun(m, 0, `mov eax, [${VA + 0x30}]\nmov [${L.DATA + 4}], eax`)).toEqual({ kind: 'exited', status: 0x600d });
    expect(m.r32(L.DATA + 4)).toBe(0xbeef);
  });
});

describe('accessed and dirty bits (SDM §4.8)', () => {
  it('a read sets A in the PDE and PTE; a write sets D in the PTE (also after a read cached the page)', () => {
    const m = machine();
    expect(rerun(m, 3, `mov eax, [${VA}]`)).toMatchObject({ kind: 'exited' });
    expect(m.pde(VA) & (A | D)).toBe(A);
    expect(m.r32(PT2) & (A | D)).toBe(A);
    m.events.length = 0;
    m.cpu.stopReason = null;
    expect(m.runAt(3, `mov eax, [${VA}]\nmov [${VA}], eax\njmp EXIT`)).toMatchObject({ kind: 'exited' });
    expect(m.r32(PT2) & (A | D)).toBe(A | D);
    expect(m.pde(VA) & D).toBe(0); // D is defined only for entries that map a page
  });
  it('a 4-MiB page gets A and D in its PDE', () => {
    const m = machine();
    m.cpu.writeControlRegister(4, m.cpu.cr4 | 0x10);
    m.setPde(VA, PS | P | RW | US);
    rerun(m, 0, `mov eax, [${VA + 0x40}]`);
    expect(m.pde(VA) & (A | D)).toBe(A);
    rerun(m, 0, `mov [${VA + 0x40}], eax`);
    expect(m.pde(VA) & (A | D)).toBe(A | D);
  });
  it('a faulting write does not set D', () => {
    const m = machine();
    m.w32(PT2, L.DATA | P | US); // read-only
    expect(rerun(m, 3, `mov [${VA}], eax`)).toMatchObject({ kind: 'fault', vector: PF, errorCode: 7 });
    expect(m.r32(PT2) & D).toBe(0);
  });
});

describe('the TLB (SDM §4.10)', () => {
  const SRC_B = L.DATA + 0x1000;
  function twoPages(): SystemMachine {
    const m = machine();
    m.w32(L.DATA, 0xaaaa);
    m.w32(SRC_B, 0xbbbb);
    return m;
  }
  /** Read VA into ECX, remap the PTE to page B (in guest code, as a kernel would), `between`, read VA into EDX. */
  const remapSrc = (between: string, newPte = SRC_B | P | RW | US): string =>
    [`mov ecx, [${VA}]`, `mov dword ptr [${PT2}], ${newPte}`, between, `mov edx, [${VA}]`].join('\n');
  const seen = (m: SystemMachine): [number, number] => [m.cpu.regs[1] >>> 0, m.cpu.regs[2] >>> 0];

  it('a changed PTE stays invisible while the old translation is cached', () => {
    const m = twoPages();
    expect(rerun(m, 0, remapSrc('nop'))).toMatchObject({ kind: 'exited' });
    expect(seen(m)).toEqual([0xaaaa, 0xaaaa]);
  });
  it('INVLPG of the page makes it visible; INVLPG of another page does not', () => {
    const m = twoPages();
    rerun(m, 0, remapSrc(`invlpg [${VA}]`));
    expect(seen(m)).toEqual([0xaaaa, 0xbbbb]);
    rerun(m, 0, `mov dword ptr [${PT2}], ${L.DATA | 7}\ninvlpg [${VA}]\n` + remapSrc(`invlpg [${VA + 0x1000}]`));
    expect(seen(m)).toEqual([0xaaaa, 0xaaaa]);
  });
  it('INVLPG of a code page reaches compiled, linked code; INVLPG of a data page leaves it running', () => {
    // VA holds `mov eax, 1; ret` (page A) or, after the remap, `mov eax, 2; ret` (page B). A hot loop calls it
    // (its blocks compiled and linked to each other by the run loop), INVLPGs a data page (the links may stay),
    // remaps VA to page B, INVLPGs it and calls again: the new code must run.
    const m = machine();
    m.writeBytes(L.DATA, [0xb8, 1, 0, 0, 0, 0xc3]);
    m.writeBytes(SRC_B, [0xb8, 2, 0, 0, 0, 0xc3]);
    // One loop, so the same blocks (and links) run before and after the remap at its 200th trip.
    const src = [
      'xor edi, edi', 'mov esi, 400', 'top:', `mov ebx, ${VA}`, 'call ebx', 'add edi, eax', `invlpg [${L.DATA + 0x2000}]`,
      'cmp esi, 201', 'jne next', `mov dword ptr [${PT2}], ${SRC_B | P | RW | US}`, `invlpg [${VA}]`, 'next:', 'dec esi', 'jnz top',
    ].join('\n');
    expect(rerun(m, 0, src)).toMatchObject({ kind: 'exited' });
    expect(m.cpu.regs[7]).toBe(200 * 1 + 200 * 2);
  });
  it('a CR3 write flushes it', () => {
    const m = twoPages();
    rerun(m, 0, remapSrc('mov eax, cr3\nmov cr3, eax'));
    expect(seen(m)).toEqual([0xaaaa, 0xbbbb]);
  });
  it('a page made not present stays usable until invalidated', () => {
    const m = twoPages();
    expect(rerun(m, 0, remapSrc('nop', 0))).toMatchObject({ kind: 'exited' });
    expect(seen(m)).toEqual([0xaaaa, 0xaaaa]);
    expect(rerun(m, 0, [`mov ecx, [${VA}]`, `mov dword ptr [${PT2}], 0`, `invlpg [${VA}]`, `mov edx, [${VA}]`].join('\n'))).toMatchObject({ kind: 'fault', vector: PF, errorCode: 0 });
  });
  it('global pages (CR4.PGE and PTE.G) survive a CR3 write but not INVLPG', () => {
    const m = twoPages();
    m.cpu.writeControlRegister(4, m.cpu.cr4 | 0x80);
    m.w32(PT2, L.DATA | P | RW | US | G);
    // (rerun() writes CR3 before anything has cached VA; the snippet's own CR3 write keeps the global entry.)
    rerun(m, 0, `mov ecx, [${VA}]\nmov dword ptr [${PT2}], ${SRC_B | 7 | G}\nmov eax, cr3\nmov cr3, eax\nmov edx, [${VA}]`);
    expect(seen(m)).toEqual([0xaaaa, 0xaaaa]);
    m.w32(PT2, L.DATA | P | RW | US | G);
    rerun(m, 0, `invlpg [${VA}]\nmov ecx, [${VA}]\nmov dword ptr [${PT2}], ${SRC_B | 7 | G}\ninvlpg [${VA}]\nmov edx, [${VA}]`);
    expect(seen(m)).toEqual([0xaaaa, 0xbbbb]);
  });
  it('the G bit without CR4.PGE does nothing; clearing CR4.PGE flushes global entries', () => {
    const m = twoPages();
    m.w32(PT2, L.DATA | P | RW | US | G);
    rerun(m, 0, `mov ecx, [${VA}]\nmov dword ptr [${PT2}], ${SRC_B | 7 | G}\nmov eax, cr3\nmov cr3, eax\nmov edx, [${VA}]`);
    expect(seen(m)).toEqual([0xaaaa, 0xbbbb]);
    const n = twoPages();
    n.cpu.writeControlRegister(4, n.cpu.cr4 | 0x80);
    n.w32(PT2, L.DATA | P | RW | US | G);
    rerun(n, 0, `mov ecx, [${VA}]\nmov dword ptr [${PT2}], ${SRC_B | 7 | G}\nmov eax, cr4\nand eax, ~0x80\nmov cr4, eax\nmov edx, [${VA}]`);
    expect(seen(n)).toEqual([0xaaaa, 0xbbbb]);
  });
});

describe('descriptor-table accesses are supervisor accesses at any CPL (SDM §4.6, §3.4.5.1)', () => {
  it('a GDT on a supervisor-only page still serves segment loads at CPL 3', () => {
    const m = machine();
    m.setPte(L.GDT, L.GDT | P | RW);
    expect(rerun(m, 3, `mov ax, ${0x43}\nmov ds, ax`)).toEqual({ kind: 'exited', status: 0x600d });
  });
  it('setting the accessed bit writes the descriptor: on a read-only GDT page with CR0.WP that is a supervisor-write #PF at the type byte', () => {
    const m = machine();
    m.cpu.writeControlRegister(0, m.cpu.cr0 | 0x10000);
    m.setPte(L.GDT, L.GDT | P | US); // read-only
    m.handlerGate(PF, { ring: 1 }); // the #PF handler's CS descriptor is not accessed yet either: keep it...
    m.w32(L.GDT + 3 * 8 + 4, m.r32(L.GDT + 3 * 8 + 4) | 0x100); // ...already marked (CODE1), as is SS1
    m.w32(L.GDT + 4 * 8 + 4, m.r32(L.GDT + 4 * 8 + 4) | 0x100);
    expect(rerun(m, 3, `mov ax, ${0x43}\nmov ds, ax`)).toMatchObject({ kind: 'fault', vector: PF, errorCode: 3, eip: L.CODE + 4 });
    expect(m.events[0].cr2).toBe(L.GDT + 8 * 8 + 5);
    // With the bit already set nothing is written, and the load works (how Linux keeps its GDT read-only).
    m.w32(L.GDT + 8 * 8 + 4, m.r32(L.GDT + 8 * 8 + 4) | 0x100);
    expect(rerun(m, 3, `mov ax, ${0x43}\nmov ds, ax`)).toEqual({ kind: 'exited', status: 0x600d });
  });
});
