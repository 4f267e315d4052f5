/**
 * The instruction decoder (Intel SDM Vol. 2 chapter 2, "Instruction Format").
 *
 * Everything it knows about individual opcodes comes from `x86_table.ts`:
 * operand specs (SDM Appendix A notation: Eb, Gv, Iz, Jb, ...) say whether a
 * ModRM byte follows and which immediates. The same table drives the
 * disassembler and the tests, so the three cannot disagree.
 */
import type { CPU } from './cpu.js';
import { Instr, CS, DS, SS, REP_E, REP_NE } from './instr.js';
import { ONE_BYTE, TWO_BYTE, type OpDef, type Operand } from './x86_table.js';
import { execInvalid, execUnsupported, execFetchFault, execNative } from './exec/special.js';
import { formatInstr, mnemonicOf } from './disasm.js';
export { mnemonicOf };
import { FAULT } from './stop.js';
import { jmpRel, callRel } from './exec/control.js';
import type { CompiledBlock } from './jit.js';

/** A straight-line run of decoded instructions ending at a control transfer or page end. */
export class Block {
  /**
   * Successor links: the block last reached from this one at each exit,
   * valid while `epoch` matches the CPU's code epoch (bumped by anything
   * that could change what an EIP maps to: TLB flushes, INVLPG, CPL
   * changes, code invalidation). Saves a cache lookup per block.
   */
  linkEip1 = -1;
  link1: Block | null = null;
  linkEip2 = -1;
  link2: Block | null = null;
  epoch = -1;
  /** Executions so far, and the compiled form once hot (see jit.ts). */
  hits = 0;
  compiled: CompiledBlock | null = null;
  /** The compiled form that counts self-loop edges, used while CPU.edgeCounts is on. */
  compiledCov: CompiledBlock | null = null;
  /** Exceptions thrown out of the compiled form (see JIT_FAULT_LIMIT in cpu.ts). */
  jitFaults = 0;
  /**
   * Executions the run loop started with no block before it (after a trap handler's return, a single
   * step, the start of a run). A block entered so more than half the time, and more than once, is
   * compiled on the JavaScript tier, which costs less to enter than the WebAssembly tier, whose
   * chaining such a block cannot use (the block after each kmemcheck-tracked access: ~10 % of a
   * kmemcheck run, README "The eleventh round").
   */
  unlinked = 0;
  /**
   * Cut short before an instruction that kept faulting (CPU.splitBlock): compiled on the JavaScript
   * tier too, as the run loop enters it once per fault (the next block, the faulting one's, is
   * interpreted and never chained to).
   */
  split = false;
  /** Compile on the JavaScript tier, not the WebAssembly one (see `unlinked`, `split`). */
  get prefersJs(): boolean {
    return this.split || (this.unlinked > 1 && this.unlinked * 2 > this.hits);
  }
  constructor(
    readonly instrs: Instr[],
    readonly cacheable: boolean,
    /** The last instruction continues on the next physical page. */
    readonly straddles: boolean,
  ) {}
}

const MAX_BLOCK = 64;
const MAX_LEN = 15;

/** Byte source for the decoder: throws FAULT through the CPU on an unmapped fetch. */
export interface ByteSource {
  fetch(addr: number): number;
}

/** Thrown internally when the instruction runs past 15 bytes or the end of the input. */
class TooLong {
  constructor(readonly truncated: boolean) {}
}

/**
 * Decode one instruction at `addr`. Never throws for any byte content;
 * a fetch fault from `src` propagates (the caller decides what it means).
 */
