/**
 * Privileged and IOPL-sensitive instructions (Intel SDM Vol. 3 §5.9, §2.8;
 * Vol. 1 §19.5 I/O permission): the instructions that load system
 * registers, HLT, CLTS, INVLPG, WBINVD/INVD and MOV to/from CRn/DRn are
 * #GP(0) at CPL > 0 whatever IOPL says; CLI/STI need CPL <= IOPL; POPF and
 * IRET silently keep IF and IOPL where they may not change them; IN/OUT/INS/
 * OUTS need CPL <= IOPL or clear bits in the TSS I/O bitmap for every byte
 * of the port range.
 */
import { describe, expect, it } from 'vitest';
import { tssDescriptor, selector } from '../../src/rings/descriptors.js';
import { TSS32 } from '../../src/rings/descriptors.js';
import { GDT_INDEX, L, SEL, SystemMachine } from './machine.js';

const GP = 13;
const IF = 0x200;

describe('privileged instructions: #GP(0) at CPL 1, 2 and 3', () => {
  const privileged = [
    'lgdt [DATA]', 'lidt [DATA]', 'ltr ax', 'lldt ax', 'lmsw ax',
    'mov cr0, eax', 'mov eax, cr0', 'mov eax, cr2', 'mov cr3, eax', 'mov eax, cr3', 'mov cr4, eax', 'mov eax, cr4',
    'mov dr7, eax', 'mov eax, dr6', 'mov dr0, eax',
    'invlpg [DATA]', 'hlt', 'clts', 'wbinvd', 'invd',
  ];
  for (const ins of privileged) {
    it(ins, () => {
      for (const cpl of [1, 2, 3]) {
        // IOPL 3 does not help: these need CPL 0.
        const m = new SystemMachine();
        const stop = m.runAt(cpl, `${ins}\nmov eax, 1\njmp EXIT`, { eflags: 0x3202 });
        expect(stop, `CPL ${cpl}`).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0, eip: L.CODE });
        expect(m.events[0].savedCs & 3, `CPL ${cpl}`).toBe(cpl);
      }
    });
  }
  it('all of them run at CPL 0', () => {
    const m = new SystemMachine();
    const src = [
      'sgdt [DATA]', 'lgdt [DATA]', 'sidt [DATA+8]', 'lidt [DATA+8]', 'mov ax, SEL_LDT', 'lldt ax',
      'mov eax, cr0', 'mov cr0, eax', 'mov eax, cr3', 'mov cr3, eax', 'mov eax, cr4', 'mov cr4, eax', 'mov eax, cr2',
      'mov eax, dr7', 'mov dr7, eax', 'mov eax, dr6', 'invlpg [DATA]', 'clts', 'wbinvd', 'invd', 'smsw ax', 'lmsw ax',
      `mov ax, ${selector(GDT_INDEX.FREE)}`, 'ltr ax', 'str bx',
      'mov eax, 0x600d', 'jmp EXIT',
    ].join('\n');
    m.setGdt(GDT_INDEX.FREE, tssDescriptor(L.TSS, 0x67));
    expect(m.runAt(0, src)).toEqual({ kind: 'exited', status: 0x600d });
    expect(m.cpu.regs[3] & 0xffff).toBe(selector(GDT_INDEX.FREE));
    expect(m.gdtWords(GDT_INDEX.FREE)[1] & 0xf00).toBe(0xb00); // LTR marked it busy
  });
  it('LTR of a busy TSS → #GP(selector)', () => {
    const m = new SystemMachine();
    expect(m.runAt(0, `mov ax, ${SEL.TSS}\nltr ax`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: SEL.TSS });
  });
  it('LTR: null → #GP(0); not a TSS → #GP(sel); an LDT selector → #GP(sel); not present → #NP(sel)', () => {
    const F = GDT_INDEX.FREE;
    const ltr = (sel: number, desc?: [number, number]): ReturnType<SystemMachine['run']> => {
      const m = new SystemMachine();
      if (desc) m.setGdt(F, desc);
      return m.runAt(0, `mov ax, ${sel}\nltr ax\njmp EXIT`);
    };
    expect(ltr(0)).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0 });
    expect(ltr(SEL.DATA0)).toMatchObject({ kind: 'fault', vector: GP, errorCode: SEL.DATA0 });
    expect(ltr(selector(1, 0, true))).toMatchObject({ kind: 'fault', vector: GP, errorCode: selector(1, 0, true) });
    expect(ltr(selector(F), tssDescriptor(L.TSS, 0x67, { present: false }))).toMatchObject({ kind: 'fault', vector: 11, errorCode: selector(F) });
  });
  it('LLDT: null empties the LDTR (LDT selectors then #GP); a non-LDT descriptor → #GP(sel)', () => {
    const m = new SystemMachine();
    expect(m.runAt(0, `xor eax, eax\nlldt ax\nmov ax, ${selector(1, 0, true)}\nmov ds, ax`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: selector(1, 0, true), eip: L.CODE + 2 + 3 + 4 });
    const n = new SystemMachine();
    expect(n.runAt(0, `mov ax, ${SEL.TSS}\nlldt ax`)).toMatchObject({ kind: 'fault', vector: GP, errorCode: SEL.TSS });
  });
  it('SGDT, SIDT, SLDT, STR and SMSW are not privileged', () => {
    const m = new SystemMachine();
    const stop = m.runAt(3, 'sgdt [DATA]\nsidt [DATA+8]\nsldt [DATA+16]\nstr [DATA+20]\nsmsw [DATA+24]\nmov eax, 1\njmp EXIT');
    expect(stop).toEqual({ kind: 'exited', status: 1 });
    expect(m.r32(L.DATA) & 0xffff).toBe(64 * 8 - 1);
    expect(m.r32(L.DATA + 2)).toBe(L.GDT);
    expect(m.r32(L.DATA + 10)).toBe(L.IDT);
    expect(m.r32(L.DATA + 16) & 0xffff).toBe(SEL.LDT);
    expect(m.r32(L.DATA + 20) & 0xffff).toBe(SEL.TSS);
  });
  it('RDTSC: allowed at CPL 3 unless CR4.TSD', () => {
    expect(new SystemMachine().runAt(3, 'rdtsc\njmp EXIT')).toMatchObject({ kind: 'exited' });
    const m = new SystemMachine();
    m.cpu.cr4 |= 4;
    expect(m.runAt(3, 'rdtsc')).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0 });
    const n = new SystemMachine();
    n.cpu.cr4 |= 4;
    expect(n.runAt(0, 'rdtsc\njmp EXIT')).toMatchObject({ kind: 'exited' });
  });
});

