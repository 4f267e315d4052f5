/**
 * Debug registers (SDM Vol. 3 §17.2–17.3): instruction breakpoints are
 * faults (#DB before the instruction, EIP at it, suppressed by RF); data
 * breakpoints are traps (#DB after the accessing instruction, EIP past it)
 * and match any access overlapping the LEN-aligned range; DR6 says which.
 *
 * The snippet CPU has no IDT, so the #DB stops the machine with
 * kind 'fault', vector 1 and the EIP the frame would have held.
 */
import { describe, expect, it } from 'vitest';
import type { CPU } from '../../src/cpu/cpu.js';
import { assemble, runSnippet, DATA, CODE_BASE } from '../helpers/asm.js';

const L0 = 1 << 0;
const RF = 1 << 16;
const TF = 1 << 8;
/** DR7 bits for breakpoint i: enable (local), R/W and LEN. */
function dr7(i: number, rw: number, len: number): number {
  const lenBits = len === 1 ? 0 : len === 2 ? 1 : len === 4 ? 3 : 2;
  return (L0 << (i * 2)) | (rw << (16 + i * 4)) | (lenBits << (18 + i * 4));
}
function setDr(cpu: CPU, n: number, v: number): void {
  cpu.writeDebugRegister(n, v);
}
/** The address of `label:` in a snippet (assembled at CODE_BASE), found by assembling the prefix up to it. */
function labelAddr(src: string, label: string): number {
  const prefix = src.slice(0, src.indexOf(`${label}:`));
  return CODE_BASE + assemble(prefix).length;
}

describe('instruction breakpoints (faults)', () => {
  const src = `
    mov eax, 1
    mov ebx, 2
  bp:
    mov ecx, 3
    mov edx, 4
    hlt
  `;
  it('#DB is raised before the instruction at DR0, with B0 in DR6', () => {
    const at = labelAddr(src, 'bp');
    const { cpu, stop } = runSnippet(src, (c) => {
      setDr(c, 0, at);
      setDr(c, 7, dr7(0, 0, 1));
    });
    expect(stop).toMatchObject({ kind: 'fault', vector: 1 });
    expect(cpu.eip).toBe(at);
    expect(cpu.regs[3]).toBe(2);
    expect(cpu.regs[1]).toBe(0); // mov ecx not executed
    expect(cpu.dr[6] & 0xf).toBe(1);
  });

  it('RF set lets the instruction run once; it is cleared after the instruction completes', () => {
    const at = labelAddr(src, 'bp');
    const { cpu } = runSnippet(src, (c) => {
      setDr(c, 1, at);
      setDr(c, 7, dr7(1, 0, 1));
    });
    expect(cpu.dr[6] & 0xf).toBe(2);
    // What a #DB handler does with the stacked EFLAGS before IRET.
    cpu.stopReason = null;
    cpu.setEflags(RF, RF);
    const stop = cpu.run(100);
    expect(stop).toEqual({ kind: 'halted' });
    expect(cpu.regs[1]).toBe(3);
    expect(cpu.getEflags() & RF).toBe(0);
  });

  it('a disabled breakpoint (DR7 enable bits clear) does nothing', () => {
    const at = labelAddr(src, 'bp');
    const { stop } = runSnippet(src, (c) => {
      setDr(c, 0, at);
      setDr(c, 7, dr7(0, 0, 1) & ~3);
    });
    expect(stop).toEqual({ kind: 'halted' });
  });
});