export function decodeInstr(src: ByteSource, addr: number, defaultSize: 2 | 4 = 4): Instr {
  const ins = new Instr();
  ins.addr = addr | 0;
  const bytes: number[] = [];
  let pos = addr;
  const next = (): number => {
    if (bytes.length >= MAX_LEN) throw new TooLong(false);
    const b = src.fetch(pos);
    if (b < 0) throw new TooLong(true);
    pos = (pos + 1) | 0;
    bytes.push(b);
    return b;
  };
  try {
    decodeInto(ins, next, defaultSize);
  } catch (e) {
    if (!(e instanceof TooLong)) throw e;
    ins.def = null;
    ins.exec = e.truncated ? execInvalid : execInvalid;
    ins.invalidReason = e.truncated ? 'truncated instruction' : 'instruction longer than 15 bytes';
    ins.excVectorGP = !e.truncated;
  }
  ins.bytes = bytes;
  ins.len = bytes.length;
  ins.next = (addr + ins.len) | 0;
  // Relative branch targets are resolved once, here.
  if (ins.def && ins.def.rel) {
    let t = (ins.next + ins.imm) | 0;
    if (ins.size === 2) t &= 0xffff;
    ins.imm = t;
  }
  return ins;
}

function decodeInto(ins: Instr, next: () => number, defaultSize: 2 | 4): void {
  let opsize = defaultSize;
  let asize = defaultSize;
  let b: number;
  // Legacy prefixes (SDM Vol. 2 §2.1.1), any order, any number up to the 15-byte limit.
  for (;;) {
    b = next();
    if (b === 0x66) opsize = defaultSize === 4 ? 2 : 4;
    else if (b === 0x67) asize = defaultSize === 4 ? 2 : 4;
    else if (b === 0xf0) ins.lock = true;
    else if (b === 0xf3) ins.rep = REP_E;
    else if (b === 0xf2) ins.rep = REP_NE;
    else if (b === 0x26) ins.segOverride = 0;
    else if (b === 0x2e) ins.segOverride = 1;
    else if (b === 0x36) ins.segOverride = 2;
    else if (b === 0x3e) ins.segOverride = 3;
    else if (b === 0x64) ins.segOverride = 4;
    else if (b === 0x65) ins.segOverride = 5;
    else break;
  }
  ins.opsize66 = opsize !== defaultSize;
  let def: OpDef | undefined;
  if (b === 0x0f) {
    b = next();
    ins.op = 0x100 | b;
    def = TWO_BYTE[b];
  } else {
    ins.op = b;
    def = ONE_BYTE[b];
  }
  ins.asize = asize;
  if (def === undefined) {
    ins.exec = execInvalid;
    ins.invalidReason = 'invalid opcode';
    return;
  }
  let modrm = -1;
  if (def.threeByte) next();
  if (def.modrm) {
    modrm = next();
    ins.hasModrm = true;
    ins.mod = modrm >> 6;
    ins.reg = (modrm >> 3) & 7;
    ins.rm = modrm & 7;
  }
  if (def.group) {
    const sub: OpDef | undefined = (ins.mod === 3 && def.groupReg ? def.groupReg : def.group)[ins.reg];
    if (sub === undefined) {
      if (ins.mod !== 3) decodeModrmMemory(ins, next);
      ins.exec = execInvalid;
      ins.invalidReason = 'invalid opcode';
      return;
    }
    def = sub;
  }
  // A few encodings differ only by their ModRM being a register (e.g. 0F 01 C1..).
  if (def.regForms && ins.mod === 3) {
    const rf = def.regForms[ins.rm];
    if (rf === undefined) {
      ins.exec = execInvalid;
      ins.invalidReason = 'invalid opcode';
      return;
    }
    def = rf;
  }
  // Mandatory-prefix variants (F3 0F B8 POPCNT, F3 90 PAUSE, ...).
  if (def.prefixed) {
    const v = ins.rep === REP_E ? def.prefixed.f3 : ins.rep === REP_NE ? def.prefixed.f2 : ins.opsize66 ? def.prefixed.p66 : undefined;
    if (v !== undefined) def = v;
  }
  ins.def = def;
  ins.size = def.osz === 'b' ? 1 : def.osz === 'w' ? 2 : def.osz === 'd' ? 4 : opsize;
  if (def.forceReg) ins.mod = 3;
  if (def.modrm && ins.mod !== 3) decodeModrmMemory(ins, next);
  for (const o of def.imms) readImmediate(ins, o, next, opsize);
  if (ins.segOverride >= 0) ins.seg = ins.segOverride;
  // Encodings that exist only with a memory operand (LEA, LDS, CMPXCHG8B, ...) or only with a register.
  if (def.memOnly && ins.hasModrm && ins.mod === 3) {
    ins.exec = execInvalid;
    ins.invalidReason = `${def.name} requires a memory operand`;
    return;
  }
  if (ins.lock && !(def.lockable && ins.mem)) {
    ins.exec = execInvalid;
    ins.invalidReason = 'LOCK prefix not allowed here';
    return;
  }
  const bad = def.invalidWhen?.(ins);
  if (bad !== undefined) {
    ins.exec = execInvalid;
    ins.invalidReason = bad;
    return;
  }
  if (def.unsupported) {
    ins.exec = execUnsupported;
    ins.invalidReason = def.unsupported;
    return;
  }
  ins.exec = (def.specialize && def.specialize(ins)) || def.exec;
}

