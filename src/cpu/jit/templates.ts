/**
 * Inline templates: the hottest integer instructions written straight into
 * the generated code, each following the same rules as its executor
 * (src/cpu/exec/*, SDM Vol. 2) — the result, the flags (recorded lazily in
 * the locals, ./flags.ts), the order of the memory accesses and so which
 * one faults. A template returns false, having emitted nothing, for a form
 * it does not cover; the instruction then calls its executor.
 *
 * Rules every template keeps (the fault path depends on them): every access
 * that can fault comes before the instruction changes anything — registers,
 * memory or the flag locals — and ESP changes only after its stack access.
 */
import type { Instr, ExecFn } from '../instr.js';
import * as shift from '../exec/shift.js';
import * as data from '../exec/data.js';
import * as alu from '../exec/alu.js';
import * as stack from '../exec/stack.js';
import * as ctl from '../exec/control.js';
import * as md from '../exec/muldiv.js';
import * as bits from '../exec/bits.js';
import { ADD, OR, AND, SUB, XOR, CMP } from '../exec/alu.js';
import type { BlockEmitter } from './emitter.js';
import { addressOf, emitModify, emitPop32, emitPush32, emitRead, emitWrite } from './memory.js';
import { ARITH, CF, OF, Lazy } from './flags.js';
import { AF, PF, SF, ZF } from '../flags.js';

type Size = 1 | 2 | 4;
/** True: emitted; 'transfer': emitted and the block ends (EIP set, returned); false: not covered. */
export type Outcome = boolean | 'transfer';
export type Template = (c: BlockEmitter, ins: Instr) => Outcome;

const ESP = 4;
const mask = (size: number) => (size === 4 ? -1 : size === 2 ? 0xffff : 0xff);
const imm = (ins: Instr) => `${ins.size === 4 ? ins.imm | 0 : ins.imm & mask(ins.size)}`;
const sizeOf = (ins: Instr): Size => ins.size as Size;

/** Result expression of an ALU op on masked operands `d`, `s`; null for ADC/SBB (left to the executor). */
function aluResult(op: number, size: Size, d: string, s: string): [string, Lazy] | null {
  const wrap = (e: string) => (size === 4 ? `(${e}) | 0` : `(${e}) & ${mask(size)}`);
  switch (op) {
    case ADD: return [wrap(`${d} + ${s}`), Lazy.Add];
    case OR: return [`${d} | ${s}`, Lazy.Logic];
    case AND: return [`${d} & ${s}`, Lazy.Logic];
    case XOR: return [`${d} ^ ${s}`, Lazy.Logic];
    case SUB: case CMP: return [wrap(`${d} - ${s}`), Lazy.Sub];
    default: return null;
  }
}

function compareHook(c: BlockEmitter, op: 'cmp' | 'sub' | 'test', size: Size, left: string, right: string): void {
  const inst = c.instr;
  if (inst?.compare) c.emit(inst.compare({ ...c.site(), op, size, left, right }));
}

/** `d op s` with the flags recorded; returns the result's local. `d` and `s` are locals or side-effect-free expressions. */
function aluCompute(c: BlockEmitter, op: number, size: Size, d: string, s: string, expr: string, isTest = false): string {
  const res = c.temp('res');
  c.emit(`const ${res} = ${expr};`);
  if (op === CMP || op === SUB) compareHook(c, op === CMP ? 'cmp' : 'sub', size, d, s);
  else if (isTest) compareHook(c, 'test', size, d, s);
  return res;
}

/** op E, src — register or memory destination (memory: probed for write, read, written). */
function aluToE(c: BlockEmitter, ins: Instr, op: number, src: string): boolean {
  const size = sizeOf(ins);
  const probe = aluResult(op, size, 'd', 's');
  if (probe === null) return false;
  const kind = probe[1];
  if (ins.mod === 3) {
    const s = c.temp('s');
    const d = c.temp('d');
    c.emit(`const ${s} = ${src}, ${d} = ${c.reg(size, ins.rm)};`);
    const res = aluCompute(c, op, size, d, s, aluResult(op, size, d, s)![0]);
    c.setFlags(kind, size, ARITH, `fd = ${d}; fs = ${s}; fr = ${res};`);
    if (op !== CMP) c.emit(c.setReg(size, ins.rm, res));
    return true;
  }
  const lin = addressOf(ins);
  if (lin === null) return false;
  const s = c.temp('s');
  c.emit(`const ${s} = ${src};`);
  if (op === CMP) {
    const d = emitRead(c, size, lin);
    const res = aluCompute(c, op, size, d, s, aluResult(op, size, d, s)![0]);
    c.setFlags(kind, size, ARITH, `fd = ${d}; fs = ${s}; fr = ${res};`);
    return true;
  }
  let dName = '';
  let res = '';
  emitModify(c, size, lin, (d) => {
    dName = d;
    res = c.temp('res');
    return { code: `const ${res} = ${aluResult(op, size, d, s)![0]};`, result: res };
  });
  if (op === SUB) compareHook(c, 'sub', size, dName, s);
  c.setFlags(kind, size, ARITH, `fd = ${dName}; fs = ${s}; fr = ${res};`);
  return true;
}

