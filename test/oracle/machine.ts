/**
 * A bare CPU with real descriptor tables, for fuzzing the exception
 * delivery path (property-tests/random-code.test.ts).
 *
 * The default test CPU has no IDT, so the first exception stops it. Here a
 * GDT, an LDT, a TSS and a full 256-entry IDT are built in guest memory the
 * way a kernel would, so faults are delivered, handlers run and IRET back,
 * nested faults become #DF and triple faults. Gates are deliberately
 * varied (interrupt/trap, 16/32-bit, DPL 3, not present, task gate, gate to
 * a DPL-3 code segment) to reach the checks in the delivery path.
 *
 * Uses only the CPU's public state (descriptor-table registers, segment
 * caches through `setSegmentCache`), nothing from a kernel.
 */
import { CPU } from '../../src/cpu/cpu.js';
import { makeDescriptor, parseDescriptor, setSegmentCache } from '../../src/cpu/segments.js';

export const LAYOUT = {
  code: 0x1000,
  gdt: 0x2000,
  ldt: 0x2400,
  tss: 0x2800,
  idt: 0x3000,
  handler: 0x4000,
  handlerWithError: 0x4100,
  stack0: 0x7000,
  stack: 0x8000,
} as const;

export const SEL = {
  code0: 0x08,
  data0: 0x10,
  code3: 0x1b,
  data3: 0x23,
  tss: 0x28,
  code16: 0x30,
  notPresent: 0x38,
  conforming: 0x40,
  expandDown: 0x48,
  ldt: 0x50,
} as const;

const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17]);

function put32(mem: Uint8Array, at: number, v: number): void {
  mem[at] = v & 0xff;
  mem[at + 1] = (v >>> 8) & 0xff;
  mem[at + 2] = (v >>> 16) & 0xff;
  mem[at + 3] = (v >>> 24) & 0xff;
}

function putDesc(mem: Uint8Array, at: number, d: [number, number]): void {
  put32(mem, at, d[0]);
  put32(mem, at + 4, d[1]);
}

/** Gate descriptor: offset, selector, type/attributes byte (P DPL 0 type). */
function gate(offset: number, sel: number, attr: number): [number, number] {
  return [((sel & 0xffff) << 16) | (offset & 0xffff), (offset & 0xffff0000) | ((attr & 0xff) << 8)];
}

/**
 * Build the tables into a fresh CPU, load `code` at LAYOUT.code and
 * `handler` (the body shared by all exception handlers, followed by IRET)
 * at LAYOUT.handler / LAYOUT.handlerWithError (the latter first pops the
 * error code).
 */