describe('data breakpoints (traps)', () => {
  /** Run `body` with DR0 watching `addr` (rw 1 = write, 3 = read/write, LEN len); returns the stop, the CPU and where `after:` is. */
  function watch(body: string, addr: number, rw: number, len: number) {
    const src = `${body}\nafter:\n  nop\n  hlt\n`;
    const { cpu, stop } = runSnippet(src, (c) => {
      setDr(c, 0, addr);
      setDr(c, 7, dr7(0, rw, len));
    });
    return { cpu, stop, after: labelAddr(src, 'after') };
  }

  it('a dword write to a watched dword traps after the instruction, EIP past it, B0 set', () => {
    const { cpu, stop, after } = watch(`mov dword ptr [${DATA}], 0x11223344`, DATA, 1, 4);
    expect(stop).toMatchObject({ kind: 'fault', vector: 1 });
    expect(cpu.eip).toBe(after); // the write happened; the trap reports the next instruction
    expect(cpu.dr[6] & 0xf).toBe(1);
    expect(cpu.read32(DATA)).toBe(0x11223344);
  });

  it('matches partial overlaps and respects LEN alignment', () => {
    // LEN 2 at DATA+2 watches DATA+2..DATA+3.
    expect(watch(`mov byte ptr [${DATA + 3}], 1`, DATA + 2, 1, 2).stop).toMatchObject({ vector: 1 });
    expect(watch(`mov word ptr [${DATA + 1}], 1`, DATA + 2, 1, 2).stop).toMatchObject({ vector: 1 });
    expect(watch(`mov byte ptr [${DATA + 1}], 1`, DATA + 2, 1, 2).stop).toEqual({ kind: 'halted' });
    expect(watch(`mov byte ptr [${DATA + 4}], 1`, DATA + 2, 1, 2).stop).toEqual({ kind: 'halted' });
    // LEN 4 with an unaligned DR0 watches the aligned dword (low address bits ignored).
    expect(watch(`mov byte ptr [${DATA}], 1`, DATA + 1, 1, 4).stop).toMatchObject({ vector: 1 });
    // LEN 1.
    expect(watch(`mov dword ptr [${DATA}], 1`, DATA + 3, 1, 1).stop).toMatchObject({ vector: 1 });
  });

  it('R/W = 01 ignores reads; R/W = 11 catches them', () => {
    expect(watch(`mov eax, [${DATA}]`, DATA, 1, 4).stop).toEqual({ kind: 'halted' });
    const r = watch(`mov eax, [${DATA}]`, DATA, 3, 4);
    expect(r.stop).toMatchObject({ vector: 1 });
    expect(r.cpu.eip).toBe(r.after);
  });

  it('REP MOVS traps after the iteration that wrote the watched byte', () => {
    const { cpu, stop } = watch(
      `mov esi, ${DATA + 0x100}\n  mov edi, ${DATA}\n  mov ecx, 8\n  cld\n  rep movsb`,
      DATA + 2,
      1,
      1,
    );
    expect(stop).toMatchObject({ vector: 1 });
    // Iterations for DATA+0, +1, +2 are done; EIP still at the REP MOVS to continue.
    expect(cpu.regs[1]).toBe(5);
    expect(cpu.regs[7]).toBe(DATA + 3);
  });

  it('a data breakpoint and a single-step on the same instruction are one #DB with B0 and BS', () => {
    const src = `mov dword ptr [${DATA}], 7\nhlt\n`;
    const { cpu, stop } = runSnippet(src, (c) => {
      setDr(c, 0, DATA);
      setDr(c, 7, dr7(0, 1, 4));
      c.setEflags(TF, TF);
    });
    expect(stop).toMatchObject({ vector: 1 });
    expect(cpu.dr[6] & 0x400f).toBe(0x4001);
  });

  it('pages with a data breakpoint stay out of the TLB, so the block compiler cannot skip the check', () => {
    const src = `
      mov ecx, 100
    1:
      mov eax, [${DATA + 0x40}]
      dec ecx
      jnz 1b
      mov [${DATA + 8}], eax
      hlt`;
    const { cpu, stop } = runSnippet(src, (c) => {
      c.jitThreshold = 0;
      setDr(c, 0, DATA + 8);
      setDr(c, 7, dr7(0, 1, 4));
    });
    expect(stop).toMatchObject({ vector: 1 });
    expect(cpu.regs[1]).toBe(0);
  });
});