/** op G, E (the register is the destination). */
function aluToG(c: BlockEmitter, ins: Instr, op: number): boolean {
  const size = sizeOf(ins);
  if (aluResult(op, size, 'd', 's') === null) return false;
  let s: string;
  if (ins.mod === 3) {
    s = c.temp('s');
    c.emit(`const ${s} = ${c.reg(size, ins.rm)};`);
  } else {
    const lin = addressOf(ins);
    if (lin === null) return false;
    s = emitRead(c, size, lin);
  }
  const d = c.temp('d');
  c.emit(`const ${d} = ${c.reg(size, ins.reg)};`);
  const [expr, kind] = aluResult(op, size, d, s)!;
  const res = aluCompute(c, op, size, d, s, expr);
  c.setFlags(kind, size, ARITH, `fd = ${d}; fs = ${s}; fr = ${res};`);
  if (op !== CMP) c.emit(c.setReg(size, ins.reg, res));
  return true;
}

/** The E operand read as a local (register or memory), or null when not inlined. */
function readE(c: BlockEmitter, ins: Instr, size: Size): string | null {
  if (ins.mod === 3) {
    const v = c.temp('v');
    c.emit(`const ${v} = ${c.reg(size, ins.rm)};`);
    return v;
  }
  const lin = addressOf(ins);
  return lin === null ? null : emitRead(c, size, lin);
}
/** Can the E operand be inlined (checked before emitting anything)? */
const inlinableE = (ins: Instr) => ins.mod === 3 || addressOf(ins) !== null;

function test(c: BlockEmitter, ins: Instr, src: (c: BlockEmitter) => string): boolean {
  if (!inlinableE(ins)) return false;
  const size = sizeOf(ins);
  const d = readE(c, ins, size)!;
  const s = c.temp('s');
  c.emit(`const ${s} = ${src(c)};`);
  const res = aluCompute(c, AND, size, d, s, `${d} & ${s}`, true);
  c.setFlags(Lazy.Logic, size, ARITH, `fd = ${d}; fs = ${s}; fr = ${res};`);
  return true;
}

/** Read-modify-write of E by `f` (old value name → result expression), then `after(old, res)` (flags). */
function modifyE(c: BlockEmitter, ins: Instr, f: (d: string) => string, after: (d: string, res: string) => void): boolean {
  if (!inlinableE(ins)) return false;
  const size = sizeOf(ins);
  if (ins.mod === 3) {
    const d = c.temp('d');
    const res = c.temp('res');
    c.emit(`const ${d} = ${c.reg(size, ins.rm)};`);
    const expr = f(d);
    c.emit(`const ${res} = ${expr};`);
    after(d, res);
    c.emit(c.setReg(size, ins.rm, res));
    return true;
  }
  let dName = '';
  let res = '';
  emitModify(c, size, addressOf(ins)!, (d) => {
    dName = d;
    res = c.temp('res');
    return { code: `const ${res} = ${f(d)};`, result: res };
  });
  after(dName, res);
  return true;
}

function incDec(c: BlockEmitter, ins: Instr, dec: boolean): boolean {
  const size = sizeOf(ins);
  const wrap = (e: string) => (size === 4 ? `(${e}) | 0` : `(${e}) & ${mask(size)}`);
  return modifyE(c, ins, (d) => wrap(`${d} ${dec ? '-' : '+'} 1`), (d, res) => {
    c.keepCarry();
    c.setFlags(dec ? Lazy.Dec : Lazy.Inc, size, ARITH & ~CF, `fd = ${d}; fs = 1; fr = ${res};`);
  });
}

/** Register INC/DEC (40+r, 48+r). */
function incDecReg(c: BlockEmitter, ins: Instr, dec: boolean): boolean {
  if (ins.size !== 4) return false;
  const n = ins.op & 7;
  const d = c.temp('d');
  const res = c.temp('res');
  c.emit(`const ${d} = r[${n}], ${res} = (${d} ${dec ? '-' : '+'} 1) | 0;`);
  c.keepCarry();
  c.setFlags(dec ? Lazy.Dec : Lazy.Inc, 4, ARITH & ~CF, `fd = ${d}; fs = 1; fr = ${res};`);
  c.emit(c.setReg(4, n, res));
  return true;
}

