/**
 * CPU.faultedInstrAt: the decoded instruction whose fault the last
 * delivery delivered, which the page-hiding service's #PF handler uses
 * instead of decoding the bytes at the frame's EIP again. It must be that
 * instruction (the bytes at EIP), only for that delivery's EIP, only while
 * no code can have changed, and never after another kind of delivery.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { kva } from '../../src/kernel/layout.js';
import { callGuest } from '../../src/kernel/call.js';
import { Vec } from '../../src/cpu/stop.js';
import type { Instr } from '../../src/cpu/instr.js';
import { assemble } from '../helpers/asm.js';

const CODE = kva(0x10000) >>> 0;
const DATA = kva(0x30000) >>> 0;

describe('the instruction a fault was delivered for', () => {
  it('is the faulting instruction at the frame\'s EIP, and nothing after an INT n or a code write', () => {
    const k = new Kernel();
    const cpu = k.cpu;
    const code = assemble(`
        mov eax, [${DATA + 4}]
        movzx edx, word ptr [${DATA + 6}]
        int 0x41
        add [${DATA + 8}], eax
        ret
    `, { base: CODE });
    k.mem.write(CODE, code);
    const pte = k.as.readPte(DATA);
    k.as.writePte(DATA, pte & ~1);
    const seen: { eip: number; ins: Instr | null; other: Instr | null; bytes: number[] }[] = [];
    let faults = 0;
    k.setTrapHandler(Vec.PF, (kk, f) => {
      // Before the second fault's handler looks: a store into the code page (after the code), so decoded
      // code may have changed and nothing is vouched for.
      if (++faults === 2) kk.mem.write(CODE + code.length, new Uint8Array([0x90]));
      seen.push({ eip: f.eip >>> 0, ins: cpu.faultedInstrAt(f.eip), other: cpu.faultedInstrAt((f.eip + 1) | 0), bytes: [...kk.mem.read(f.eip, 8)] });
      kk.as.writePte(DATA, pte);
    });
    k.setTrapHandler(0x41, (kk, f) => {
      seen.push({ eip: f.eip >>> 0, ins: cpu.faultedInstrAt(f.eip), other: cpu.faultedInstrAt(CODE), bytes: [] });
      kk.as.writePte(DATA, pte & ~1);
    });
    const r = callGuest(k, CODE, [], 1000);
    expect(r.returned).toBe(true);
    // The MOV's fault, INT 0x41 (returning to the ADD), the ADD's fault.
    expect(seen.map((s) => s.eip - CODE)).toEqual([0, 14, 14]);
    const mov = seen[0]!;
    expect(mov.ins).not.toBe(null);
    expect(mov.ins!.addr >>> 0).toBe(CODE);
    expect(mov.ins!.bytes).toEqual(mov.bytes.slice(0, 5));
    expect(mov.other).toBe(null);
    // INT n is no instruction's fault: nothing at its return address, and the MOV's is gone.
    expect(seen[1]!.ins).toBe(null);
    expect(seen[1]!.other).toBe(null);
    // The ADD's fault came after a store into the code page: nothing.
    expect(seen[2]!.ins).toBe(null);
  });
});
