/**
 * The ring-0 #GP handler of the ring-1 kernel: paravirtual emulation of the
 * instructions that raise #GP(0) at CPL > 0 (SDM Vol. 3 §5.9 "Privileged
 * Instructions"), the way the 32-bit Xen hypervisor handled a guest kernel
 * at ring 1 before paravirt_ops replaced most of them by hypercalls
 * (Xen's emulate_privileged_op() in arch/x86/traps.c).
 *
 * A #GP(0) from CPL 1 whose instruction is one of
 *
 *   MOV CRn,r / MOV r,CRn, MOV DRn,r / MOV r,DRn, INVLPG m, LGDT m, LIDT m,
 *   LLDT r/m, LTR r/m, LMSW r/m, CLTS, INVD, WBINVD, HLT
 *
 * is decoded at the faulting EIP, performed on the CPU state as ring 0
 * would perform it (with the interrupted ESP, which the handler does not
 * share), the EIP in the trap frame is advanced past it and the handler
 * IRETs; each emulation is counted per mnemonic. Any other #GP (a nonzero
 * error code, CPL 3, an instruction not listed) goes to the handler
 * installed before (the oops, see installKernelOops()). RDMSR/WRMSR are not
 * modelled by the CPU (#UD, not #GP), so there is nothing to emulate.
 *
 * HLT: the instruction is skipped and the CPU marked halted, so after the
 * IRET it waits for an interrupt with the interrupted IF — or stops with
 * 'halted' when nothing can wake it, exactly as a HLT at CPL 0 would.
 *
 * Memory operands are read through `peek` when one is set (the CPL-1 stack
 * tracker sets the page-hiding service's, because a `struct desc_ptr` is
 * usually a local on the hidden stack), else through the page tables.
 * `onRead` is told about each such read (the tracker checks it against the
 * stack shadow, attributed to the emulated instruction).
 *
 * If performing the instruction faults (LTR of a bad selector, MOV CR0 with
 * PG set and PE clear, an unmapped LGDT operand), the machine stops with an
 * oops that names the fault and the emulated instruction: a paravirtual
 * kernel would have got the fault reflected; kmemsim's natives cannot
 * re-inject it.
 */
import { decodeInstr, type ByteSource } from '../cpu/decoder.js';
import { InterruptedContext } from '../kernel/page-hiding.js';
import { operandAddress } from '../shadow/access.js';
import { Instr, SS } from '../cpu/instr.js';
import { FAULT, Vec, vectorName } from '../cpu/stop.js';
import { loadDescriptorTableRegister } from '../cpu/exec/system.js';
import type { Kernel, TrapFrame, TrapHandler } from '../kernel/kernel.js';
import { GuestFault } from '../kernel/guest-memory.js';

/** What is emulated, by mnemonic (counters' keys). */
export const EMULATED_MNEMONICS = [
  'mov cr', 'mov dr', 'invlpg', 'lgdt', 'lidt', 'lldt', 'ltr', 'lmsw', 'clts', 'invd', 'wbinvd', 'hlt',
] as const;
export type EmulatedMnemonic = (typeof EMULATED_MNEMONICS)[number];

export interface EmulationCounters {
  /** Instructions emulated, in total. */
  total: number;
  /** Per mnemonic. */
  readonly byMnemonic: Record<EmulatedMnemonic, number>;
  /** #GP from CPL 1 that were not emulable and went to the previous handler. */
  passedOn: number;
}

class KernelBytes implements ByteSource {
  constructor(private readonly em: PrivilegedEmulation) {}
  fetch(addr: number): number {
    return this.em.read8(addr);
  }
}

const EAX = 0, ESP = 4;

/** The ring-1 kernel's #GP handler (one per kernel). */
export class PrivilegedEmulation {
  readonly counters: EmulationCounters;
  /**
   * Reads guest memory including hidden pages (returns -1 when unmapped);
   * null: through the page tables only. The CPL-1 stack tracker sets it.
   */
  peek: ((lin: number) => number) | null = null;
  /**
   * Told about every memory operand the emulation reads (linear address, size, the instruction's EIP and
   * the interrupted ESP): the CPL-1 stack tracker checks reads of its stack, as if the instruction had
   * run at CPL 0 and faulted on the hidden page.
   */
  onRead: ((lin: number, n: number, eip: number, esp: number) => void) | null = null;
  private curEip = 0;
  private curEsp = 0;
  private prevGP: TrapHandler | undefined;
  private readonly bytes = new KernelBytes(this);
  private readonly cache = new Map<number, Instr>();
  /** A register-form stand-in for LLDT/LTR/LMSW with a memory operand. */
  private readonly regForm = new Instr();
  private readonly ctx = new InterruptedContext();

