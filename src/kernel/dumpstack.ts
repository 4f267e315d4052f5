/**
 * The kernel's register dump and stack trace, as i386 Linux printed them
 * (arch/x86/kernel/dumpstack_32.c, process_32.c: __show_regs(),
 * show_trace_log_lvl()): one mechanism for every report that shows where
 * the CPU was — kmemcheck's and the stack checkers' reports
 * (src/shadow/report.ts), the oops and the stack-overflow report of the
 * module runner (./module-run.ts).
 *
 *   EIP: 0060:[<c1000123>] EFLAGS: 00000046 CPU: 0
 *   EIP is at copy_thing+0x13/0x40 [/src/thing.c:42]
 *   EAX: ... (general, segment, control and debug registers)
 *    [<c1000456>] ? caller+0x1a/0x40 [/src/thing.c:57]
 *
 * Stack traces follow the frame-pointer chain when there is one; without
 * frame pointers (gcc's default at -O2) the stack words from ESP up that
 * point into a known function are printed with "? ", as Linux's stack
 * dumper did. The EIP is looked up as it is; a stack entry is a return
 * address, looked up one byte back, in the call instruction (what the
 * kernel's %pB and addr2line users do).
 */

export interface SymbolInfo {
  function: string;
  /** Offset of the address from the function's start. */
  offset: number;
  /** The function's size in bytes. */
  size: number;
}
/** Address → symbol, or null when the address is in no known function. */
export type Symbolizer = (addr: number) => SymbolInfo | null;

export interface SourcePosition {
  /** The source file's path as recorded in the line table. */
  file: string;
  line: number;
  /**
   * The address is in code inlined from other functions (DWARF's
   * DW_TAG_inlined_subroutine, src/elf/dwarf-inline.ts): the inlined
   * calls, innermost first — `file:line` above is in the innermost one.
   */
  inlined?: readonly InlinedCall[];
}

/** One level of inlining at an address: `function` inlined, called from `callFile:callLine`. */
export interface InlinedCall {
  function: string | null;
  callFile: string | null;
  callLine: number;
}

/**
 * The frames one address stands for, as `addr2line -i -f` prints them: the
 * inlined functions innermost first, each at its position (the innermost
 * at the line table's, each other at the call site of the one inside it),
 * and the out-of-line function's position (the outermost call site). No
 * inlining: no frames, and the position as it is.
 */
export function unfoldInlined(p: SourcePosition | null): { inlined: { function: string | null; position: SourcePosition | null }[]; outer: SourcePosition | null } {
  if (p === null || !p.inlined || p.inlined.length === 0) return { inlined: [], outer: p };
  const inlined: { function: string | null; position: SourcePosition | null }[] = [];
  let at: SourcePosition | null = { file: p.file, line: p.line };
  for (const c of p.inlined) {
    inlined.push({ function: c.function, position: at });
    at = c.callFile !== null ? { file: c.callFile, line: c.callLine } : null;
  }
  return { inlined, outer: at };
}
/** Code address → source position (from DWARF line info), or null when unknown. */
export type SourceLocator = (addr: number) => SourcePosition | null;

/** A return address's position: that of the call instruction before it. */
export function locateReturn(addr: number, locate?: SourceLocator): SourcePosition | null {
  return locate?.((addr - 1) >>> 0) ?? null;
}

/** ` [file:line]`, or '' when unknown. */
export function formatPosition(p: SourcePosition | null): string {
  return p ? ` [${p.file}:${p.line}]` : '';
}

const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');
const hex4 = (v: number): string => (v & 0xffff).toString(16).padStart(4, '0');

/** `function+0x1a/0x40`, or the bare address when unknown. */
export function formatSymbol(addr: number, symbolize?: Symbolizer): string {
  const s = symbolize?.(addr >>> 0) ?? null;
  if (s === null) return `0x${hex8(addr)}`;
  return `${s.function}+0x${s.offset.toString(16)}/0x${s.size.toString(16)}`;
}

/** The registers of the interrupted code, as __show_regs() prints them. Values unsigned. */
export interface RegisterDump {
  eip: number;
  eflags: number;
  regs: { eax: number; ebx: number; ecx: number; edx: number; esi: number; edi: number; ebp: number; esp: number };
  sregs: { es: number; cs: number; ss: number; ds: number; fs: number; gs: number };
  cr: { cr0: number; cr2: number; cr3: number; cr4: number };
  dr: number[];
}

export interface DumpOptions {
  symbolize?: Symbolizer;
  /** Source positions for the "EIP is at" and stack lines (` [file:line]`). */
  locate?: SourceLocator;
  /** CPU number printed in the EIP line (kmemsim has one CPU). */
  cpu?: number;
}

/**
 * `function+0x1a/0x40 [file:line]`; in inlined code the inlined functions
 * first, innermost first: `helper [inline] [h.c:5] in caller+0x1a/0x40 [c.c:20]`.
 */
function formatEipPosition(eip: number, opts: DumpOptions): string {
  const { inlined, outer } = unfoldInlined(opts.locate?.(eip >>> 0) ?? null);
  const head = inlined.map((f) => `${f.function ?? '?'} [inline]${formatPosition(f.position)} in `).join('');
  return `${head}${formatSymbol(eip, opts.symbolize)}${formatPosition(outer)}`;
}

