/**
 * Access decoding: every memory access an instruction is about to make,
 * with its linear address, size and kind, computed from the decoded
 * instruction (src/cpu/decoder.ts, the CPU's own decoder) and the
 * interrupted register state. The page-hiding service uses it to show all
 * the pages an instruction touches before single-stepping it; kmemcheck
 * uses it to check and update shadow memory.
 *
 * Linux's kmemcheck had a deliberately crude opcode decoder
 * (kmemcheck_opcode_decode(): operand size from the 0x66 prefix and the
 * opcode's low bit, MOVZX/MOVSX special-cased) and took the address from
 * CR2, special-casing only MOVS and CMPS, which have two memory operands
 * but fault once. kmemsim decodes exactly: ModRM/moffs operands with the
 * size the CPU uses (memSizeOf), read, write or read-modify-write; the
 * implicit operands of string instructions (one iteration per single
 * step), stack instructions (PUSH/POP incl. memory operands, PUSHA/POPA,
 * PUSHF/POPF, CALL/RET near and far, ENTER/LEAVE, IRET), XLAT and the
 * bit-string offset of BT/BTS/BTR/BTC with a register offset. An access
 * may straddle two pages; an instruction makes at most four (ENTER with a
 * nesting level is described as ranges).
 *
 * Not listed: the frames exception delivery pushes (INT n, INTO, INT3),
 * descriptor-table and TSS reads the processor makes itself, the outer
 * stack of far RET/IRET to a less privileged level and the parameters a
 * call gate copies. A page missed this way still works: the page-hiding
 * service shows it on its own #PF during the step.
 */
import { MEM_READ, MEM_WRITE, memSizeOf, memoryOperandAccess } from '../cpu/decoder.js';
import { ES, REP_NONE, SS, type Instr } from '../cpu/instr.js';
import type { OpDef } from '../cpu/x86_table.js';
import { ACCESS_PROBE, ACCESS_READ, ACCESS_RMW, ACCESS_WRITE, AccessList, InterruptedContext, type AccessContext } from '../kernel/page-hiding.js';

export { ACCESS_PROBE, ACCESS_READ, ACCESS_RMW, ACCESS_WRITE, AccessList, InterruptedContext, type AccessContext };

const ECX = 1, EBX = 3, ESP = 4, EBP = 5, ESI = 6, EDI = 7;

/** Effective address of the ModRM/moffs operand in `ctx` (SDM Vol. 2 §2.1.5). */
export function effectiveAddress(ins: Instr, ctx: AccessContext): number {
  let a = ins.disp;
  if (ins.base >= 0) a += ctx.regs[ins.base];
  if (ins.index >= 0) a += ctx.regs[ins.index] << ins.scale;
  return ins.asize === 4 ? a | 0 : a & 0xffff;
}

/** Linear address of the ModRM/moffs operand. */
export function operandAddress(ins: Instr, ctx: AccessContext): number {
  return (ctx.segBase[ins.seg] + effectiveAddress(ins, ctx)) | 0;
}

function stackLin(ctx: AccessContext, offset: number): number {
  return (ctx.segBase[SS] + offset) | 0;
}
function index(ins: Instr, ctx: AccessContext, r: number): number {
  return ins.asize === 4 ? ctx.regs[r] : ctx.regs[r] & 0xffff;
}

/**
 * The kind of the ModRM/moffs access: the decoder's memoryOperandAccess (one table for the CPU's
 * segment checks and this decoder), whose read/write/read-modify-write are ACCESS_READ, ACCESS_WRITE
 * and ACCESS_RMW.
 */
export function operandKind(ins: Instr): number {
  return factsOf(ins.def!).kind;
}

/** What decodeAccesses asks of an opcode definition, read once per definition (see factsOf). */
interface OpFacts {
  /** Modelled (no `unsupported`). */
  readonly modelled: boolean;
  readonly string: boolean;
  /** The ModRM/moffs access kind (operandKind). */
  readonly kind: number;
}
/**
 * The tables' definitions come in many shapes (their optional fields): reading those fields on every
 * fault is a megamorphic load each, so the answers are kept per definition (the tables never change).
 */
