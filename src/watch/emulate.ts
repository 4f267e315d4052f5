/**
 * `--access-size emulate` (Antti's reply in seed 001): the #PF handler of
 * the page-hiding service emulates the common memory instructions itself
 * and returns past them, without showing the page or single-stepping —
 * no #DB, no second trip through the kernel. The clients (kmemcheck, the
 * stack tracker, the watch framework, MMIO) see each access exactly as
 * with a single step: onFault() before it with the decoded accesses,
 * onStepDone() after it with the registers it left.
 *
 * Emulated (SDM Vol. 2, MOV/MOVZX/MOVSX/MOVS/STOS/LODS, ADD...XOR/CMP/TEST,
 * INC/DEC/NOT/NEG, SAL/SAR/SHL/SHR/ROL/ROR/RCL/RCR, PUSH/POP):
 *
 * - MOV r/m8,r8 (88), MOV r/m,r (89), MOV r8,r/m8 (8A), MOV r,r/m (8B),
 *   MOV r/m8,imm8 (C6 /0), MOV r/m,imm (C7 /0), MOV AL/eAX,moffs and
 *   moffs,AL/eAX (A0–A3), with any ModRM/SIB addressing, 16- or 32-bit
 *   address size, operand-size and segment prefixes;
 * - MOVZX and MOVSX from a byte or word (0F B6/B7/BE/BF);
 * - the ALU forms with a memory operand: ADD/OR/ADC/SBB/AND/SUB/XOR/CMP
 *   E,G and G,E (00–3B), E,imm (80–83), TEST E,G and E,imm (84/85,
 *   F6/F7 /0 /1), NOT and NEG (F6/F7 /2 /3), INC and DEC (FE/FF /0 /1),
 *   the shifts and rotates (C0/C1/D0–D3), LOCK-prefixed or not (one
 *   processor: the read-modify-write is atomic here as well). The result
 *   and EFLAGS come from the CPU's own helpers (src/cpu/exec/alu.ts,
 *   shift.ts) run on the interrupted code's status flags, which are then
 *   written into the trap frame's EFLAGS image;
 * - PUSH m (FF /6) and POP m (8F /0) when the interrupted code's stack is
 *   not the handler's (CPL 1 in the ring-1 layout: its SS:ESP are in the
 *   frame, which the emulator updates). At CPL 0 the frame itself lies
 *   where PUSH would write, so those are single-stepped;
 * - MOVS, STOS and LODS (A4/A5/AA/AB/AC/AD), with or without REP: a whole
 *   REP instruction in one #PF, iteration by iteration (each iteration is
 *   one access list for the clients, as the single step has it), at most
 *   MAX_ITERATIONS per fault — the instruction then resumes where it
 *   stopped, its ECX/ESI/EDI updated as after an interrupt, and faults
 *   again on the next hidden page.
 *
 * Everything else falls back to the single step with the decoder (the
 * `decode` strategy): MUL/DIV, BT*, CMPS/SCAS, XCHG, CMPXCHG and the rest,
 * and any of the above when it cannot be done exactly here — its
 * destination register is ESP, a page it touches is not mapped or not
 * writable (the processor's own fault must happen), the interrupted code
 * is being single-stepped (TF) or has data breakpoints armed (DR7), or a
 * string element would straddle into an unmapped page.
 */
import { memSizeOf } from '../cpu/decoder.js';
import { ES, SS, REP_NONE, type Instr } from '../cpu/instr.js';
import { ARITH, TF } from '../cpu/flags.js';
import type { CPU } from '../cpu/cpu.js';
import { alu, CMP, fNeg, fNot, incdec } from '../cpu/exec/alu.js';
import { shiftValue } from '../cpu/exec/shift.js';
import {
  ACCESS_READ, ACCESS_WRITE, type FaultCompleter, type HiddenFault, type InterruptedContext, type PageHidingService,
} from '../kernel/page-hiding.js';
import { operandAddress } from '../shadow/access.js';
import { PTE_RW } from '../kernel/paging.js';

const ECX = 1, ESP = 4, ESI = 6, EDI = 7;
/** REP iterations done in one fault at most (the rest after the IRET, as an interrupted REP resumes). */
export const MAX_ITERATIONS = 4096;

type Kind = 'store' | 'load' | 'movzx' | 'movsx' | 'movs' | 'stos' | 'lods' | 'alu' | 'unary' | 'shift' | 'push' | 'pop';
/** The group-1 operation of TEST (an AND that writes nothing). */
const TEST = 8;
const AND = 4;

