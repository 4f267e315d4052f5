/**
 * kmemcheck's reports, as kmemcheck_error_recall() printed them on i386:
 *
 *   WARNING: kmemcheck: Caught 32-bit read from uninitialized memory (c1a2b3c4)
 *   0000000011111111222222223333333344444444555555556666666677777777
 *    i i i i u u u u i i i i i i i i u u u u u u u u u u u u u u u u
 *            ^
 *
 *   EIP: 0060:[<c1000123>] EFLAGS: 00000046 CPU: 0
 *   EIP is at copy_thing+0x13/0x40
 *   EAX: ... (registers, segment and control registers, as __show_regs())
 *    [<c1000456>] caller+0x1a/0x40
 *
 * The dump is the 32 bytes around the address (aligned down to 32), the
 * second line their shadow (a = unallocated, u = uninitialized,
 * i = initialized, f = freed; `-` where the page is not tracked) and the
 * caret marks the accessed byte. The registers and the stack trace are
 * the kernel's own dump (src/kernel/dumpstack.ts, shared with the oops);
 * stack traces name functions through a pluggable symbolizer.
 *
 * With a source locator (the module's DWARF line table, see
 * src/elf/dwarf-line.ts) the "EIP is at" line and each stack line end in
 * ` [file:line]`, the path as the compiler recorded it:
 *
 *   EIP is at copy_thing+0x13/0x40 [/src/thing.c:42]
 *    [<c1000456>] ? caller+0x1a/0x40 [/src/thing.c:57]
 *
 * The EIP is looked up as it is; a stack entry is a return address, so it
 * is looked up one byte back, in the call instruction (what the kernel's
 * %pB and addr2line users do): the line of the call, not of what follows.
 *
 * Also a JSON finding per error, for the report/ layer and the fuzzer.
 */
import { SHADOW_LETTERS, SHADOW_NAMES, UNTRACKED } from './shadow.js';
import {
  backtrace as stackBacktrace, formatRegisters as showRegisters, formatTrace as showTrace, locateReturn, unfoldInlined,
  type SourceLocator, type Symbolizer, type TraceEntry,
} from '../kernel/dumpstack.js';
import { SHADOW_COPY_SIZE, type KmemcheckError } from './errors.js';
import type { FindingObject } from './object-owner.js';

export type { SymbolInfo, Symbolizer, SourcePosition, SourceLocator, TraceEntry } from '../kernel/dumpstack.js';
export { locateReturn, formatPosition, formatSymbol } from '../kernel/dumpstack.js';

export interface ReportOptions {
  symbolize?: Symbolizer;
  /** CPU number printed in the EIP line (kmemsim has one CPU). */
  cpu?: number;
  /** Source positions for the "EIP is at" and stack lines (` [file:line]`). */
  locate?: SourceLocator;
  /** A stack tracker's report says "stack memory" (default: the heap, kmemcheck's own wording). */
  region?: FindingRegion;
}

const hex8 = (v: number): string => (v >>> 0).toString(16).padStart(8, '0');

/** The header line: "WARNING: kmemcheck: Caught 32-bit read from uninitialized memory (c1a2b3c4)". */
export function formatHeader(e: KmemcheckError, region: FindingRegion = 'heap'): string {
  const where = region === 'stack' ? ' stack' : '';
  return `WARNING: kmemcheck: Caught ${8 * e.size}-bit ${e.access} ${e.access === 'write' ? 'to' : 'from'} ${SHADOW_NAMES[e.state] ?? '(invalid shadow state)'}${where} memory (${hex8(e.address)})`;
}

/** The three dump lines: memory, shadow letters, caret. */
export function formatDump(e: KmemcheckError): string[] {
  let mem = '';
  let sh = '';
  for (let i = 0; i < SHADOW_COPY_SIZE; i++) {
    const b = e.memory[i];
    mem += b === null || b === undefined ? '??' : b.toString(16).padStart(2, '0');
    const s = e.shadow[i];
    sh += ' ' + (s === UNTRACKED ? '-' : (SHADOW_LETTERS[s] ?? '?'));
  }
  const col = 1 + 2 * (e.address & (SHADOW_COPY_SIZE - 1));
  return [mem, sh, ' '.repeat(col) + '^'];
}

/** The register block, as i386 __show_regs() printed it (src/kernel/dumpstack.ts). */
export function formatRegisters(e: KmemcheckError, opts: ReportOptions = {}): string[] {
  return showRegisters(e, opts);
}

/** The backtrace of an error (src/kernel/dumpstack.ts: frame pointers, else a scan of the stack words). */
export function backtrace(e: KmemcheckError, symbolize?: Symbolizer): TraceEntry[] {
  return stackBacktrace(e, symbolize);
}

/** ` [<c1234567>] function+0x1a/0x40` lines, with ` [file:line]` when `locate` knows the call. */
export function formatTrace(e: KmemcheckError, symbolize?: Symbolizer, locate?: SourceLocator): string[] {
  return showTrace(e, symbolize, locate);
}

/** The whole report for one error, lines joined with '\n' (no trailing newline). */
export function formatReport(e: KmemcheckError, opts: ReportOptions = {}): string {
  return [formatHeader(e, opts.region), ...formatDump(e), '', ...formatRegisters(e, opts), ...formatTrace(e, opts.symbolize, opts.locate)].join('\n');
}