/** ModRM/SIB memory forms (SDM Vol. 2 Tables 2-1, 2-2, 2-3). */
function decodeModrmMemory(ins: Instr, next: () => number): void {
  const mod = ins.mod;
  const rm = ins.rm;
  ins.mem = true;
  if (ins.asize === 2) {
    const bases = [3, 3, 5, 5, 6, 7, 5, 3];
    const idx = [6, 7, 6, 7, -1, -1, -1, -1];
    if (mod === 0 && rm === 6) {
      ins.base = -1;
      ins.index = -1;
      ins.disp = next() | (next() << 8);
    } else {
      ins.base = bases[rm];
      ins.index = idx[rm];
      if (mod === 1) ins.disp = (next() << 24) >> 24;
      else if (mod === 2) ins.disp = next() | (next() << 8);
    }
    ins.scale = 0;
    ins.seg = rm === 2 || rm === 3 || (rm === 6 && mod !== 0) ? SS : DS;
    return;
  }
  let base = rm;
  if (rm === 4) {
    const sib = next();
    ins.scale = sib >> 6;
    const index = (sib >> 3) & 7;
    ins.index = index === 4 ? -1 : index;
    base = sib & 7;
    if (base === 5 && mod === 0) {
      ins.base = -1;
      ins.disp = disp32(next);
      ins.seg = DS;
      return;
    }
  } else if (rm === 5 && mod === 0) {
    ins.base = -1;
    ins.index = -1;
    ins.disp = disp32(next);
    ins.seg = DS;
    return;
  }
  ins.base = base;
  ins.seg = base === 4 || base === 5 ? SS : DS;
  if (mod === 1) ins.disp = (next() << 24) >> 24;
  else if (mod === 2) ins.disp = disp32(next);
}

function disp32(next: () => number): number {
  return next() | (next() << 8) | (next() << 16) | (next() << 24);
}

function readImmediate(ins: Instr, o: Operand, next: () => number, opsize: number): void {
  let v: number;
  switch (o) {
    case 'Ib': v = next(); break;
    case 'Ibs': case 'Jb': v = (next() << 24) >> 24; break;
    case 'Iw': v = next() | (next() << 8); break;
    case 'Iz': case 'Iv': case 'Jz':
      v = opsize === 2 ? next() | (next() << 8) : disp32(next);
      if (o === 'Jz' && opsize === 2) v = (v << 16) >> 16;
      break;
    case 'Ap':
      ins.imm = opsize === 2 ? next() | (next() << 8) : disp32(next);
      ins.imm2 = next() | (next() << 8);
      return;
    case 'Ob': case 'Ov':
      // moffs: a displacement of address size, no ModRM (A0–A3).
      ins.mem = true;
      ins.base = -1;
      ins.index = -1;
      ins.disp = ins.asize === 2 ? next() | (next() << 8) : disp32(next);
      ins.seg = DS;
      return;
    default:
      return;
  }
  if (ins.immCount++ === 0) ins.imm = v;
  else ins.imm2 = v;
}