/**
 * SHL/SAL, SHR, SAR by a constant (SDM "SAL/SAR/SHL/SHR"): CF is the last
 * bit shifted out, OF the 1-bit rule (kmemsim applies it for every count,
 * as shift.ts does), AF cleared, ZF/SF/PF from the result. A masked count
 * of 0 changes nothing (the executor does not even access memory) and 8/16-
 * bit counts of the operand width or more stay with the executor.
 */
function shiftBy(c: BlockEmitter, ins: Instr, count: number): boolean {
  const size = sizeOf(ins);
  const n = count & 0x1f;
  const bits = size * 8;
  if (n === 0 || n >= bits || !inlinableE(ins)) return false;
  const op = ins.reg;
  if (op !== 4 && op !== 5 && op !== 6 && op !== 7) return false;
  const m = mask(size);
  const top = bits - 1;
  const sext = (d: string) => (size === 4 ? d : `((${d} << ${32 - bits}) >> ${32 - bits})`);
  let cfName = '';
  let ofName = '';
  const f = (d: string): string => {
    cfName = c.temp('cf');
    ofName = c.temp('of');
    const res = c.temp('r');
    if (op === 5) {
      c.emit(`const ${cfName} = (${d} >>> ${n - 1}) & 1, ${ofName} = (${d} >>> ${top}) & 1;`);
      return size === 4 ? `(${d} >>> ${n}) | 0` : `${d} >>> ${n}`;
    }
    if (op === 7) {
      c.emit(`const ${cfName} = (${sext(d)} >> ${n - 1}) & 1, ${ofName} = 0;`);
      return size === 4 ? `${d} >> ${n}` : `(${sext(d)} >> ${n}) & ${m}`;
    }
    void res;
    const r = size === 4 ? `${d} << ${n}` : `(${d} << ${n}) & ${m}`;
    c.emit(`const ${cfName} = (${d} >>> ${bits - n}) & 1, ${ofName} = (((${r}) >>> ${top}) & 1) ^ ${cfName};`);
    return r;
  };
  // The CF/OF temporaries are computed from the old value inside f, before the write.
  return modifyE(c, ins, f, (_d, res) => {
    c.setFlags(Lazy.Logic, size, ZF | SF | PF, `cpu.flags = (cpu.flags & ${~(CF | OF | AF)}) | ${cfName} | (${ofName} << 11); fd = 0; fs = 0; fr = ${res};`);
  });
}

/** IMUL r32, r/m32[, imm] (SDM "IMUL"): CF = OF = the product does not fit; SF/ZF/PF from the low half, AF cleared. */
function imul(c: BlockEmitter, ins: Instr, three: boolean): boolean {
  if (ins.size !== 4 || !inlinableE(ins)) return false;
  const a = readE(c, ins, 4)!;
  const b = three ? `${ins.imm | 0}` : `r[${ins.reg}]`;
  const lo = c.temp('lo');
  const bv = c.temp('b');
  // The double product is exact while it fits in int32, and at least 2^31 away otherwise: it differs from the low half iff it overflows.
  c.emit(`const ${bv} = ${b}, ${lo} = Math.imul(${a}, ${bv});`);
  c.setFlags(Lazy.Logic, 4, ZF | SF | PF, `cpu.flags = (cpu.flags & ${~(CF | OF | AF)}) | (${a} * ${bv} !== ${lo} ? ${CF | OF} : 0); fd = 0; fs = 0; fr = ${lo};`);
  c.emit(c.setReg(4, ins.reg, lo));
  return true;
}

function mov(c: BlockEmitter, ins: Instr, toE: boolean): boolean {
  const size = sizeOf(ins);
  if (ins.mod === 3) {
    c.emit(toE ? c.setReg(size, ins.rm, c.reg(size, ins.reg)) : c.setReg(size, ins.reg, c.reg(size, ins.rm)));
    return true;
  }
  const lin = addressOf(ins);
  if (lin === null) return false;
  if (toE) emitWrite(c, size, lin, c.reg(size, ins.reg));
  else c.emit(c.setReg(size, ins.reg, emitRead(c, size, lin)));
  return true;
}

/** MOVZX/MOVSX from a byte or word. */
function extend(c: BlockEmitter, ins: Instr, from: 1 | 2, signed: boolean): boolean {
  if (ins.size !== 4 || !inlinableE(ins)) return false;
  const v = readE(c, ins, from)!;
  const sh = 32 - from * 8;
  c.emit(c.setReg(4, ins.reg, signed ? `(${v} << ${sh}) >> ${sh}` : v));
  return true;
}

