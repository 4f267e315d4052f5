/**
 * iced-x86 as an independent decoding oracle for kmemsim's decoder.
 *
 * iced-x86 is used ONLY here and in tests: it is a dev dependency, never
 * imported from src/. Everything this module returns is plain data, so the
 * WASM objects are freed as soon as an answer is computed.
 *
 * iced decodes for a modern CPU with DecoderOptions.None, which already
 * rejects what hardware rejects with #UD: LOCK on a non-lockable
 * instruction or on a register destination, MOV CS,r/m, reserved ModRM
 * forms such as 0F C7 /1 with mod=11, anything longer than 15 bytes.
 */
import {
  Code,
  CpuidFeature,
  Decoder,
  DecoderError,
  DecoderOptions,
  Formatter,
  FormatterSyntax,
  Instruction,
  MemorySize,
  MemorySizeExt,
  Mnemonic,
  OpKind,
} from 'iced-x86';

export interface IcedVerdict {
  /** iced says Code.INVALID (invalid encoding, over 15 bytes, or not enough bytes). */
  invalid: boolean;
  /** 'none' | 'invalid' | 'no-more-bytes' (iced's DecoderError). */
  error: 'none' | 'invalid' | 'no-more-bytes';
  length: number;
  /** iced `Code` name, e.g. 'Add_rm32_imm8'. */
  code: string;
  /** iced `Mnemonic` name lower-cased, e.g. 'add', 'movsd', 'reservednop'. */
  mnemonic: string;
  /** Intel-syntax text from iced's formatter. */
  text: string;
  /** The instruction has an explicit memory operand (ModRM memory, moffs, string operands, XLAT). */
  hasMem: boolean;
  /** iced's MemorySize for that operand (name and size in bytes). */
  icedMemSizeName: string;
  icedMemSize: number;
  /** Bytes the memory operand accesses, after the documented mapping in `expectedMemSize`. */
  memSize: number;
  /** Why `memSize` differs from `icedMemSize`, when it does. */
  memSizeNote: string;
  /** CPUID feature names iced attributes to the instruction. */
  features: string[];
  privileged: boolean;
}

const MEMORY_OP_KINDS = new Set<number>([
  OpKind.MemorySegSI,
  OpKind.MemorySegESI,
  OpKind.MemorySegRSI,
  OpKind.MemorySegDI,
  OpKind.MemorySegEDI,
  OpKind.MemorySegRDI,
  OpKind.MemoryESDI,
  OpKind.MemoryESEDI,
  OpKind.MemoryESRDI,
  OpKind.Memory,
]);

/**
 * iced `Code`s whose memory operand is not accessed at all (no read, no
 * write, no fault), so kmemsim's `memSize` must be 0 for them:
 *  - LEA computes an address only (iced already reports MemorySize.Unknown);
 *  - the multi-byte NOP 0F 1F /0 and the reserved-NOP space 0F 19..0F 1E
 *    (plus the 0F 0D/0F 18 ModRM forms iced calls Reservednop) never touch
 *    memory: iced reports the operand width (UInt16/UInt32);
 *  - INVLPG takes an address, not data (iced already reports Unknown);
 *  - UD0 / UD1 (0F FF / 0F B9 with ModRM) raise #UD before touching memory;
 *  - the hint space 0F 18..0F 1F: any memory form iced attributes to a newer
 *    extension (CLDEMOTE 0F 1C /0, ...) is a reserved NOP on a CPU without
 *    that extension, which is what kmemsim models;
 *  - software prefetches (0F 18 /0-/3 PREFETCHh, 0F 0D PREFETCH/PREFETCHW)
 *    are hints: they never fault and never deliver data, so they are not a
 *    memory access kmemcheck could see. iced reports UInt8.
 *
 * Everything else is taken from iced's MemorySize as is, because it IS the
 * access size (checked case by case):
 *  - BOUND r32, m32&32 reads both bounds: 8 bytes (4 with 66h) — iced Bound32_DwordDword/Bound16_WordWord;
 *  - far pointers m16:32 (LES/LDS/LSS/LFS/LGS, CALL/JMP FAR m): 6 bytes (4 with 66h) — iced SegPtr32/SegPtr16;
 *  - CMPXCHG8B m64: 8 bytes — iced UInt64;
 *  - LGDT/LIDT/SGDT/SIDT m16&32: 6 bytes whatever the operand size — iced Fword6;
 *  - MOVS/CMPS/STOS/LODS/SCAS/INS/OUTS: the element size (iced reports the
 *    element; MOVS/CMPS make two accesses of that size);
 *  - PUSH m / POP m / CALL m / JMP m: iced's memorySize is the explicit
 *    operand only; the implicit stack access is not counted, and kmemsim's
 *    memSize is defined the same way. Instructions whose only memory access
 *    is implicit (PUSH r, CALL rel, RET, ENTER, LEAVE, PUSHA, IRET, INT)
 *    have no memory operand: 0;
 *  - MOV m16,Sreg / MOV Sreg,m16 / LAR/LSL/ARPL/VERR/VERW/LLDT/LTR/SLDT/STR/SMSW/LMSW m16: 2 bytes.
 */