/** Decoder byte source over a CPU's linear address space (instruction fetch). */
class CpuFetch implements ByteSource {
  cpu!: CPU;
  limitPage = -1;
  straddled = false;
  startPage = 0;
  /** The byte being fetched: when it faults, the re-raising block reads exactly this one. */
  lastAddr = 0;
  fetch(addr: number): number {
    if (addr >>> 12 !== this.startPage) this.straddled = true;
    this.lastAddr = addr;
    return this.cpu.read8(addr);
  }
}
const cpuFetch = new CpuFetch();

/**
 * Decode a block starting at `eip`: instructions up to the first control
 * transfer, the end of the page, or MAX_BLOCK. A fetch fault on the first
 * instruction yields a one-instruction block that raises it; on a later
 * instruction it simply ends the block (the fault happens when reached).
 */
export function decodeBlock(cpu: CPU, eip: number, ppage: number): Block {
  const instrs: Instr[] = [];
  let addr = eip | 0;
  let straddles = false;
  const startPage = eip >>> 12;
  const defaultSize: 2 | 4 = cpu.codeSize32 ? 4 : 2;
  while (instrs.length < MAX_BLOCK) {
    const native = cpu.nativeAt(addr);
    if (native) {
      const ins = new Instr();
      ins.addr = addr;
      ins.next = addr;
      ins.native = native;
      ins.exec = execNative;
      instrs.push(ins);
      break;
    }
    cpuFetch.cpu = cpu;
    cpuFetch.startPage = startPage;
    cpuFetch.straddled = false;
    let ins: Instr;
    const savedCr2 = cpu.cr2;
    try {
      ins = decodeInstr(cpuFetch, addr, defaultSize);
    } catch (e) {
      if (e !== FAULT) throw e;
      if (instrs.length > 0) {
        cpu.cr2 = savedCr2;
        break;
      }
      // The fetch of the first byte(s) faulted: a block that re-raises it.
      const f = new Instr();
      f.addr = addr;
      f.next = addr;
      f.exec = execFetchFault;
      // The byte that faulted, which is on the next page for an instruction that straddles into
      // a not-present one (CR2 then names that page, as on hardware).
      f.imm = cpuFetch.lastAddr;

      return new Block([f], false, false);
    }
    if (cpuFetch.straddled) straddles = true;
    // Instructions that read the retired-instruction count start their own block (see CPU.run).
    if (ins.def?.startsBlock && instrs.length > 0) break;
    instrs.push(ins);
    ins.cont = ins.next;
    if (ins.def === null || straddles) break;
    if (ins.def.endsBlock) {
      // A direct JMP or near CALL to elsewhere on this page: the block goes on at the target, so
      // calls and jumps cost no trip through the run loop (the target's page is this one, so
      // invalidation still covers every instruction of the block).
      const follow = (ins.exec === jmpRel || (ins.exec === callRel && ins.size === 4)) && ins.imm >>> 12 === startPage && !instrs.some((x) => x.addr === ins.imm);
      if (!follow) break;
      ins.cont = ins.imm;
      addr = ins.imm;
      continue;
    }
    if (ins.next >>> 12 !== startPage) break;
    addr = ins.next;
  }
  return new Block(instrs, ppage >= 0, straddles);
}

/** Byte source over a plain array; -1 past the end means "truncated". */
class ArrayFetch implements ByteSource {
  bytes: Uint8Array = new Uint8Array(0);
  base = 0;
  fetch(addr: number): number {
    const i = (addr - this.base) | 0;
    return i >= 0 && i < this.bytes.length ? this.bytes[i] : -1;
  }
}
const arrayFetch = new ArrayFetch();

export interface DecodeInfo {
  length: number;
  invalid: boolean;
  unsupported: boolean;
  mnemonic: string;
  memSize: number;
  text: string;
}

/** Decode one instruction from bytes (32-bit code): used by the disassembler and tests. */
export function decodeOne(bytes: Uint8Array, eip = 0): DecodeInfo {
  arrayFetch.bytes = bytes;
  arrayFetch.base = eip | 0;
  const ins = decodeInstr(arrayFetch, eip | 0, 4);
  const invalid = ins.def === null || ins.exec === execInvalid;
  const unsupported = !invalid && ins.exec === execUnsupported;
  return {
    length: ins.len,
    invalid,
    unsupported,
    mnemonic: invalid ? '(bad)' : mnemonicOf(ins),
    memSize: invalid || unsupported ? 0 : memSizeOf(ins),
    text: formatInstr(ins),
  };
}

