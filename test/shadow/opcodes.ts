/**
 * Every instruction form with a memory operand the CPU decodes, generated
 * from its own opcode table: each one- and two-byte opcode, every
 * ModRM.reg of a group, with and without a 0x66 prefix (and REP for string
 * instructions). ModRM forms use mod=00 rm=101 (a bare disp32), so the
 * operand is at the displacement whatever the registers hold.
 */
import { decodeAt, memSizeOf } from '../../src/cpu/decoder.js';
import type { Instr } from '../../src/cpu/instr.js';
import { ONE_BYTE, TWO_BYTE, type OpDef } from '../../src/cpu/x86_table.js';

export interface Form {
  bytes: Uint8Array;
  ins: Instr;
  /** A readable name: mnemonic and bytes. */
  label: string;
}

function usesModrm(def: OpDef | undefined): boolean {
  return !!def && def.modrm;
}

/** The instruction bytes for an opcode, a ModRM.reg, prefixes; the operand (if any) at `disp`. */
function encode(prefixes: number[], opcode: number[], modrm: boolean, reg: number, disp: number): Uint8Array {
  const out = [...prefixes, ...opcode];
  if (modrm) out.push((reg << 3) | 5, disp & 0xff, (disp >>> 8) & 0xff, (disp >>> 16) & 0xff, disp >>> 24);
  else out.push(disp & 0xff, (disp >>> 8) & 0xff, (disp >>> 16) & 0xff, disp >>> 24);
  // Room for immediates.
  out.push(1, 1, 1, 1, 1, 1, 1, 1);
  return new Uint8Array(out);
}

/**
 * Valid, modelled instruction forms that touch memory per the CPU's decode
 * (memSizeOf > 0) or are implicit-memory instructions (stack, string, XLAT).
 */
export function memoryForms(disp: number, eip = 0): Form[] {
  const forms: Form[] = [];
  const seen = new Set<string>();
  const add = (bytes: Uint8Array): void => {
    const ins = decodeAt(bytes, eip);
    if (ins.def === null || ins.def.unsupported !== undefined || ins.invalidReason !== '') return;
    const b = bytes.subarray(0, ins.len);
    const key = Array.from(b).join(',');
    if (seen.has(key)) return;
    seen.add(key);
    forms.push({ bytes: b.slice(), ins, label: `${ins.def.sizedName?.[ins.size === 1 ? 0 : ins.size === 2 ? 1 : 2] ?? ins.def.name} [${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ')}]` });
  };
  const maps: [number[], (OpDef | undefined)[]][] = [
    [[], ONE_BYTE],
    [[0x0f], TWO_BYTE],
  ];
  for (const [esc, table] of maps) {
    for (let op = 0; op < 256; op++) {
      const def = table[op];
      if (def === undefined || def.threeByte) continue;
      if (esc.length === 0 && op === 0x0f) continue;
      for (const pre of [[], [0x66]]) {
        const regs = def.group ? [0, 1, 2, 3, 4, 5, 6, 7] : [def.modrm ? 2 : 0];
        for (const reg of regs) {
          add(encode(pre, [...esc, op], usesModrm(def), reg, disp));
          if (def.string) add(encode([0xf3, ...pre], [...esc, op], false, 0, disp));
        }
      }
    }
  }
  return forms.filter((f) => memSizeOf(f.ins) > 0 || touchesImplicitMemory(f.ins));
}

const IMPLICIT = new Set([
  0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
  0x60, 0x61, 0x68, 0x6a, 0x9a, 0x9c, 0x9d, 0xc2, 0xc3, 0xc8, 0xc9, 0xca, 0xcb, 0xcf, 0xd7, 0xe8, 0x1a0, 0x1a1, 0x1a8, 0x1a9,
]);
/** Instructions that reach memory through the stack or other implicit operands. */
export function touchesImplicitMemory(ins: Instr): boolean {
  return IMPLICIT.has(ins.op) || !!ins.def?.string || (ins.op === 0xff && (ins.reg === 2 || ins.reg === 3 || ins.reg === 6)) || ins.op === 0x8f;
}