describe('CLI and STI need CPL <= IOPL', () => {
  for (const cpl of [0, 1, 2, 3]) {
    for (const iopl of [0, 1, 2, 3]) {
      const ok = cpl <= iopl;
      it(`CPL ${cpl}, IOPL ${iopl}: ${ok ? 'allowed' : '#GP(0)'}`, () => {
        const m = new SystemMachine();
        const stop = m.runAt(cpl, 'cli\npushfd\nsti\npop eax\njmp EXIT', { eflags: 0x202 | (iopl << 12) });
        if (ok) {
          expect(stop).toMatchObject({ kind: 'exited' });
          expect((stop as { status: number }).status & IF).toBe(0);
          expect(m.cpu.getEflags() & IF).toBe(IF);
        } else expect(stop).toMatchObject({ kind: 'fault', vector: GP, errorCode: 0, eip: L.CODE });
      });
    }
  }
});

describe('POPF and IRET keep IF and IOPL where the CPL may not change them (no fault)', () => {
  const run = (cpl: number, iopl: number, pushed: number): number => {
    const m = new SystemMachine();
    const stop = m.runAt(cpl, `push ${pushed}\npopfd\npushfd\npop eax\njmp EXIT`, { eflags: 0x202 | (iopl << 12) });
    expect(stop).toMatchObject({ kind: 'exited' });
    return (stop as { status: number }).status & (IF | 0x3000);
  };
  it('CPL 3, IOPL 0: neither IF nor IOPL change', () => expect(run(3, 0, 0x3002)).toBe(IF));
  it('CPL 3, IOPL 3: IF changes, IOPL does not', () => expect(run(3, 3, 0x0002)).toBe(0x3000));
  it('CPL 1, IOPL 1: IF changes, IOPL does not', () => expect(run(1, 1, 0x3002)).toBe(0x1000));
  it('CPL 0: both change', () => expect(run(0, 0, 0x3002)).toBe(0x3000));
});