  constructor(readonly kernel: Kernel) {
    const by = {} as Record<EmulatedMnemonic, number>;
    for (const m of EMULATED_MNEMONICS) by[m] = 0;
    this.counters = { total: 0, byMnemonic: by, passedOn: 0 };
  }

  /** Take over #GP, chaining to the handler installed before (install after installKernelOops()). */
  install(): void {
    const cur = this.kernel.getTrapHandler(Vec.GP);
    if (cur !== this.onGP) this.prevGP = cur;
    this.kernel.setTrapHandler(Vec.GP, this.onGP);
  }

  read8(lin: number): number {
    if (this.peek !== null) return this.peek(lin);
    try {
      return this.kernel.mem.read(lin, 1)[0]!;
    } catch (e) {
      if (e instanceof GuestFault) return -1;
      throw e;
    }
  }

  private read(lin: number, n: number): number {
    this.onRead?.(lin, n, this.curEip, this.curEsp);
    let v = 0;
    for (let i = 0; i < n; i++) {
      const b = this.read8((lin + i) | 0);
      if (b < 0) {
        this.kernel.cpu.cr2 = (lin + i) | 0;
        throw new GuestFault((lin + i) | 0, false);
      }
      v |= b << (8 * i);
    }
    return v;
  }

  /** The instruction at `eip`, decoded once and re-checked against memory (self-modifying code). */
  private decodeAt(eip: number): Instr | null {
    const hit = this.cache.get(eip);
    if (hit !== undefined) {
      let same = true;
      for (let i = 0; same && i < hit.len; i++) same = this.read8((eip + i) | 0) === hit.bytes[i];
      if (same) return hit;
    }
    let ins: Instr;
    try {
      ins = decodeInstr(this.bytes, eip, 4);
    } catch {
      return null;
    }
    if (ins.def === null || ins.len === 0) return null;
    if (this.cache.size > 1024) this.cache.clear();
    this.cache.set(eip, ins);
    return ins;
  }

  /** Which emulable instruction `ins` is, or null. */
  static classify(ins: Instr): EmulatedMnemonic | null {
    const name = ins.def?.name;
    switch (ins.op) {
      case 0x120: case 0x122: return 'mov cr';
      case 0x121: case 0x123: return 'mov dr';
      case 0x106: return 'clts';
      case 0x108: return 'invd';
      case 0x109: return 'wbinvd';
      case 0xf4: return 'hlt';
      case 0x100: return name === 'lldt' || name === 'ltr' ? name : null;
      case 0x101:
        if (name === 'lgdt' || name === 'lidt') return ins.mem ? name : null;
        if (name === 'invlpg') return ins.mem ? 'invlpg' : null;
        if (name === 'lmsw') return 'lmsw';
        return null;
      default: return null;
    }
  }

  /** The memory operand's linear address in the interrupted code's context (its ESP, not the handler's). */
  private linear(ins: Instr, interruptedEsp: number, ssBase: number): number {
    const ctx = this.ctx.fromCpu(this.kernel.cpu);
    ctx.regs[ESP] = interruptedEsp;
    ctx.segBase[SS] = ssBase;
    return operandAddress(ins, ctx);
  }

