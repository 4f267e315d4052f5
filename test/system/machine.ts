/**
 * A bare CPU set up as a protected-mode kernel would set it up, for the
 * system-level tests (test/system): a GDT with flat code and data segments
 * for every ring, a 32-bit TSS with SS0:ESP0, SS1:ESP1, SS2:ESP2 and an I/O
 * bitmap, a 256-gate IDT, an empty LDT, and optionally 32-bit paging with an
 * identity map of all memory — all built with src/rings/descriptors.ts and
 * written into guest memory, then loaded into the CPU the way LGDT, LIDT,
 * LTR and the segment loads would leave it.
 *
 * Every IDT vector is an interrupt gate (DPL 0) to a native handler that
 * records what the hardware delivered (the frame words, CS, SS:ESP, CPL,
 * EFLAGS at entry, CR2, DR6) and then, by default, stops the machine with a
 * `fault` stop carrying the vector, error code and saved EIP. A test can
 * make a vector return instead (`onVector(v, 'iret')`), or give it a custom
 * native routine, or point the gate at assembled guest code.
 *
 * Snippets are assembled with test/helpers/asm.ts at a chosen address and
 * entered at a chosen CPL (`enter(cpl, eip)`). Guest code ends with
 * `jmp EXIT`: a native routine at EXIT stops the machine with
 * `{kind: 'exited', status: EAX}`, at any CPL.
 */
import { CPU } from '../../src/cpu/cpu.js';
import { CS, DS, ES, FS, GS, Instr, SS } from '../../src/cpu/instr.js';
import { parseDescriptor, setSegmentCache } from '../../src/cpu/segments.js';
import type { StopReason } from '../../src/cpu/stop.js';
import { iret as execIret } from '../../src/cpu/exec/system.js';
import { hasErrorCode } from '../../src/cpu/exceptions.js';
import {
  codeSegment, dataSegment, interruptGate, trapGate, ioBitmap, ldtDescriptor, selector, tss32Image, tssDescriptor, tssLimit,
  TSS32, type DescriptorWords,
} from '../../src/rings/descriptors.js';
import { assemble } from '../helpers/asm.js';

/** Physical (= linear, identity-mapped) layout. */
export const L = {
  GDT: 0x1000,
  IDT: 0x2000,
  /** TSS (0x68 bytes) followed by the 8 KiB + 1 byte I/O bitmap: 0x3000–0x5068. */
  TSS: 0x3000,
  LDT: 0x6000,
  /** Native exception handlers: vector v at HANDLERS + 16 v. */
  HANDLERS: 0x7000,
  /** `jmp EXIT` ends a snippet from any ring. */
  EXIT: 0x8000,
  /** Where snippets go by default. */
  CODE: 0x10000,
  /** Second code area (gate targets, guest handlers). */
  CODE2: 0x11000,
  CODE3: 0x12000,
  /** Scratch data, its own pages. */
  DATA: 0x20000,
  /** Stack tops for rings 0–3 (each stack has its own 4 KiB page below the top). */
  STACK0: 0x31000,
  STACK1: 0x33000,
  STACK2: 0x35000,
  STACK3: 0x37000,
  /** Page directory and the first page table (identity map). */
  PD: 0x100000,
  PT: 0x101000,
} as const;

export const STACK_TOPS = [L.STACK0, L.STACK1, L.STACK2, L.STACK3] as const;

/** GDT indexes and the selectors of the standard entries. */
export const GDT_INDEX = { CODE0: 1, DATA0: 2, CODE1: 3, DATA1: 4, CODE2: 5, DATA2: 6, CODE3: 7, DATA3: 8, TSS: 9, LDT: 10, FREE: 16 } as const;
export const SEL = {
  CODE0: selector(1, 0),
  DATA0: selector(2, 0),
  CODE1: selector(3, 1),
  DATA1: selector(4, 1),
  CODE2: selector(5, 2),
  DATA2: selector(6, 2),
  CODE3: selector(7, 3),
  DATA3: selector(8, 3),
  TSS: selector(9, 0),
  LDT: selector(10, 0),
} as const;
export const CODE_SEL = [SEL.CODE0, SEL.CODE1, SEL.CODE2, SEL.CODE3] as const;
export const DATA_SEL = [SEL.DATA0, SEL.DATA1, SEL.DATA2, SEL.DATA3] as const;

const GDT_ENTRIES = 64;
const LDT_ENTRIES = 16;