describe('I/O permission: IOPL, then the TSS I/O bitmap', () => {
  function io(o: { cpl: number; iopl?: number; allowed?: (number | [number, number])[]; noBitmap?: boolean }, src: string): { m: SystemMachine; stop: ReturnType<SystemMachine['run']>; log: string[] } {
    const m = new SystemMachine({ allowedPorts: o.allowed ?? [0x60, [0x3f8, 0x3fb], [0x1f8, 0x1ff]] });
    if (o.noBitmap) m.setTss(TSS32.IOMAP_BASE, 0x3000); // beyond the TSS limit
    const log: string[] = [];
    for (const p of [0x60, 0x61, 0x1ff, 0x200, 0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc]) {
      m.cpu.registerPort(p, {
        read: (port, size) => { log.push(`in${size} ${port.toString(16)}`); return 0x5a; },
        write: (port, v, size) => { log.push(`out${size} ${port.toString(16)}=${v.toString(16)}`); },
      });
    }
    const stop = m.runAt(o.cpl, `${src}\nmov eax, 0x600d\njmp EXIT`, { eflags: 0x202 | ((o.iopl ?? 0) << 12) });
    return { m, stop, log };
  }
  const ok = { kind: 'exited', status: 0x600d };
  const gp = { kind: 'fault', vector: GP, errorCode: 0 };
  it('CPL 3, IOPL 0: a port whose bit is clear is allowed, one whose bit is set is #GP(0) and not accessed', () => {
    expect(io({ cpl: 3 }, 'in al, 0x60').stop).toEqual(ok);
    const r = io({ cpl: 3 }, 'out 0x61, al');
    expect(r.stop).toMatchObject(gp);
    expect(r.log).toEqual([]);
  });
  it('every byte of a word/dword access must be allowed', () => {
    expect(io({ cpl: 3 }, 'mov dx, 0x3f8\nin eax, dx').stop).toEqual(ok);
    expect(io({ cpl: 3 }, 'mov dx, 0x3f9\nin eax, dx').stop).toMatchObject(gp); // 0x3fc is denied
    expect(io({ cpl: 3 }, 'mov dx, 0x3fa\nout dx, ax').stop).toEqual(ok);
    expect(io({ cpl: 3 }, 'mov dx, 0x3fb\nout dx, ax').stop).toMatchObject(gp);
  });
  it('a range that crosses a bitmap byte (0x1FF..0x200)', () => {
    expect(io({ cpl: 3 }, 'mov dx, 0x1ff\nin ax, dx').stop).toMatchObject(gp);
    expect(io({ cpl: 3, allowed: [[0x1f8, 0x200]] }, 'mov dx, 0x1ff\nin ax, dx').stop).toEqual(ok);
  });
  it('CPL <= IOPL skips the bitmap: CPL 3 with IOPL 3, CPL 0 with IOPL 0', () => {
    expect(io({ cpl: 3, iopl: 3 }, 'out 0x61, al').stop).toEqual(ok);
    expect(io({ cpl: 0 }, 'out 0x61, al').log).toEqual(['out1 61=0']);
  });
  it('CPL 1 with IOPL 0 is subject to the bitmap like CPL 3', () => {
    expect(io({ cpl: 1 }, 'in al, 0x61').stop).toMatchObject(gp);
    expect(io({ cpl: 1 }, 'in al, 0x60').stop).toEqual(ok);
  });
  it('INS and OUTS are checked the same way', () => {
    expect(io({ cpl: 3 }, 'mov dx, 0x60\nmov edi, DATA\ninsb').stop).toEqual(ok);
    const r = io({ cpl: 3 }, 'mov dx, 0x61\nmov esi, DATA\noutsb');
    expect(r.stop).toMatchObject(gp);
    expect(r.log).toEqual([]);
  });
  it('an I/O map base beyond the TSS limit means no bitmap: every port is denied to CPL > IOPL', () => {
    expect(io({ cpl: 3, noBitmap: true }, 'in al, 0x60').stop).toMatchObject(gp);
    expect(io({ cpl: 3, iopl: 3, noBitmap: true }, 'in al, 0x60').stop).toEqual(ok);
  });
});