function noAccessReason(code: Code, mnemonic: string): string {
  if (mnemonic === 'lea') return 'LEA computes an address only';
  if (mnemonic === 'nop' || mnemonic === 'reservednop') return 'multi-byte/reserved NOP does not access memory';
  if (mnemonic === 'invlpg') return 'INVLPG takes an address, not data';
  if (mnemonic === 'ud0' || mnemonic === 'ud1') return 'UD0/UD1 raise #UD before any access';
  if (mnemonic.startsWith('prefetch')) return 'software prefetch is a hint: no access, never faults';
  void code;
  return '';
}

/** The memory-access size kmemsim should report, from iced's view of the instruction. */
export function expectedMemSize(instr: Instruction, mnemonic: string, hintSpace = false): { hasMem: boolean; size: number; icedSize: number; icedName: string; note: string } {
  let hasMem = false;
  const n = instr.opCount;
  for (let i = 0; i < n; i++) {
    if (MEMORY_OP_KINDS.has(instr.opKind(i))) {
      hasMem = true;
      break;
    }
  }
  const ms = instr.memorySize;
  const icedSize = hasMem ? MemorySizeExt.size(ms) : 0;
  const icedName = hasMem ? MemorySize[ms] : 'none';
  if (!hasMem) return { hasMem, size: 0, icedSize, icedName, note: '' };
  const reason = noAccessReason(instr.code, mnemonic) || (hintSpace ? 'hint space 0F 18..0F 1F: a reserved NOP without the extension' : '');
  if (reason) return { hasMem, size: 0, icedSize, icedName, note: reason };
  return { hasMem, size: icedSize, icedSize, icedName, note: '' };
}

const LEGACY_PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

/** The instruction's opcode is 0F 18..0F 1F (after legacy prefixes). */
function inHintSpace(bytes: Uint8Array): boolean {
  let i = 0;
  while (i < bytes.length && i < 15 && LEGACY_PREFIXES.has(bytes[i])) i++;
  return i + 1 < bytes.length && bytes[i] === 0x0f && bytes[i + 1] >= 0x18 && bytes[i + 1] <= 0x1f;
}

function mnemonicName(m: Mnemonic): string {
  return (Mnemonic[m] ?? `mnemonic#${m}`).toLowerCase();
}

/**
 * A reusable iced decoder for 32-bit code. Keeps one Instruction and one
 * Formatter alive; creates (and frees) a Decoder per call, which costs
 * about a microsecond.
 */
export class IcedOracle {
  private readonly instr = new Instruction();
  private readonly formatter = new Formatter(FormatterSyntax.Intel);
  private freed = false;
  /** CPUID features depend only on the Code: cache them (the WASM call costs ~1 µs). */
  private readonly featureCache = new Map<number, string[]>();

  private featuresOf(instr: Instruction): string[] {
    let f = this.featureCache.get(instr.code);
    if (!f) {
      f = Array.from(instr.cpuidFeatures(), (x) => CpuidFeature[x] ?? `feature#${x}`);
      this.featureCache.set(instr.code, f);
    }
    return f;
  }

  decode(bytes: Uint8Array, eip = 0): IcedVerdict {
    if (this.freed) throw new Error('IcedOracle used after free()');
    const dec = new Decoder(32, bytes, DecoderOptions.None);
    try {
      dec.ip = BigInt(eip >>> 0);
      const instr = this.instr;
      dec.decodeOut(instr);
      const err = dec.lastError;
      const invalid = instr.code === Code.INVALID || instr.isInvalid;
      const mnemonic = invalid ? '(bad)' : mnemonicName(instr.mnemonic);
      const mem = invalid ? { hasMem: false, size: 0, icedSize: 0, icedName: 'none', note: '' } : expectedMemSize(instr, mnemonic, inHintSpace(bytes));
      const features = invalid ? [] : this.featuresOf(instr);
      return {
        invalid,
        error: err === DecoderError.None ? 'none' : err === DecoderError.NoMoreBytes ? 'no-more-bytes' : 'invalid',
        length: instr.length,
        code: Code[instr.code] ?? `code#${instr.code}`,
        mnemonic,
        text: invalid ? '(bad)' : this.formatter.format(instr),
        hasMem: mem.hasMem,
        icedMemSizeName: mem.icedName,
        icedMemSize: mem.icedSize,
        memSize: mem.size,
        memSizeNote: mem.note,
        features,
        privileged: invalid ? false : instr.isPrivileged,
      };
    } finally {
      dec.free();
    }
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.instr.free();
    this.formatter.free();
  }
}