/** What a native handler saw when the CPU delivered an event to it. */
export interface Delivery {
  vector: number;
  /** State at handler entry. */
  cpl: number;
  cs: number;
  ss: number;
  esp: number;
  eflags: number;
  cr2: number;
  dr6: number;
  /** Eight dwords from SS:ESP upwards (the frame the CPU pushed, lowest address first). */
  frame: number[];
  /** The frame parsed assuming the SDM's error-code vectors (Table 6-1); see `withErrorCode`. */
  errorCode: number | null;
  eip: number;
  savedCs: number;
  savedEflags: number;
  /** Present when the saved CS has a different RPL from the handler's CPL (an inter-privilege frame). */
  savedEsp?: number;
  savedSs?: number;
}

export type VectorAction = 'stop' | 'iret' | ((m: SystemMachine, d: Delivery) => void);

export interface MachineOptions {
  /** Turn on 32-bit paging with an identity map of all memory (U/S = R/W = 1 everywhere). */
  paging?: boolean;
  /** RAM size (default 4 MiB). */
  memorySize?: number;
  /** Ports CPL 3 may use through the TSS I/O bitmap. */
  allowedPorts?: Iterable<number | [number, number]>;
}

const IRET32 = new Instr();
IRET32.size = 4;
IRET32.op = 0xcf;

export class SystemMachine {
  readonly cpu: CPU;
  readonly events: Delivery[] = [];
  readonly actions = new Map<number, VectorAction>();
  /** Vectors whose frame the handlers parse as having an error code. */
  readonly errorCodeVectors = new Set([8, 10, 11, 12, 13, 14, 17]);

  constructor(opts: MachineOptions = {}) {
    const cpu = (this.cpu = new CPU({ memorySize: opts.memorySize ?? 4 << 20 }));
    const gdt: DescriptorWords[] = [];
    gdt[GDT_INDEX.CODE0] = codeSegment({ dpl: 0 });
    gdt[GDT_INDEX.DATA0] = dataSegment({ dpl: 0 });
    gdt[GDT_INDEX.CODE1] = codeSegment({ dpl: 1 });
    gdt[GDT_INDEX.DATA1] = dataSegment({ dpl: 1 });
    gdt[GDT_INDEX.CODE2] = codeSegment({ dpl: 2 });
    gdt[GDT_INDEX.DATA2] = dataSegment({ dpl: 2 });
    gdt[GDT_INDEX.CODE3] = codeSegment({ dpl: 3 });
    gdt[GDT_INDEX.DATA3] = dataSegment({ dpl: 3 });
    const tss = tss32Image({
      esp0: L.STACK0, ss0: SEL.DATA0,
      esp1: L.STACK1, ss1: SEL.DATA1,
      esp2: L.STACK2, ss2: SEL.DATA2,
      cr3: L.PD,
      ioBitmap: ioBitmap(opts.allowedPorts ?? []),
    });
    gdt[GDT_INDEX.TSS] = tssDescriptor(L.TSS, tssLimit(tss), { busy: true });
    gdt[GDT_INDEX.LDT] = ldtDescriptor(L.LDT, LDT_ENTRIES * 8 - 1);
    for (let i = 0; i < GDT_ENTRIES; i++) this.setGdt(i, gdt[i] ?? [0, 0]);
    this.writeBytes(L.TSS, tss);
    for (let v = 0; v < 256; v++) {
      const at = L.HANDLERS + v * 16;
      this.setIdt(v, interruptGate({ selector: SEL.CODE0, offset: at }));
      cpu.bindNative(at, (c) => this.handle(c, v));
    }
    cpu.bindNative(L.EXIT, (c) => c.stop({ kind: 'exited', status: c.regs[0] }));

    cpu.cr0 = 0x11; // PE, ET
    cpu.gdtrBase = L.GDT;
    cpu.gdtrLimit = GDT_ENTRIES * 8 - 1;
    cpu.idtrBase = L.IDT;
    cpu.idtrLimit = 256 * 8 - 1;
    const ldt = this.gdtDescriptor(SEL.LDT);
    cpu.ldtr = SEL.LDT;
    cpu.ldtBase = ldt.base;
    cpu.ldtLimit = ldt.limit;
    const t = this.gdtDescriptor(SEL.TSS);
    cpu.tr = SEL.TSS;
    cpu.trBase = t.base;
    cpu.trLimit = t.limit;
    if (opts.paging) this.enablePaging();
    this.enter(0, L.CODE);
  }

  // ---- tables -------------------------------------------------------------------