  readonly onGP: TrapHandler = (k, f) => {
    const cpl = f.cs & 3;
    if (f.errorCode !== 0 || cpl === 0 || cpl === 3) {
      this.chain(k, f);
      return;
    }
    const ins = this.decodeAt(f.eip);
    const what = ins === null ? null : PrivilegedEmulation.classify(ins);
    if (ins === null || what === null) {
      this.counters.passedOn++;
      this.chain(k, f);
      return;
    }
    const cpu = k.cpu;
    const handlerEsp = cpu.regs[ESP]!;
    const interruptedEsp = f.userEsp;
    const ssBase = cpu.segBase[SS]!; // flat kernels: the CPL-1 SS has base 0 as well
    const savedEax = cpu.regs[EAX]!;
    this.curEip = f.eip;
    this.curEsp = interruptedEsp;
    let swapped = false;
    try {
      switch (what) {
        case 'hlt':
          // Wait for an interrupt after the IRET, with the interrupted IF (CPU.run's serviceAttention()).
          cpu.halted = true;
          cpu.requestAttention();
          break;
        case 'invlpg':
          cpu.invalidatePage(this.linear(ins, interruptedEsp, ssBase));
          break;
        case 'lgdt':
        case 'lidt': {
          const lin = this.linear(ins, interruptedEsp, ssBase);
          loadDescriptorTableRegister(cpu, what === 'lgdt', this.read(lin, 2), this.read((lin + 2) | 0, 4), ins.size);
          break;
        }
        case 'lldt':
        case 'ltr':
        case 'lmsw':
          if (ins.mod === 3) {
            cpu.regs[ESP] = interruptedEsp;
            swapped = true;
            ins.exec(cpu, ins);
          } else {
            // The selector (or MSW) operand from memory, then the CPU's own register form with it in EAX.
            const v = this.read(this.linear(ins, interruptedEsp, ssBase), 2) & 0xffff;
            const r = this.regForm;
            r.op = ins.op;
            r.def = ins.def;
            r.exec = ins.exec;
            r.mod = 3;
            r.rm = EAX;
            r.reg = ins.reg;
            r.size = 2;
            cpu.regs[EAX] = v;
            ins.exec(cpu, r);
            cpu.regs[EAX] = savedEax;
          }
          break;
        default:
          // MOV CRn/DRn and the operand-less ones only use general registers: run the CPU's own
          // implementation at CPL 0 with the interrupted ESP in place.
          cpu.regs[ESP] = interruptedEsp;
          swapped = true;
          ins.exec(cpu, ins);
          break;
      }
    } catch (e) {
      if (swapped) cpu.regs[ESP] = handlerEsp;
      cpu.regs[EAX] = savedEax;
      if (e !== FAULT && !(e instanceof GuestFault)) throw e;
      const v = e === FAULT ? cpu.excVector : Vec.PF;
      const err = e === FAULT ? (cpu.excHasError ? cpu.excError : null) : 0;
      cpu.stop({
        kind: 'fault', vector: v, errorCode: err, eip: f.eip,
        message: `Oops: ${vectorName(v)}${err !== null ? ` (error code 0x${err.toString(16)})` : ''} while emulating ${what.toUpperCase()} for the CPL-1 kernel at EIP 0x${(f.eip >>> 0).toString(16)}`,
      });
      return;
    }
    if (swapped) {
      const newEsp = cpu.regs[ESP]!;
      cpu.regs[ESP] = handlerEsp;
      // MOV r,CRn/DRn into ESP: the interrupted ESP changes (the frame's SS:ESP slot).
      if (newEsp !== interruptedEsp) k.mem.write32((f.frameAddress + 12) | 0, newEsp);
    }
    // Resume after the instruction (the frame's EIP slot), as Xen's emulate_privileged_op() does.
    k.mem.write32(f.frameAddress, (f.eip + ins.len) | 0);
    this.counters.total++;
    this.counters.byMnemonic[what]++;
  };

  private chain(k: Kernel, f: TrapFrame): void {
    const h = this.prevGP;
    if (h) {
      h(k, f);
      return;
    }
    k.cpu.stop({
      kind: 'fault', vector: f.vector, errorCode: f.errorCode, eip: f.eip,
      message: `${vectorName(f.vector)} at 0x${(f.eip >>> 0).toString(16)}`,
    });
  }
}

const emulations = new WeakMap<Kernel, PrivilegedEmulation>();

/** The kernel's #GP emulation, created and installed on first use (after installKernelOops()). */
export function installPrivilegedEmulation(kernel: Kernel): PrivilegedEmulation {
  let e = emulations.get(kernel);
  if (e === undefined) {
    e = new PrivilegedEmulation(kernel);
    e.install();
    emulations.set(kernel, e);
  }
  return e;
}