const factsByDef = new Map<OpDef, OpFacts>();
function factsOf(def: OpDef): OpFacts {
  let f = factsByDef.get(def);
  if (f === undefined) {
    f = { modelled: def.unsupported === undefined, string: def.string === true, kind: kindOf(def) };
    factsByDef.set(def, f);
  }
  return f;
}
function kindOf(def: OpDef): number {
  const a = memoryOperandAccess(def);
  return a === MEM_READ ? ACCESS_READ : a === MEM_WRITE ? ACCESS_WRITE : ACCESS_RMW;
}

/**
 * Fill `out` with the accesses `ins` makes when executed in `ctx`; for a
 * REP string instruction, the accesses of the next iteration (none when
 * the count is 0).
 */
export function decodeAccesses(ins: Instr, ctx: AccessContext, out: AccessList): void {
  out.clear();
  if (ins.def === null) return;
  const facts = factsOf(ins.def);
  if (!facts.modelled) return;
  const size = ins.size;
  const op = ins.op;

  // ---- string instructions: one iteration ------------------------------------------
  if (facts.string) {
    if (ins.rep !== REP_NONE && (ins.asize === 4 ? ctx.regs[ECX] : ctx.regs[ECX] & 0xffff) === 0) return;
    const src = (ctx.segBase[ins.seg] + index(ins, ctx, ESI)) | 0;
    const dst = (ctx.segBase[ES] + index(ins, ctx, EDI)) | 0;
    switch (op) {
      case 0xa4: case 0xa5: { // MOVS: the destination gets a copy of the source
        const r = out.add(src, size, ACCESS_READ);
        out.add(dst, size, ACCESS_WRITE, r);
        return;
      }
      case 0xa6: case 0xa7: // CMPS reads both
        out.add(src, size, ACCESS_READ);
        out.add(dst, size, ACCESS_READ);
        return;
      case 0xaa: case 0xab: case 0x6c: case 0x6d: // STOS, INS
        out.add(dst, size, ACCESS_WRITE);
        return;
      case 0xac: case 0xad: case 0x6e: case 0x6f: // LODS, OUTS
        out.add(src, size, ACCESS_READ);
        return;
      case 0xae: case 0xaf: // SCAS
        out.add(dst, size, ACCESS_READ);
        return;
    }
    return;
  }

  const esp = ctx.regs[ESP];
  switch (op) {
    // ---- pushes and pops of registers, flags, immediates --------------------------------
    case 0x06: case 0x0e: case 0x16: case 0x1e: case 0x1a0: case 0x1a8: // PUSH Sreg
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
    case 0x68: case 0x6a: case 0x9c: // PUSH imm, PUSHF
    case 0xe8: // CALL rel
      out.add(stackLin(ctx, esp - size), size, ACCESS_WRITE);
      return;
    case 0x07: case 0x17: case 0x1f: case 0x1a1: case 0x1a9: // POP Sreg
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
    case 0x9d: case 0xc2: case 0xc3: // POPF, RET
      out.add(stackLin(ctx, esp), size, ACCESS_READ);
      return;
    case 0x60: // PUSHA: eight registers below ESP
      out.add(stackLin(ctx, esp - 8 * size), 8 * size, ACCESS_WRITE);
      return;
    case 0x61: // POPA: the stored ESP slot (4th from the top of the area) is skipped
      out.add(stackLin(ctx, esp), 3 * size, ACCESS_READ);
      out.add(stackLin(ctx, esp + 4 * size), 4 * size, ACCESS_READ);
      return;
    case 0x9a: // CALL ptr16:32 (same privilege): CS and EIP pushed
      out.add(stackLin(ctx, esp - 2 * size), 2 * size, ACCESS_WRITE);
      return;
    case 0xca: case 0xcb: // RETF: EIP and CS popped
      out.add(stackLin(ctx, esp), 2 * size, ACCESS_READ);
      return;
    case 0xcf: // IRET: EIP, CS, EFLAGS
      out.add(stackLin(ctx, esp), 3 * size, ACCESS_READ);
      return;
    case 0xc9: // LEAVE: pop EBP from where EBP points
      out.add(stackLin(ctx, ctx.regs[EBP]), size, ACCESS_READ);
      return;
    case 0xc8: { // ENTER imm16, imm8
      const level = ins.imm2 & 0x1f;
      const alloc = ins.imm & 0xffff;
      const frames = level === 0 ? 1 : level + 1;
      out.add(stackLin(ctx, esp - frames * size), frames * size, ACCESS_WRITE);
      if (level > 1) out.add(stackLin(ctx, ctx.regs[EBP] - (level - 1) * size), (level - 1) * size, ACCESS_READ);
      if (alloc > 0) out.add(stackLin(ctx, esp - frames * size - alloc), 1, ACCESS_PROBE);
      return;
    }
    case 0xd7: // XLAT: byte at seg:(EBX + AL)
      out.add((ctx.segBase[ins.seg] + ((ins.asize === 4 ? ctx.regs[EBX] + (ctx.regs[0] & 0xff) : (ctx.regs[EBX] + (ctx.regs[0] & 0xff)) & 0xffff) | 0)) | 0, 1, ACCESS_READ);
      return;
  }

  if (!ins.mem) {
    // Register forms of the ModRM stack instructions: no operand in memory, but the stack access
    // stays (CALL r32 pushes its return address, PUSH r/m32 and POP r/m32 with a register operand).
    if (op === 0xff && (ins.reg === 2 || ins.reg === 6)) out.add(stackLin(ctx, esp - size), size, ACCESS_WRITE);
    else if (op === 0x8f) out.add(stackLin(ctx, esp), size, ACCESS_READ);
    return;
  }
  const msize = memSizeOf(ins);
  if (msize === 0) return; // LEA, hint NOPs, INVLPG: an address, no access
  const ea = operandAddress(ins, ctx);

  switch (op) {
    case 0xc0: case 0xc1: case 0xd2: case 0xd3: case 0x1a4: case 0x1a5: case 0x1ac: case 0x1ad: {
      // Shifts and rotates by an immediate or CL whose masked count is 0 change nothing, and kmemsim's CPU
      // then does not touch the operand at all (src/cpu/exec/shift.ts): neither does the decoder.
      const count = op === 0xd2 || op === 0xd3 || op === 0x1a5 || op === 0x1ad ? ctx.regs[ECX] : ins.imm;
      if ((count & 0x1f) === 0) return;
      break;
    }
    case 0x8f: { // POP Ev: reads the stack, then writes the operand addressed with ESP already incremented
      const r = out.add(stackLin(ctx, esp), size, ACCESS_READ);
      const saved = ctx.regs[ESP];
      ctx.regs[ESP] = (esp + size) | 0;
      const dst = operandAddress(ins, ctx);
      ctx.regs[ESP] = saved;
      out.add(dst, msize, ACCESS_WRITE, r);
      return;
    }
    case 0xff:
      switch (ins.reg) {
        case 6: { // PUSH Ev: a memory-to-memory copy
          const r = out.add(ea, msize, ACCESS_READ);
          out.add(stackLin(ctx, esp - size), size, ACCESS_WRITE, r);
          return;
        }
        case 2: // CALL Ev
          out.add(ea, msize, ACCESS_READ);
          out.add(stackLin(ctx, esp - size), size, ACCESS_WRITE);
          return;
        case 3: // CALL m16:32
          out.add(ea, msize, ACCESS_READ);
          out.add(stackLin(ctx, esp - 2 * size), 2 * size, ACCESS_WRITE);
          return;
        case 4: case 5: // JMP Ev, JMP m16:32
          out.add(ea, msize, ACCESS_READ);
          return;
      }
      out.add(ea, msize, ACCESS_RMW); // INC, DEC
      return;
    case 0x1a3: case 0x1ab: case 0x1b3: case 0x1bb: { // BT/BTS/BTR/BTC Ev,Gv: the register is a signed bit offset
      const off = size === 2 ? (ctx.regs[ins.reg] << 16) >> 16 : ctx.regs[ins.reg];
      const at = (ea + (off >> (size === 2 ? 4 : 5)) * size) | 0;
      out.add(at, msize, op === 0x1a3 ? ACCESS_READ : ACCESS_RMW);
      return;
    }
  }

  out.add(ea, msize, facts.kind);
}

/** Preallocated scratch for `accessSize`. */
const scratchList = new AccessList();
const zeroContext = new InterruptedContext();

/**
 * The data size of an instruction's memory access, in the spirit of
 * kmemcheck_opcode_decode(): the size of its first data access with a
 * zeroed register file (0 when it makes none).
 */
export function accessSize(ins: Instr): number {
  decodeAccesses(ins, zeroContext, scratchList);
  if (scratchList.count === 0) {
    // REP with ECX = 0 makes no access; the element size is still the instruction's.
    return ins.def?.string ? ins.size : 0;
  }
  return scratchList.size[0];
}