  setGdt(index: number, d: DescriptorWords): void {
    this.w32(L.GDT + index * 8, d[0]);
    this.w32(L.GDT + index * 8 + 4, d[1]);
  }
  setLdt(index: number, d: DescriptorWords): void {
    this.w32(L.LDT + index * 8, d[0]);
    this.w32(L.LDT + index * 8 + 4, d[1]);
  }
  setIdt(vector: number, d: DescriptorWords): void {
    this.w32(L.IDT + vector * 8, d[0]);
    this.w32(L.IDT + vector * 8 + 4, d[1]);
  }
  /**
   * Point `vector` at its native handler through a gate of the given kind,
   * with the handler's code segment at `ring` (so faults whose delivery
   * would need the ring-0 stack can land on SS1:ESP1 instead).
   */
  handlerGate(vector: number, o: { ring?: number; trap?: boolean; dpl?: number; present?: boolean } = {}): void {
    const g = { selector: CODE_SEL[o.ring ?? 0], offset: L.HANDLERS + vector * 16, dpl: o.dpl ?? 0, present: o.present ?? true };
    this.setIdt(vector, o.trap ? trapGate(g) : interruptGate(g));
  }
  /** The raw dwords of a GDT entry as they are in memory now. */
  gdtWords(index: number): DescriptorWords {
    return [this.r32(L.GDT + index * 8), this.r32(L.GDT + index * 8 + 4)];
  }
  private gdtDescriptor(sel: number): ReturnType<typeof parseDescriptor> {
    const [lo, hi] = this.gdtWords(sel >> 3);
    return parseDescriptor(lo, hi);
  }
  /** Set a 32-bit TSS field (TSS32.ESP0, ...). Word fields get the low 16 bits. */
  setTss(field: number, v: number): void {
    const word = field === TSS32.SS0 || field === TSS32.SS1 || field === TSS32.SS2 || field === TSS32.TRAP || field === TSS32.IOMAP_BASE || field >= TSS32.ES;
    if (word) {
      this.cpu.mem.u8[L.TSS + field] = v & 0xff;
      this.cpu.mem.u8[L.TSS + field + 1] = (v >> 8) & 0xff;
    } else this.w32(L.TSS + field, v);
  }

  // ---- memory -----------------------------------------------------------------------

  w32(phys: number, v: number): void {
    this.cpu.mem.write32(phys, v | 0);
  }
  r32(phys: number): number {
    return this.cpu.mem.read32(phys) >>> 0;
  }
  writeBytes(phys: number, b: Uint8Array | number[]): void {
    this.cpu.writePhys(phys, b instanceof Uint8Array ? b : Uint8Array.from(b));
  }

  /**
   * Assemble Intel-syntax `src` at `addr` and load it. The symbols EXIT,
   * DATA, CODE, CODE2, CODE3, STACK0..3 and the selectors (SEL_CODE0,
   * SEL_DATA3, ...) are predefined.
   */
  code(src: string, addr: number = L.CODE): Uint8Array {
    const sym = [
      ['EXIT', L.EXIT], ['DATA', L.DATA], ['CODE', L.CODE], ['CODE2', L.CODE2], ['CODE3', L.CODE3],
      ['STACK0', L.STACK0], ['STACK1', L.STACK1], ['STACK2', L.STACK2], ['STACK3', L.STACK3],
      ...Object.entries(SEL).map(([k, v]) => [`SEL_${k}`, v]),
    ].map(([k, v]) => `.set ${k}, 0x${(v as number).toString(16)}`);
    const bytes = assemble(`${sym.join('\n')}\n${src}`, { base: addr });
    this.writeBytes(addr, bytes);
    return bytes;
  }

  // ---- paging -------------------------------------------------------------------------

  /** Identity-map all memory with 4 KiB pages, U/S = R/W = 1, and set CR0.PG (CR0.WP stays as given). */
  enablePaging(wp = false): void {
    const mem = this.cpu.mem;
    const pages = mem.size / 4096;
    const tables = Math.ceil(pages / 1024);
    for (let i = 0; i < 1024; i++) this.w32(L.PD + i * 4, i < tables ? (L.PT + i * 4096) | 7 : 0);
    for (let p = 0; p < pages; p++) this.w32(L.PT + p * 4, (p * 4096) | 7);
    this.cpu.writeControlRegister(3, L.PD);
    this.cpu.writeControlRegister(0, this.cpu.cr0 | 0x80000001 | (wp ? 0x10000 : 0));
  }
  /** Physical address of the PTE for a linear address (identity map, 4 KiB pages). */
  pteAddr(lin: number): number {
    return L.PT + (lin >>> 12) * 4;
  }
  pte(lin: number): number {
    return this.r32(this.pteAddr(lin));
  }
  setPte(lin: number, v: number): void {
    this.w32(this.pteAddr(lin), v);
  }
  pdeAddr(lin: number): number {
    return L.PD + (lin >>> 22) * 4;
  }
  pde(lin: number): number {
    return this.r32(this.pdeAddr(lin));
  }
  setPde(lin: number, v: number): void {
    this.w32(this.pdeAddr(lin), v);
  }