/** What the drain prints when the queue overflowed. */
export function formatLost(n: number): string {
  return `kmemcheck: Lost ${n} error reports because the queue was too small`;
}

/** One location of a finding's stack. `file`/`line`: present when the finding was made with a locator (null when it does not know the address). */
export interface FindingFrame {
  function: string | null;
  offset: number | null;
  address: number;
  file?: string | null;
  line?: number | null;
  /** A function inlined at this address (DWARF): listed before the frame it was inlined into, innermost first, as addr2line -i does. */
  inlined?: true;
}

/**
 * A kmemcheck finding as JSON. `function`/`offset` are null when the
 * symbolizer does not know the address; `file`/`line` (the source position
 * of the EIP; for callers, of the call) are there when toFinding() was given
 * a locator, null when it does not know the address.
 */
export interface Finding {
  /** `poisoned`: ftrace's stack poisoning saw its poison pattern arrive as a function argument. */
  kind: FindingKind;
  region: FindingRegion;
  checker: CheckerName;
  access: 'read' | 'write';
  size: number;
  address: number;
  eip: number;
  function: string | null;
  offset: number | null;
  file?: string | null;
  line?: number | null;
  /** The faulting location first, then the callers. */
  stack: FindingFrame[];
  /**
   * Heap findings: the slab object the address belongs to (or is just past),
   * its cache, size, the offset of the access, and the stacks that allocated
   * and freed it (src/shadow/object-owner.ts). Absent when unknown.
   */
  object?: FindingObject;
  /**
   * Uninitialized stack reads (`--stack precise`): the instruction that
   * grew the stack over the bytes read — the function whose stack frame
   * they were (KMSAN's "Uninit was created at"). Absent when unknown.
   */
  origin?: FindingFrame;
}

/** `overflow`: the watch framework saw an access next to a watched buffer (kmcf_set_overflow_report). */
export type FindingKind = 'uninitialized' | 'unallocated' | 'freed' | 'poisoned' | 'overflow';
/** Where the memory was: the slab/page allocator's (kmemcheck) or a kernel stack (the stack trackers). */
export type FindingRegion = 'heap' | 'stack';
/** Which checker found it: kmemcheck, the inline checker, or a stack strategy (`--stack cpl1|ftrace|precise`). */
export type CheckerName = 'kmemcheck' | 'inline' | 'cpl1' | 'ftrace' | 'precise' | 'watch';

/** Who made a finding (toFinding's default: kmemcheck on the heap). */
export interface FindingOrigin {
  checker?: CheckerName;
  region?: FindingRegion;
}

/**
 * One stack frame of a finding: the function (symbolized) and, with a
 * locator, the source position — of the instruction itself, or for a
 * return address of the call before it.
 */
export function findingFrame(addr: number, returnAddress: boolean, symbolize?: Symbolizer, locate?: SourceLocator): FindingFrame {
  const s = symbolize?.(addr >>> 0) ?? null;
  const frame: FindingFrame = { function: s?.function ?? null, offset: s?.offset ?? null, address: addr >>> 0 };
  if (locate) {
    const p = returnAddress ? locateReturn(addr, locate) : locate(addr >>> 0);
    frame.file = p?.file ?? null;
    frame.line = p?.line ?? null;
  }
  return frame;
}

/**
 * The frames of one address: the functions inlined there (`inlined: true`,
 * innermost first, each at its own file:line), then the frame itself at the
 * outermost call site — `addr2line -i -f`'s answer. Without inlining, the
 * one frame of findingFrame().
 */
export function findingFrames(addr: number, returnAddress: boolean, symbolize?: Symbolizer, locate?: SourceLocator): FindingFrame[] {
  const frame = findingFrame(addr, returnAddress, symbolize, locate);
  if (!locate) return [frame];
  const { inlined, outer } = unfoldInlined(returnAddress ? locateReturn(addr, locate) : locate(addr >>> 0));
  if (inlined.length === 0) return [frame];
  frame.file = outer?.file ?? null;
  frame.line = outer?.line ?? null;
  return [
    ...inlined.map((f): FindingFrame => ({ function: f.function, offset: null, address: addr >>> 0, file: f.position?.file ?? null, line: f.position?.line ?? null, inlined: true })),
    frame,
  ];
}

export function toFinding(e: KmemcheckError, symbolize?: Symbolizer, locate?: SourceLocator, origin: FindingOrigin = {}): Finding {
  const at = (addr: number, returnAddress: boolean): FindingFrame => findingFrame(addr, returnAddress, symbolize, locate);
  const frames = (addr: number, returnAddress: boolean): FindingFrame[] => findingFrames(addr, returnAddress, symbolize, locate);
  const top = at(e.eip, false);
  const kind = e.stateName === 'unallocated' || e.stateName === 'freed' ? e.stateName : 'uninitialized';
  return {
    kind,
    region: origin.region ?? 'heap',
    checker: origin.checker ?? 'kmemcheck',
    access: e.access,
    size: e.size,
    address: e.address >>> 0,
    eip: e.eip >>> 0,
    function: top.function,
    offset: top.offset,
    ...(locate ? { file: top.file ?? null, line: top.line ?? null } : {}),
    stack: [...frames(e.eip, false), ...backtrace(e, symbolize).flatMap((t) => frames(t.address, true))],
  };
}