const TEMPLATE_LIST: [ExecFn, Template][] = [
  [data.movGE32, (c, ins) => mov(c, ins, false)],
  [data.movEG32, (c, ins) => mov(c, ins, true)],
  [data.movGE, (c, ins) => mov(c, ins, false)],
  [data.movEG, (c, ins) => mov(c, ins, true)],
  [data.movRI, (c, ins) => {
    c.emit(c.setReg(ins.size, ins.op & 7, imm(ins)));
    return true;
  }],
  [data.movEI, (c, ins) => {
    if (ins.mod === 3) {
      c.emit(c.setReg(ins.size, ins.rm, imm(ins)));
      return true;
    }
    const lin = addressOf(ins);
    if (lin === null) return false;
    emitWrite(c, sizeOf(ins), lin, imm(ins));
    return true;
  }],
  [data.movAO, (c, ins) => {
    const lin = addressOf(ins);
    if (lin === null) return false;
    c.emit(c.setReg(ins.size, 0, emitRead(c, sizeOf(ins), lin)));
    return true;
  }],
  [data.movOA, (c, ins) => {
    const lin = addressOf(ins);
    if (lin === null) return false;
    emitWrite(c, sizeOf(ins), lin, c.reg(ins.size, 0));
    return true;
  }],
  [data.lea, (c, ins) => {
    if (ins.size !== 4 || ins.asize !== 4) return false;
    let e = `${ins.disp | 0}`;
    if (ins.base >= 0) e += ` + r[${ins.base}]`;
    if (ins.index >= 0) e += ins.scale ? ` + (r[${ins.index}] << ${ins.scale})` : ` + r[${ins.index}]`;
    c.emit(c.setReg(4, ins.reg, `(${e}) | 0`));
    return true;
  }],
  [data.movzxB, (c, ins) => extend(c, ins, 1, false)],
  [data.movzxW, (c, ins) => extend(c, ins, 2, false)],
  [data.movsxB, (c, ins) => extend(c, ins, 1, true)],
  [data.movsxW, (c, ins) => extend(c, ins, 2, true)],
  [data.cwd, (c, ins) => {
    if (ins.size !== 4) return false;
    c.emit('r[2] = r[0] >> 31;');
    return true;
  }],
  [data.cbw, (c, ins) => {
    if (ins.size !== 4) return false;
    c.emit('r[0] = (r[0] << 16) >> 16;');
    return true;
  }],
  [data.nop, () => true],
  [alu.aluEG32reg, (c, ins) => aluToE(c, ins, (ins.op >> 3) & 7, `r[${ins.reg}]`)],
  [alu.aluEG, (c, ins) => aluToE(c, ins, (ins.op >> 3) & 7, c.reg(ins.size, ins.reg))],
  [alu.aluEI, (c, ins) => aluToE(c, ins, ins.reg, imm(ins))],
  [alu.aluGE, (c, ins) => aluToG(c, ins, (ins.op >> 3) & 7)],
  [alu.aluAI, (c, ins) => {
    const op = (ins.op >> 3) & 7;
    const size = sizeOf(ins);
    if (aluResult(op, size, 'd', 's') === null) return false;
    const d = c.temp('d');
    c.emit(`const ${d} = ${c.reg(size, 0)};`);
    const [expr, kind] = aluResult(op, size, d, imm(ins))!;
    const res = aluCompute(c, op, size, d, imm(ins), expr);
    c.setFlags(kind, size, ARITH, `fd = ${d}; fs = ${imm(ins)}; fr = ${res};`);
    if (op !== CMP) c.emit(c.setReg(size, 0, res));
    return true;
  }],
  [alu.testEG, (c, ins) => test(c, ins, (c) => c.reg(ins.size, ins.reg))],
  [alu.testEI, (c, ins) => test(c, ins, () => imm(ins))],
  [alu.testAI, (c, ins) => {
    const size = sizeOf(ins);
    const d = c.temp('d');
    c.emit(`const ${d} = ${c.reg(size, 0)};`);
    const res = aluCompute(c, AND, size, d, imm(ins), `${d} & ${imm(ins)}`, true);
    c.setFlags(Lazy.Logic, size, ARITH, `fd = ${d}; fs = ${imm(ins)}; fr = ${res};`);
    return true;
  }],
  [alu.incReg, (c, ins) => incDecReg(c, ins, false)],
  [alu.decReg, (c, ins) => incDecReg(c, ins, true)],
  [alu.incE, (c, ins) => incDec(c, ins, false)],
  [alu.decE, (c, ins) => incDec(c, ins, true)],
  [alu.notE, (c, ins) => modifyE(c, ins, (d) => (ins.size === 4 ? `~${d}` : `~${d} & ${mask(ins.size)}`), () => {})],
  [alu.negE, (c, ins) => {
    const size = sizeOf(ins);
    return modifyE(c, ins, (d) => (size === 4 ? `-${d} | 0` : `-${d} & ${mask(size)}`), (d, res) => {
      c.setFlags(Lazy.Sub, size, ARITH, `fd = 0; fs = ${d}; fr = ${res};`);
    });
  }],
  [shift.shiftEI, (c, ins) => shiftBy(c, ins, ins.imm)],
  [shift.shiftE1, (c, ins) => shiftBy(c, ins, 1)],
  [md.imul2, (c, ins) => imul(c, ins, false)],
  [md.imul3, (c, ins) => imul(c, ins, true)],
  [bits.setcc, (c, ins) => {
    if (!inlinableE(ins)) return false;
    const v = `(${c.cond(ins.op & 0xf)} ? 1 : 0)`;
    if (ins.mod === 3) c.emit(c.setReg(1, ins.rm, v));
    else {
      const t = c.temp('cc');
      c.emit(`const ${t} = ${v};`);
      emitWrite(c, 1, addressOf(ins)!, t);
    }
    return true;
  }],
  [bits.cmovcc, (c, ins) => {
    // The source is read (and may fault) whatever the condition.
    if (ins.size !== 4 || !inlinableE(ins)) return false;
    const v = readE(c, ins, 4)!;
    c.emit(`if (${c.cond(ins.op & 0xf)}) { ${c.setReg(4, ins.reg, v)} }`);
    return true;
  }],
  [stack.pushReg32, (c, ins) => {
    emitPush32(c, `r[${ins.op & 7}]`);
    return true;
  }],
  [stack.popReg32, (c, ins) => {
    const v = emitPop32(c);
    c.emit(c.setReg(4, ins.op & 7, v));
    return true;
  }],
  [stack.pushImm, (c, ins) => {
    if (ins.size !== 4) return false;
    emitPush32(c, `${ins.imm | 0}`);
    return true;
  }],
  [stack.pushE, (c, ins) => {
    if (ins.size !== 4 || !inlinableE(ins)) return false;
    const v = readE(c, ins, 4)!;
    emitPush32(c, v);
    return true;
  }],
  [stack.leave, (c, ins) => {
    // ESP = EBP, then POP EBP: the read comes first, so a fault leaves ESP as it was.
    if (ins.size !== 4) return false;
    const v = emitRead(c, 4, 'r[5]', true);
    c.emit(`r[${ESP}] = (r[5] + 4) | 0;`);
    c.emit(c.espChanged());
    c.emit(`r[5] = ${v};`);
    return true;
  }],
  [ctl.jmpRel, (c, ins) => {
    c.emit(c.exit(ins.imm | 0, c.k + 1));
    return 'transfer';
  }],
  [ctl.callRel, (c, ins) => {
    if (ins.size !== 4) return false;
    emitPush32(c, `${ins.next | 0}`);
    c.emit(c.exit(ins.imm | 0, c.k + 1));
    return 'transfer';
  }],
  [ctl.ret, (c, ins) => {
    if (ins.size !== 4) return false;
    const v = emitPop32(c);
    c.emit(c.exit(v, c.k + 1));
    return 'transfer';
  }],
  [ctl.retImm, (c, ins) => {
    if (ins.size !== 4) return false;
    const v = emitPop32(c);
    c.emit(`r[${ESP}] = (r[${ESP}] + ${ins.imm & 0xffff}) | 0;`);
    c.emit(c.espChanged());
    c.emit(c.exit(v, c.k + 1));
    return 'transfer';
  }],
  [ctl.callE, (c, ins) => {
    // The target is read before anything is pushed.
    if (ins.size !== 4 || !inlinableE(ins)) return false;
    const t = readE(c, ins, 4)!;
    emitPush32(c, `${ins.next | 0}`);
    c.emit(c.exit(t, c.k + 1));
    return 'transfer';
  }],
  [ctl.jmpE, (c, ins) => {
    if (ins.size !== 4 || !inlinableE(ins)) return false;
    const t = readE(c, ins, 4)!;
    c.emit(c.exit(t, c.k + 1));
    return 'transfer';
  }],
];

export const TEMPLATES = new Map<ExecFn, Template>(TEMPLATE_LIST);