export function tableMachine(code: Uint8Array, handler: Uint8Array, memorySize = 1 << 20): CPU {
  const cpu = new CPU({ memorySize });
  const img = new Uint8Array(0x8000);

  // GDT
  const g = LAYOUT.gdt;
  putDesc(img, g + SEL.code0, makeDescriptor(0, 0xffffffff, 0x9a, 0xc));
  putDesc(img, g + SEL.data0, makeDescriptor(0, 0xffffffff, 0x92, 0xc));
  putDesc(img, g + (SEL.code3 & ~3), makeDescriptor(0, 0xffffffff, 0xfa, 0xc));
  putDesc(img, g + (SEL.data3 & ~3), makeDescriptor(0, 0xffffffff, 0xf2, 0xc));
  putDesc(img, g + SEL.tss, makeDescriptor(LAYOUT.tss, 0x67, 0x8b, 0x0)); // busy 32-bit TSS (it is TR)
  putDesc(img, g + SEL.code16, makeDescriptor(0, 0xffff, 0x9a, 0x0));
  putDesc(img, g + SEL.notPresent, makeDescriptor(0, 0xffffffff, 0x12, 0xc));
  putDesc(img, g + SEL.conforming, makeDescriptor(0, 0xffffffff, 0x9e, 0xc));
  putDesc(img, g + SEL.expandDown, makeDescriptor(0, 0xfff, 0x96, 0x4));
  putDesc(img, g + SEL.ldt, makeDescriptor(LAYOUT.ldt, 0x17, 0x82, 0x0));
  const gdtLimit = SEL.ldt + 7;

  // LDT: null, flat data DPL 0, flat code DPL 0
  putDesc(img, LAYOUT.ldt + 8, makeDescriptor(0, 0xffffffff, 0x92, 0xc));
  putDesc(img, LAYOUT.ldt + 16, makeDescriptor(0, 0xffffffff, 0x9a, 0xc));

  // TSS: ESP0/SS0 for transitions to ring 0, and a plausible saved state
  put32(img, LAYOUT.tss + 4, LAYOUT.stack0);
  put32(img, LAYOUT.tss + 8, SEL.data0);
  put32(img, LAYOUT.tss + 0x20, LAYOUT.code); // EIP
  put32(img, LAYOUT.tss + 0x38, LAYOUT.stack); // ESP
  put32(img, LAYOUT.tss + 0x4c, SEL.code0); // CS
  for (const off of [0x48, 0x50, 0x54, 0x58, 0x5c]) put32(img, LAYOUT.tss + off, SEL.data0); // ES SS DS FS GS
  put32(img, LAYOUT.tss + 0x66, 0x68 << 16); // I/O map base beyond the limit: no bitmap

  // IDT: 256 gates, mostly 32-bit interrupt gates to the handler, with some variety
  for (let v = 0; v < 256; v++) {
    const target = ERROR_CODE_VECTORS.has(v) ? LAYOUT.handlerWithError : LAYOUT.handler;
    let d = gate(target, SEL.code0, 0x8e);
    if (v % 16 === 15) d = gate(target, SEL.code0, 0x8f); // trap gate
    if (v === 0x80 || v === 3 || v === 4) d = gate(target, SEL.code0, 0xee); // DPL 3: INT n allowed from ring 3
    if (v === 0x30) d = gate(target, SEL.code0, 0x0e); // not present
    if (v === 0x31) d = gate(0, SEL.tss, 0x85); // task gate to the (busy) current TSS
    if (v === 0x32) d = gate(target, SEL.code0, 0x86); // 16-bit interrupt gate
    if (v === 0x33) d = gate(target, SEL.code3, 0x8e); // gate to a DPL-3 code segment from ring 0
    if (v === 0x34) d = gate(target, 0, 0x8e); // null selector
    if (v === 0x35) d = gate(target, SEL.data0, 0x8e); // selector of a data segment
    if (v === 0x36) d = gate(target, SEL.conforming, 0x8e);
    if (v === 0x37) d = [0x12345678, 0x00008c00]; // call gate type: not allowed in the IDT
    putDesc(img, LAYOUT.idt + v * 8, d);
  }

  // Handlers: body then IRET; the error-code entry first discards the error code.
  const body = handler.subarray(0, 0xf0 - 3);
  img.set(body, LAYOUT.handler);
  img[LAYOUT.handler + body.length] = 0xcf;
  img.set([0x83, 0xc4, 0x04], LAYOUT.handlerWithError);
  img.set(body, LAYOUT.handlerWithError + 3);
  img[LAYOUT.handlerWithError + 3 + body.length] = 0xcf;

  img.set(code.subarray(0, LAYOUT.gdt - LAYOUT.code), LAYOUT.code);
  cpu.writePhys(0, img);

  cpu.cr0 |= 1;
  cpu.gdtrBase = LAYOUT.gdt;
  cpu.gdtrLimit = gdtLimit;
  cpu.idtrBase = LAYOUT.idt;
  cpu.idtrLimit = 256 * 8 - 1;
  cpu.tr = SEL.tss;
  cpu.trBase = LAYOUT.tss;
  cpu.trLimit = 0x67;
  cpu.ldtr = 0;
  const flatCode = parseDescriptor(...makeDescriptor(0, 0xffffffff, 0x9a, 0xc));
  const flatData = parseDescriptor(...makeDescriptor(0, 0xffffffff, 0x92, 0xc));
  setSegmentCache(cpu, 1, SEL.code0, flatCode); // CS
  for (const seg of [0, 2, 3, 4, 5]) setSegmentCache(cpu, seg, SEL.data0, flatData); // ES SS DS FS GS
  cpu.eip = LAYOUT.code;
  cpu.regs[4] = LAYOUT.stack;
  return cpu;
}