  // ---- running --------------------------------------------------------------------------

  /** Load the segment registers for `cpl` (flat code and data of that ring; the ring's own stack) and jump to `eip`. */
  enter(cpl: number, eip: number, o: { esp?: number; eflags?: number } = {}): void {
    const cpu = this.cpu;
    cpu.setCpl(cpl);
    this.loadCache(CS, CODE_SEL[cpl]);
    this.loadCache(SS, DATA_SEL[cpl]);
    for (const s of [DS, ES, FS, GS]) this.loadCache(s, DATA_SEL[cpl]);
    cpu.regs[4] = o.esp ?? STACK_TOPS[cpl];
    cpu.setEflags(o.eflags ?? 0x202, -1);
    cpu.eip = eip;
  }
  /** Fill a segment register's hidden cache from the GDT/LDT entry, as a successful load would. */
  loadCache(seg: number, sel: number): void {
    const base = sel & 4 ? L.LDT : L.GDT;
    const d = parseDescriptor(this.r32(base + (sel & ~7)), this.r32(base + (sel & ~7) + 4));
    setSegmentCache(this.cpu, seg, sel, (sel & ~3) === 0 ? null : d);
  }

  /** What to do after recording a delivery of `vector` (default 'stop'). */
  onVector(vector: number, action: VectorAction): void {
    this.actions.set(vector, action);
  }

  run(budget = 100000): StopReason | null {
    return this.cpu.run(budget);
  }
  /** Assemble `src` at CODE, enter it at `cpl` and run. */
  runAt(cpl: number, src: string, o: { esp?: number; eflags?: number; budget?: number } = {}): StopReason | null {
    this.code(src, L.CODE);
    this.enter(cpl, L.CODE, o);
    return this.run(o.budget);
  }

  /** Deliveries of one vector. */
  of(vector: number): Delivery[] {
    return this.events.filter((e) => e.vector === vector);
  }

  private handle(cpu: CPU, vector: number): void {
    const esp = cpu.regs[4];
    const ssb = cpu.segBase[SS];
    const frame = Array.from({ length: 8 }, (_, i) => this.readLin((ssb + esp + 4 * i) | 0));
    const withErr = this.errorCodeVectors.has(vector);
    const b = withErr ? 1 : 0;
    const savedCs = frame[b + 1] & 0xffff;
    const inter = (savedCs & 3) !== cpu.cpl;
    const d: Delivery = {
      vector,
      cpl: cpu.cpl,
      cs: cpu.segSel[CS],
      ss: cpu.segSel[SS],
      esp: esp >>> 0,
      eflags: cpu.getEflags() >>> 0,
      cr2: cpu.cr2 >>> 0,
      dr6: cpu.dr[6] >>> 0,
      frame,
      errorCode: withErr ? frame[0] : null,
      eip: frame[b],
      savedCs,
      savedEflags: frame[b + 2],
      ...(inter ? { savedEsp: frame[b + 3], savedSs: frame[b + 4] & 0xffff } : {}),
    };
    this.events.push(d);
    const action = this.actions.get(vector) ?? 'stop';
    if (action === 'stop') {
      cpu.stop({
        kind: 'fault',
        vector,
        errorCode: d.errorCode,
        eip: d.eip | 0,
        message: `vector ${vector} delivered (error ${d.errorCode}) at 0x${d.eip.toString(16)}`,
      });
    } else if (action === 'iret') {
      this.iret(withErr);
    } else action(this, d);
  }

  /** Return from a native handler: drop the error code if there is one, then IRET as the guest would. */
  iret(dropErrorCode: boolean): void {
    if (dropErrorCode) this.cpu.regs[4] = (this.cpu.regs[4] + 4) | 0;
    execIret(this.cpu, IRET32);
  }

  /** A dword at a linear address as the hardware would read it (supervisor, no side effects); NaN if unmapped. */
  readLin(lin: number): number {
    const p = this.cpu.lookupPhys(lin, false, false);
    if (p < 0 || p + 4 > this.cpu.mem.size) return NaN;
    return this.cpu.mem.read32(p) >>> 0;
  }
}

/** Convenience: the error code of a selector-related fault. */
export function selErr(sel: number, ext = 0): number {
  return (sel & 0xfffc) | ext;
}
/** Error code naming an IDT entry. */
export function idtErr(vector: number, ext = 0): number {
  return vector * 8 + 2 + ext;
}
export { hasErrorCode };