/** The register block, as i386 __show_regs() printed it. */
export function formatRegisters(d: RegisterDump, opts: DumpOptions = {}): string[] {
  const r = d.regs;
  const s = d.sregs;
  return [
    `EIP: ${hex4(s.cs)}:[<${hex8(d.eip)}>] EFLAGS: ${hex8(d.eflags)} CPU: ${opts.cpu ?? 0}`,
    `EIP is at ${formatEipPosition(d.eip, opts)}`,
    `EAX: ${hex8(r.eax)} EBX: ${hex8(r.ebx)} ECX: ${hex8(r.ecx)} EDX: ${hex8(r.edx)}`,
    `ESI: ${hex8(r.esi)} EDI: ${hex8(r.edi)} EBP: ${hex8(r.ebp)} ESP: ${hex8(r.esp)}`,
    ` DS: ${hex4(s.ds)} ES: ${hex4(s.es)} FS: ${hex4(s.fs)} GS: ${hex4(s.gs)} SS: ${hex4(s.ss)}`,
    `CR0: ${hex8(d.cr.cr0)} CR2: ${hex8(d.cr.cr2)} CR3: ${hex8(d.cr.cr3)} CR4: ${hex8(d.cr.cr4)}`,
    `DR0: ${hex8(d.dr[0] ?? 0)} DR1: ${hex8(d.dr[1] ?? 0)} DR2: ${hex8(d.dr[2] ?? 0)} DR3: ${hex8(d.dr[3] ?? 0)}`,
    `DR6: ${hex8(d.dr[6] ?? 0)} DR7: ${hex8(d.dr[7] ?? 0)}`,
  ];
}

/** What a stack trace is made from. */
export interface StackDump {
  /** Return addresses from the frame-pointer chain, innermost first. */
  trace: number[];
  /** Raw stack dwords from ESP up. */
  stack: number[];
}

export interface TraceEntry {
  address: number;
  /** Not from the frame-pointer chain: a stack word that happens to point into a function ("? " in Linux). */
  reliable: boolean;
}

/** Most entries a trace prints (Linux kept 32). */
export const TRACE_DEPTH = 32;

/**
 * The backtrace: the frame-pointer chain when there is one; otherwise,
 * with a symbolizer, the stack words that point into a known function
 * (unreliable, printed with "? " as Linux's stack dumper did).
 */
export function backtrace(d: StackDump, symbolize?: Symbolizer): TraceEntry[] {
  if (d.trace.length > 0) return d.trace.map((address) => ({ address, reliable: true }));
  if (!symbolize) return [];
  const out: TraceEntry[] = [];
  for (const w of d.stack) {
    if (symbolize(w) !== null) out.push({ address: w, reliable: false });
    if (out.length >= TRACE_DEPTH) break;
  }
  return out;
}

/** ` [<c1234567>] function+0x1a/0x40` lines, with ` [file:line]` when `locate` knows the call. */
export function formatTrace(d: StackDump, symbolize?: Symbolizer, locate?: SourceLocator): string[] {
  return backtrace(d, symbolize).flatMap((t) => {
    const lead = ` [<${hex8(t.address)}>] ${t.reliable ? '' : '? '}`;
    // A call made from inlined code: the inlined functions first (` [inline]`), as addr2line -i and KASAN list them.
    const { inlined, outer } = unfoldInlined(locateReturn(t.address, locate));
    return [...inlined.map((f) => `${lead}${f.function ?? '?'} [inline]${formatPosition(f.position)}`), `${lead}${formatSymbol(t.address, symbolize)}${formatPosition(outer)}`];
  });
}

/** A dword of guest memory at a linear address, or null when it cannot be read. */
export type Peek32 = (lin: number) => number | null;

/**
 * Follow saved EBPs from `ebp` while they climb the stack (kmemcheck
 * selected FRAME_POINTER): the return addresses go to `out` (at most its
 * length); returns how many. Nothing when EBP is not a frame pointer just
 * above ESP.
 */
export function walkFramePointers(peek32: Peek32, ebp: number, esp: number, ssBase: number, out: Int32Array): number {
  let n = 0;
  let fp = ebp >>> 0;
  const sp = esp >>> 0;
  if (fp < sp || fp - sp >= 0x10000) return 0;
  while (n < out.length && fp !== 0 && (fp & 3) === 0) {
    const ret = peek32((ssBase + fp + 4) | 0);
    const next = peek32((ssBase + fp) | 0);
    if (ret === null || next === null) break;
    out[n++] = ret;
    const nx = next >>> 0;
    if (nx <= fp || nx - fp > 0x10000) break;
    fp = nx;
  }
  return n;
}

/** The stack dwords from `esp` up into `out` (as many as are readable, at most its length); returns how many. */
export function readStackWords(peek32: Peek32, esp: number, ssBase: number, out: Int32Array): number {
  let n = 0;
  for (let i = 0; i < out.length; i++) {
    const w = peek32((ssBase + esp + 4 * i) | 0);
    if (w === null) break;
    out[n++] = w;
  }
  return n;
}