/** What the instruction is, or null when it is not emulated. */
function kindOf(ins: Instr): Kind | null {
  if (ins.op < 0x40 && (ins.op & 7) < 4) return 'alu';
  switch (ins.op) {
    case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85:
      return 'alu';
    case 0xf6: case 0xf7:
      return ins.reg < 2 ? 'alu' : ins.reg < 4 ? 'unary' : null;
    case 0xfe:
      return ins.reg < 2 ? 'unary' : null;
    case 0xff:
      return ins.reg < 2 ? 'unary' : ins.reg === 6 ? 'push' : null;
    case 0x8f:
      return ins.reg === 0 ? 'pop' : null;
    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
      return 'shift';
    case 0x88: case 0x89: case 0xa2: case 0xa3:
      return 'store';
    case 0xc6: case 0xc7:
      return ins.reg === 0 ? 'store' : null;
    case 0x8a: case 0x8b: case 0xa0: case 0xa1:
      return 'load';
    case 0x1b6: case 0x1b7:
      return 'movzx';
    case 0x1be: case 0x1bf:
      return 'movsx';
    case 0xa4: case 0xa5:
      return 'movs';
    case 0xaa: case 0xab:
      return 'stos';
    case 0xac: case 0xad:
      return 'lods';
  }
  return null;
}

/** The register operand's value (8-bit registers 4–7 are AH, CH, DH, BH). */
function getReg(regs: Int32Array, r: number, size: number): number {
  if (size === 1) return r < 4 ? regs[r]! & 0xff : (regs[r - 4]! >>> 8) & 0xff;
  if (size === 2) return regs[r]! & 0xffff;
  return regs[r]! >>> 0;
}

function setReg(regs: Int32Array, r: number, size: number, v: number): void {
  if (size === 1) {
    if (r < 4) regs[r] = (regs[r]! & ~0xff) | (v & 0xff);
    else regs[r - 4] = (regs[r - 4]! & ~0xff00) | ((v & 0xff) << 8);
  } else if (size === 2) regs[r] = (regs[r]! & ~0xffff) | (v & 0xffff);
  else regs[r] = v | 0;
}

export class AccessEmulator implements FaultCompleter {
  /** Instructions and REP iterations completed, by kind. */
  readonly counters: Record<Kind, number> = { store: 0, load: 0, movzx: 0, movsx: 0, movs: 0, stos: 0, lods: 0, alu: 0, unary: 0, shift: 0, push: 0, pop: 0 };
  private kind: Kind | null = null;
  private iterations = 0;

  plan(f: HiddenFault, svc: PageHidingService): boolean {
    const ins = f.ins;
    const ctx = f.context;
    this.kind = null;
    if (ctx.eflags & TF || svc.kernel.cpu.dr[7]! & 0xff) return false;
    const kind = kindOf(ins);
    if (kind === null || f.accesses.count === 0) return false;
    if (ins.lock && kind !== 'alu' && kind !== 'unary') return false;
    // G op= E into ESP: the stack the clients follow changes (single-step it, as a load into ESP).
    if (kind === 'alu' && (ins.op & 2) !== 0 && ins.op < 0x40 && ins.size !== 1 && ins.reg === ESP) return false;
    // PUSH/POP m only where the interrupted SS:ESP are in the frame (an outer ring's stack).
    if ((kind === 'push' || kind === 'pop') && (f.frame === null || (f.frame.cs & 3) === 0)) return false;
    // A load into ESP changes the stack the clients (the CPL-1 tracker) follow: single-step it.
    if ((kind === 'load' && ins.op < 0xa0 && ins.size !== 1) || kind === 'movzx' || kind === 'movsx') {
      if (ins.reg === ESP) return false;
    }
    if (!this.accessible(f, svc)) return false;
    this.kind = kind;
    this.iterations = 0;
    return true;
  }