export function decodeAt(bytes: Uint8Array, eip = 0): Instr {
  arrayFetch.bytes = bytes;
  arrayFetch.base = eip | 0;
  return decodeInstr(arrayFetch, eip | 0, 4);
}


/** Bytes accessed through the ModRM/moffs memory operand (0 when none is accessed). */
export function memSizeOf(ins: Instr): number {
  const def = ins.def;
  if (!def) return 0;
  // String instructions and XLAT address memory implicitly (ESI/EDI, EBX+AL): one element.
  if (def.string) return ins.size;
  if (def.name === 'xlatb') return 1;
  if (!ins.mem) return 0;
  const ms = def.memSize;
  if (ms === undefined) return ins.size;
  if (ms === 'v') return ins.size;
  if (ms === 'p') return ins.size + 2;
  if (ms === 'a') return ins.size * 2;
  if (ms === 'env') return ins.size === 2 ? 14 : 28;
  if (ms === 'save') return ins.size === 2 ? 94 : 108;
  return ms;
}

export { CS, DS };

/** How an instruction accesses its ModRM/moffs memory operand (memoryOperandAccess): read, written, or both. */
export const MEM_READ = 1, MEM_WRITE = 2, MEM_READ_WRITE = 3;

/** Instructions whose first (destination-position) ModRM operand is only read (or not accessed at all: hint NOPs, INVLPG, UD0/UD1). */
const READ_ONLY_FIRST_OPERAND = new Set([
  'cmp', 'test', 'bt', 'push', 'call', 'jmp', 'lgdt', 'lidt', 'lldt', 'ltr', 'verr', 'verw',
  'mul', 'imul', 'div', 'idiv', 'lmsw', 'invlpg', 'nop', 'prefetch', 'ud0', 'ud1', 'clflush',
]);
/** Instructions that only store to it (SETcc too). */
const WRITE_ONLY_FIRST_OPERAND = new Set(['mov', 'sgdt', 'sidt', 'sldt', 'str', 'smsw']);
const accessByDef = new Map<OpDef, number>();

/**
 * How `def` accesses its ModRM/moffs memory operand (SDM Appendix A operand notation): the table's
 * `memAccess` when it says; else a memory operand in second place (G,E forms, loads, MOVZX, CMOVcc,
 * far-pointer loads, BOUND, LAR/LSL, MOV Sreg,Ew) is read, and one in first place is read (CMP, TEST,
 * BT, MUL/DIV, LGDT, PUSH/CALL/JMP Ev, ...), written (MOV, SETcc, SGDT/SIDT, SLDT/STR, SMSW) or read,
 * modified and written (ALU operations, INC/DEC/NOT/NEG, shifts, BTS/BTR/BTC, XCHG, XADD, CMPXCHG,
 * CMPXCHG8B, ARPL). One answer for the CPU's segment-limit check and kmemcheck's access decoder.
 */
export function memoryOperandAccess(def: OpDef): number {
  let a = accessByDef.get(def);
  if (a === undefined) {
    const first = def.ops[0] ?? '';
    if (def.memAccess !== undefined) a = def.memAccess === 'w' ? MEM_WRITE : MEM_READ;
    else if (!(first[0] === 'E' || first[0] === 'M' || first[0] === 'O') || READ_ONLY_FIRST_OPERAND.has(def.name)) a = MEM_READ;
    else if (WRITE_ONLY_FIRST_OPERAND.has(def.name) || def.name.startsWith('set')) a = MEM_WRITE;
    else a = MEM_READ_WRITE;
    accessByDef.set(def, a);
  }
  return a;
}

/** Whether an instruction writes its ModRM/moffs memory operand (the segment-limit check's write test). */
export function writesMemoryOperand(ins: Instr): boolean {
  return ins.def !== null && (memoryOperandAccess(ins.def) & MEM_WRITE) !== 0;
}
