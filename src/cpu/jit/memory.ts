/**
 * The one place generated code touches guest memory: read, write,
 * read-modify-write, push and pop. Each inlines the TLB fast path of
 * CPU.read8..32 and write8..32 (an entry for the page, the access inside one page and
 * aligned: straight to the RAM view) and calls the CPU's accessor for
 * everything else (a TLB miss and the page walk, #PF, a page-crossing or
 * unaligned access, a write to a page holding decoded code, which has no
 * write entry so that CPU.write* invalidates it). Data-breakpoint pages are
 * never in the TLB, and compiled code does not run while breakpoints are
 * enabled. A slow write may set `breakLoop` (code was written): it is
 * copied to `brk`, which the driver tests after the instruction.
 *
 * Addresses: compiled code runs only while ES, CS, SS and DS are flat
 * (CPU.segChecks is false: base 0, 4 GiB limit), so a linear address is the
 * effective address; FS/GS operands (often null) are left to the executors.
 *
 * Instrumentation (./instrumentation.ts) is emitted here, once per access.
 */
import type { Instr } from '../instr.js';
import type { BlockEmitter } from './emitter.js';
import type { JitAccess } from './instrumentation.js';

type Size = 1 | 2 | 4;
const ESP = 4;

const VIEW = { 1: 'm8', 2: 'm16', 4: 'm32' } as const;
const SHIFT = { 1: '', 2: ' >> 1', 4: ' >> 2' } as const;
const ALIGNED = { 1: '', 2: ' && (l & 1) === 0', 4: ' && (l & 3) === 0' } as const;
const ACCESSOR = { 1: '8', 2: '16', 4: '32' } as const;

/** Index into the size's RAM view of the page entry `e` and address `l`. */
const index = (size: Size) => `((e & -4096) + (l & 4095))${SHIFT[size]}`;

/**
 * The effective address of a ModRM memory operand as an int32 expression,
 * or null when the operand is not inlined (16-bit addressing, FS/GS).
 */
export function addressOf(ins: Instr): string | null {
  if (ins.asize !== 4 || ins.seg >= 4) return null;
  let e = `${ins.disp | 0}`;
  if (ins.base >= 0) e += ` + r[${ins.base}]`;
  if (ins.index >= 0) e += ins.scale ? ` + (r[${ins.index}] << ${ins.scale})` : ` + r[${ins.index}]`;
  return ins.base < 0 && ins.index < 0 ? `${ins.disp | 0}` : `((${e}) | 0)`;
}

function hook(c: BlockEmitter, write: boolean, size: Size, value: string | undefined, rmw: boolean, stack: boolean): void {
  const inst = c.instr;
  const f = write ? inst?.write : inst?.read;
  if (!f) return;
  const a: JitAccess = { ...c.site(), size, lin: 'l', value, rmw, stack };
  c.emit(f.call(inst, a));
}

// The slow paths may fault: the handler then makes the CPU's state exact for the instruction (c.slowSite()).
function readInto(c: BlockEmitter, size: Size, v: string): void {
  c.emit(`let ${v} = 0; if ((e = tR[l >>> 12]) !== 0${ALIGNED[size]}) ${v} = ${VIEW[size]}[${index(size)}]; else { ${c.slowSite()} ${v} = cpu.read${ACCESSOR[size]}(l); ${c.after()} }`);
}
function writeFrom(c: BlockEmitter, size: Size, value: string): void {
  c.wrote = true;
  c.emit(`if ((e = tW[l >>> 12]) !== 0${ALIGNED[size]}) ${VIEW[size]}[${index(size)}] = ${value}; else { ${c.slowSite()} cpu.write${ACCESSOR[size]}(l, ${value}); ${c.after()} brk = cpu.breakLoop; }`);
}

/** Read `size` bytes at `lin`; returns the name of the local holding the value (zero-extended for 1 and 2). */
export function emitRead(c: BlockEmitter, size: Size, lin: string, stack = false): string {
  c.emit(`l = ${lin};`);
  hook(c, false, size, undefined, false, stack);
  const v = c.temp('v');
  readInto(c, size, v);
  return v;
}

/** Write `value` (an expression without side effects) as `size` bytes at `lin`. */
export function emitWrite(c: BlockEmitter, size: Size, lin: string, value: string, stack = false): void {
  c.emit(`l = ${lin};`);
  hook(c, true, size, value, false, stack);
  writeFrom(c, size, value);
}

/**
 * Read-modify-write of `size` bytes at `lin` (SDM: the destination is
 * checked for write before it is read, so a read-only page faults as a
 * write, as CPU.probeWrite does for the executors). `modify` gets the name
 * of the old value and returns the code computing the new one into a local
 * whose name it returns with the code.
 */
export function emitModify(c: BlockEmitter, size: Size, lin: string, modify: (old: string) => { code: string; result: string }): void {
  const p = c.temp('p');
  const d = c.temp('d');
  c.emit(`l = ${lin};`);
  // After a successful probe neither slow access below can fault.
  // The site stays recorded until the write: the slow read and write after the probe are not expected
  // to fault, but whatever they throw is delivered at this instruction too.
  c.emit(`let ${p} = -1; if ((e = tW[l >>> 12]) !== 0${ALIGNED[size]}) ${p} = ${index(size)}; else { ${c.slowSite()} cpu.probeWrite(l, ${size}); }`);
  hook(c, false, size, undefined, true, false);
  c.emit(`const ${d} = ${p} >= 0 ? ${VIEW[size]}[${p}] : cpu.read${ACCESSOR[size]}(l);`);
  const m = modify(d);
  c.wrote = true;
  c.emit(m.code);
  hook(c, true, size, m.result, true, false);
  c.emit(`if (${p} >= 0) ${VIEW[size]}[${p}] = ${m.result}; else { cpu.write${ACCESSOR[size]}(l, ${m.result}); ${c.after()} brk = cpu.breakLoop; }`);
}

/** PUSH of a dword (SS:ESP - 4); ESP changes only once the store succeeded. */
export function emitPush32(c: BlockEmitter, value: string): void {
  const sp = c.temp('sp');
  c.emit(`const ${sp} = (r[${ESP}] - 4) | 0;`);
  emitWrite(c, 4, sp, value, true);
  c.emit(`r[${ESP}] = ${sp};`);
  c.emit(c.espChanged());
}

/** POP of a dword; returns the local holding it (ESP already incremented). */
export function emitPop32(c: BlockEmitter): string {
  const v = emitRead(c, 4, `r[${ESP}]`, true);
  c.emit(`r[${ESP}] = (r[${ESP}] + 4) | 0;`);
  c.emit(c.espChanged());
  return v;
}