  complete(f: HiddenFault, svc: PageHidingService): void {
    const ins = f.ins;
    const ctx = f.context;
    const regs = svc.kernel.cpu.regs;
    const kind = this.kind!;
    this.counters[kind]++;
    let nextEip = (f.eip + ins.len) | 0;
    let eflags = ctx.eflags;
    let esp = ctx.regs[ESP]!;
    switch (kind) {
      case 'alu': case 'unary': case 'shift':
        eflags = this.arithmetic(kind, ins, ctx, svc);
        break;
      case 'push': {
        // SDM PUSH: the source address is computed with ESP before the decrement.
        const n = ins.size;
        const v = read(svc, operandAddress(ins, ctx), n);
        esp = (esp - n) | 0;
        write(svc, (ctx.segBase[SS]! + esp) | 0, n, v);
        break;
      }
      case 'pop': {
        // SDM POP: ESP is incremented before the destination address is computed.
        const n = ins.size;
        const v = read(svc, (ctx.segBase[SS]! + esp) | 0, n);
        esp = (esp + n) | 0;
        ctx.regs[ESP] = esp;
        const dst = operandAddress(ins, ctx);
        ctx.regs[ESP] = f.frame!.userEsp;
        write(svc, dst, n, v);
        break;
      }
      case 'store': {
        const n = memSizeOf(ins);
        const v = ins.op === 0xc6 || ins.op === 0xc7 ? ins.imm : ins.op >= 0xa0 ? getReg(regs, 0, n) : getReg(regs, ins.reg, n);
        write(svc, operandAddress(ins, ctx), n, v);
        break;
      }
      case 'load': {
        const n = memSizeOf(ins);
        setReg(regs, ins.op >= 0xa0 ? 0 : ins.reg, n, read(svc, operandAddress(ins, ctx), n));
        break;
      }
      case 'movzx': case 'movsx': {
        const n = ins.op & 1 ? 2 : 1;
        let v = read(svc, operandAddress(ins, ctx), n);
        if (kind === 'movsx') v = n === 1 ? (v << 24) >> 24 : (v << 16) >> 16;
        setReg(regs, ins.reg, ins.size, v);
        break;
      }
      default: {
        // One iteration of a string instruction (SDM Vol. 2 MOVS/STOS/LODS: the index registers move by the element size, down when DF is set).
        const n = ins.size;
        const step = ctx.df ? -n : n;
        const src = (ctx.segBase[ins.seg]! + index(ins, regs, ESI)) | 0;
        const dst = (ctx.segBase[ES]! + index(ins, regs, EDI)) | 0;
        if (kind === 'movs') write(svc, dst, n, read(svc, src, n));
        else if (kind === 'stos') write(svc, dst, n, getReg(regs, 0, n));
        else setReg(regs, 0, n, read(svc, src, n));
        if (kind !== 'stos') addIndex(ins, regs, ESI, step);
        if (kind !== 'lods') addIndex(ins, regs, EDI, step);
        if (ins.rep !== REP_NONE) {
          addIndex(ins, regs, ECX, -1);
          this.iterations++;
          // Not finished: resume at the instruction itself (as after an interrupt between iterations).
          if (index(ins, regs, ECX) !== 0) nextEip = f.eip;
        }
      }
    }
    const frame = f.frame!;
    const mem = svc.kernel.mem;
    mem.write32(frame.frameAddress, nextEip);
    if (eflags !== ctx.eflags) {
      mem.write32((frame.frameAddress + 8) | 0, eflags);
      frame.eflags = eflags;
    }
    if (esp !== ctx.regs[ESP]) {
      // The outer ring's ESP slot of the frame (EIP, CS, EFLAGS, ESP, SS; SDM Vol. 3 §6.12.1).
      mem.write32((frame.frameAddress + 12) | 0, esp);
      frame.userEsp = esp;
    }
    const after = f.after;
    after.regs.set(regs);
    after.regs[ESP] = esp;
    after.segBase.set(ctx.segBase);
    after.eflags = eflags;
    after.eip = nextEip;
    after.cs = ctx.cs;
    after.ss = ctx.ss;
    after.cpl = ctx.cpl;
  }

  next(f: HiddenFault, svc: PageHidingService): boolean {
    const ins = f.ins;
    if (this.kind === null || ins.rep === REP_NONE) return false;
    const regs = svc.kernel.cpu.regs;
    if (index(ins, regs, ECX) === 0 || this.iterations >= MAX_ITERATIONS) return false;
    // The next iteration's context and accesses, as the decoder gives them.
    const ctx = f.context;
    ctx.regs.set(regs);
    ctx.regs[ESP] = f.after.regs[ESP]!;
    f.accesses.clear();
    const n = ins.size;
    const src = (ctx.segBase[ins.seg]! + index(ins, regs, ESI)) | 0;
    const dst = (ctx.segBase[ES]! + index(ins, regs, EDI)) | 0;
    // The decoder's order: MOVS's read first, then the write copying it.
    if (this.kind === 'movs') {
      const r = f.accesses.add(src, n, ACCESS_READ);
      f.accesses.add(dst, n, ACCESS_WRITE, r);
    } else if (this.kind === 'stos') f.accesses.add(dst, n, ACCESS_WRITE);
    else f.accesses.add(src, n, ACCESS_READ);
    // The address the iteration's own fault would report (its first access), for the clients' CR2 fallbacks.
    f.cr2 = f.accesses.addr[0]!;
    return this.accessible(f, svc);
  }

