import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { callGuest } from '../../src/kernel/call.js';
import { loadModule } from '../../src/kernel/module.js';
import { installKernelOops } from '../../src/kernel/module-run.js';
import { KERNEL1_CS, KERNEL1_DS, TSS_SEL, kva, PHYS_KSTACK_TOP } from '../../src/kernel/layout.js';
import { enterRing1 } from '../../src/rings/ring1.js';
import { assembled, hasAs, NO_AS } from '../module/helpers.js';

if (!hasAs) console.log(`test/rings/privileged.test.ts: ${NO_AS}`);

function setup(ring1 = true) {
  const k = new Kernel();
  installKernelOops(k, () => null);
  const layout = ring1 ? enterRing1(k) : null;
  const m = loadModule(k, assembled('ring1-priv'), { name: 'ring1-priv' });
  const call = (name: string, args: number[] = []) => callGuest(k, m.lookup(name)!, args, 100_000);
  return { k, layout, call };
}

describe.skipIf(!hasAs)('ring-1 kernel: layout and privileged-instruction emulation', () => {
  it('runs guest kernel code at CPL 1 with DPL-1 segments on its own stack, IOPL 1', () => {
    const { k, layout, call } = setup();
    expect(call('read_cs').eax).toBe(KERNEL1_CS);
    expect(call('read_ss').eax).toBe(KERNEL1_DS);
    expect(k.cpu.cpl).toBe(1);
    expect(k.cpu.regs[4]! >>> 0).toBe(layout!.stackHigh);
    expect(layout!.stackHigh - layout!.stackLow).toBe(16384);
    expect(layout!.guardPage).toBe(layout!.stackLow - 4096);
    expect(k.as.isMapped(layout!.guardPage)).toBe(false);
    // TSS: SS0:ESP0 is still the ring-0 stack, SS1:ESP1 the CPL-1 one.
    const tss = k.cpu.trBase;
    expect(k.mem.read32(tss + 4) >>> 0).toBe(kva(PHYS_KSTACK_TOP) >>> 0);
    expect(k.mem.read32(tss + 12) >>> 0).toBe(layout!.stackHigh);
    expect(k.mem.read32(tss + 16) & 0xffff).toBe(KERNEL1_DS);
    expect(layout!.ring0StackTop).toBe(kva(PHYS_KSTACK_TOP) >>> 0);
  });

  it('emulates MOV CRn both ways (CR0, CR3, CR4) and counts them', () => {
    const { k, layout, call } = setup();
    const cr0 = k.cpu.cr0, cr3 = k.cpu.cr3, cr4 = k.cpu.cr4;
    const r = call('cr_roundtrip');
    expect(r.returned).toBe(true);
    expect(r.eax).toBe(cr0 >>> 0);
    expect([k.cpu.cr0, k.cpu.cr3, k.cpu.cr4]).toEqual([cr0, cr3, cr4]);
    expect(call('read_cr3').eax).toBe(cr3 >>> 0);
    expect(layout!.counters.byMnemonic['mov cr']).toBe(7);
    expect(layout!.counters.total).toBe(7);
    expect(k.cpu.cpl).toBe(1);
  });

  it('emulates MOV DRn', () => {
    const { k, layout, call } = setup();
    expect(call('set_dr0', [0x1234]).eax).toBe(0x1234);
    expect(k.cpu.dr[0]).toBe(0x1234);
    expect(layout!.counters.byMnemonic['mov dr']).toBe(2);
  });

  it('emulates INVLPG: a changed PTE becomes visible only after it', () => {
    const { k, layout, call } = setup();
    const page = (layout!.stackLow + 4096) >>> 0; // a direct-map page with its own 4 KiB PTE
    const frame = k.as.readPte(page) & ~0xfff;
    const other = (k.as.readPte(layout!.stackLow) & ~0xfff) >>> 0;
    k.mem.writePhys32(frame, 0x11111111);
    k.mem.writePhys32(other, 0x22222222);
    expect(k.cpu.read32(page)).toBe(0x11111111); // the TLB holds page → frame now
    // Remap the page to another frame by writing the PTE directly (no INVLPG): the TLB still says frame.
    const pteAddr = k.as.pteAddress(page);
    k.mem.writePhys32(pteAddr, (k.mem.readPhys32(pteAddr) & 0xfff) | other);
    expect(k.cpu.read32(page)).toBe(0x11111111);
    expect(call('do_invlpg', [page]).returned).toBe(true);
    expect(k.cpu.read32(page)).toBe(0x22222222);
    expect(layout!.counters.byMnemonic.invlpg).toBe(1);
  });

  it('emulates LGDT/LIDT with the operand on the CPL-1 stack (ESP-relative addressing uses the interrupted ESP)', () => {
    const { k, layout, call } = setup();
    const gdt = [k.cpu.gdtrBase, k.cpu.gdtrLimit], idt = [k.cpu.idtrBase, k.cpu.idtrLimit];
    expect(call('reload_gdt_idt').eax).toBe(gdt[1]);
    expect([k.cpu.gdtrBase, k.cpu.gdtrLimit]).toEqual(gdt);
    expect([k.cpu.idtrBase, k.cpu.idtrLimit]).toEqual(idt);
    // (A limit below the KERNEL1_CS entry would make the IRET back to CPL 1 fault: #GP(0x88).)
    const old = call('set_gdt_limit', [0x1ff]);
    expect(old.eax).toBe(gdt[1]);
    expect(k.cpu.gdtrLimit).toBe(0x1ff);
    expect(layout!.counters.byMnemonic.lgdt).toBe(2);
    expect(layout!.counters.byMnemonic.lidt).toBe(1);
  });

  it('emulates LLDT (register and memory forms) and LTR', () => {
    const { k, layout, call } = setup();
    expect(call('do_lldt', [0]).eax & 0xffff).toBe(0);
    expect(layout!.counters.byMnemonic.lldt).toBe(2);
    // LTR needs an available TSS: clear the busy bit of the kernel's TSS descriptor first.
    const at = k.cpu.gdtrBase + TSS_SEL + 4;
    k.mem.write32(at, k.mem.read32(at) & ~0x200);
    expect(call('do_ltr', [TSS_SEL]).eax & 0xffff).toBe(TSS_SEL);
    expect(k.mem.read32(at) & 0x200).toBe(0x200);
    expect(layout!.counters.byMnemonic.ltr).toBe(1);
  });

  it('emulates CLTS, WBINVD, INVD and LMSW; CLI/STI/IN/OUT run natively at CPL 1 thanks to IOPL 1', () => {
    const { k, layout, call } = setup();
    k.cpu.cr0 |= 8; // TS
    const r = call('misc');
    expect(r.returned).toBe(true);
    expect((r.eax >>> 12) & 3).toBe(1);
    expect(k.cpu.cr0 & 8).toBe(0);
    const c = layout!.counters.byMnemonic;
    expect([c.clts, c.wbinvd, c.invd, c.lmsw]).toEqual([1, 1, 1, 2]);
    expect(layout!.counters.total).toBe(5);
  });

  it('HLT with IF clear stops the machine as a HLT at CPL 0 does, after the IRET back to CPL 1', () => {
    const { k, layout, call } = setup();
    const r = call('do_hlt');
    expect(r.returned).toBe(false);
    expect(r.stop).toEqual({ kind: 'halted' });
    expect(layout!.counters.byMnemonic.hlt).toBe(1);
    expect(k.cpu.cpl).toBe(1);
    // Halted after the HLT, at the same place a ring-0 HLT leaves EIP.
    const plain = setup(false).call('do_hlt');
    expect(plain.stop).toEqual({ kind: 'halted' });
  });

  it('an emulated instruction that faults is an oops naming it', () => {
    const { call } = setup();
    const r = call('do_mov_cr_bad');
    expect(r.returned).toBe(false);
    expect(r.stop).toMatchObject({ kind: 'fault', vector: 13 });
    expect((r.stop as { message: string }).message).toMatch(/while emulating MOV CR for the CPL-1 kernel/);
  });

  it('other #GPs go to the oops handler installed before (counted when the error code is 0)', () => {
    const { layout, call } = setup();
    const a = call('do_far_null');
    expect(a.stop).toMatchObject({ kind: 'fault', vector: 13, errorCode: 0 });
    expect((a.stop as { message: string }).message).toMatch(/Oops: #GP.*CPL 1/);
    expect(layout!.counters.passedOn).toBe(1);
    const b = call('load_ds_dpl0');
    expect(b.stop).toMatchObject({ kind: 'fault', vector: 13, errorCode: 0x68 });
    expect(layout!.counters.total).toBe(0);
  });

  it('a later guest call after an oops runs at CPL 1 again', () => {
    const { k, call } = setup();
    expect(call('do_far_null').returned).toBe(false);
    expect(k.cpu.cpl).toBe(0); // stopped in the ring-0 handler
    expect(call('read_cs').eax).toBe(KERNEL1_CS);
  });

  it('the same module at CPL 0 runs the privileged instructions natively, with equal results', () => {
    const a = setup(false), b = setup(true);
    for (const fn of ['cr_roundtrip', 'read_cr3', 'reload_gdt_idt']) {
      expect(b.call(fn).eax).toBe(a.call(fn).eax);
    }
    expect(a.call('set_dr0', [0x4000]).eax).toBe(b.call('set_dr0', [0x4000]).eax);
  });

  it('a CPL-1 stack overflow runs into the unmapped guard page: a clean #PF on the ring-0 stack, not a #DF — reported as the stack overflow it is', () => {
    const { k, layout, call } = setup();
    const r = call('overflow');
    expect(r.returned).toBe(false);
    expect(r.stop).toMatchObject({ kind: 'fault', vector: 14 });
    expect((r.stop as { message: string }).message).toMatch(/^kernel stack overflow: stack guard page was hit at 0x[0-9a-f]{8} \(stack is /);
    expect(k.cpu.cr2 >>> 0).toBeGreaterThanOrEqual(layout!.guardPage);
    expect(k.cpu.cr2 >>> 0).toBeLessThan(layout!.stackLow);
  });
});