  /**
   * An ALU, unary or shift instruction on its memory operand: the CPU's own helpers compute the result
   * and the flags, on the interrupted code's status flags; returns the EFLAGS the instruction leaves.
   */
  private arithmetic(kind: Kind, ins: Instr, ctx: InterruptedContext, svc: PageHidingService): number {
    const cpu = svc.kernel.cpu;
    const regs = cpu.regs;
    const n = ins.size;
    const lin = operandAddress(ins, ctx);
    const d = read(svc, lin, n) & mask(n);
    let writeBack = true;
    let toReg = -1;
    let compute: (cpu: CPU) => number;
    if (kind === 'alu') {
      const op = ins.op < 0x40 ? (ins.op >> 3) & 7 : ins.op === 0x84 || ins.op === 0x85 || ins.op >= 0xf6 ? TEST : ins.reg;
      const src = ins.op < 0x40 || ins.op === 0x84 || ins.op === 0x85 ? getReg(regs, ins.reg, n) : ins.imm & mask(n);
      writeBack = op !== CMP && op !== TEST;
      if (ins.op < 0x40 && ins.op & 2) {
        // G op= E: the register is the destination, the memory operand the source.
        toReg = writeBack ? ins.reg : -1;
        writeBack = false;
        compute = (c) => alu(c, op, getReg(regs, ins.reg, n), d, n);
      } else compute = (c) => alu(c, op === TEST ? AND : op, d, src, n);
    } else if (kind === 'unary') {
      const ext = ins.op === 0xf6 || ins.op === 0xf7 ? ins.reg : ins.reg === 0 ? 'inc' : 'dec';
      compute = ext === 2 ? (c) => fNot(c, d, n) : ext === 3 ? (c) => fNeg(c, d, n) : (c) => incdec(c, d, n, ext === 'dec');
    } else {
      const count = ins.op === 0xd0 || ins.op === 0xd1 ? 1 : ins.op === 0xd2 || ins.op === 0xd3 ? regs[ECX]! & 0xff : ins.imm;
      compute = (c) => shiftValue(c, ins.reg, d, n, count);
    }
    // The CPU's flag state is the #PF handler's: lend it the interrupted code's status flags, then restore it.
    const saved = cpu.getEflags();
    cpu.setEflags(ctx.eflags, ARITH);
    const r = compute(cpu);
    const eflags = (ctx.eflags & ~ARITH) | (cpu.getEflags() & ARITH);
    cpu.setEflags(saved, ARITH);
    if (writeBack) write(svc, lin, n, r);
    if (toReg >= 0) setReg(regs, toReg, n, r);
    return eflags;
  }

  /** Every byte of every access mapped (hidden pages count), and writable where written. */
  private accessible(f: HiddenFault, svc: PageHidingService): boolean {
    const a = f.accesses;
    for (let i = 0; i < a.count; i++) {
      const first = a.addr[i]!;
      const last = (first + a.size[i]! - 1) | 0;
      for (const lin of first >>> 12 === last >>> 12 ? [first] : [first, last]) {
        if (svc.physOf(lin) < 0) return false;
        if (a.kind[i]! & ACCESS_WRITE && !(svc.pteOf(lin) & PTE_RW)) return false;
      }
    }
    return true;
  }
}

function mask(size: number): number {
  return size === 4 ? -1 : size === 2 ? 0xffff : 0xff;
}

function index(ins: Instr, regs: Int32Array, r: number): number {
  return ins.asize === 4 ? regs[r]! >>> 0 : regs[r]! & 0xffff;
}

function addIndex(ins: Instr, regs: Int32Array, r: number, delta: number): void {
  if (ins.asize === 4) regs[r] = (regs[r]! + delta) | 0;
  else regs[r] = (regs[r]! & ~0xffff) | ((regs[r]! + delta) & 0xffff);
}

/** Little-endian, hidden pages included (the service's view). */
function read(svc: PageHidingService, lin: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v |= svc.peek8((lin + i) | 0) << (8 * i);
  return n === 4 ? v | 0 : v;
}

function write(svc: PageHidingService, lin: number, n: number, v: number): void {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (v >>> (8 * i)) & 0xff;
  svc.poke(lin, b);
}
