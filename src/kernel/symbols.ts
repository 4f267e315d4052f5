/**
 * Names and source positions for findings: a module's functions (the
 * module object, then the guest runtime linked with it), the kernel API's
 * native routines, the kernel's own named routines (the guest-call return
 * stub, ftrace's trampolines), and `file:line` from the objects' DWARF line
 * tables — what every checker's report and JSON finding, and the oops, are
 * symbolized with.
 */
import type { KernelApi } from './kapi.js';
import type { Kernel } from './kernel.js';
import type { LoadedModule } from './module.js';
import type { SourceLocator, SymbolInfo, Symbolizer } from './dumpstack.js';
import { lineTableFor, type LineTable } from '../elf/dwarf-line.js';
import { inlineTableFor, type InlineTable } from '../elf/dwarf-inline.js';

/**
 * Module symbols (module, runtime), then the kernel API's routines (with
 * offsets), then exact export names, then the kernel's named routines
 * (`kernel`, else the API's kernel).
 */
export function moduleSymbolizer(getModule: () => LoadedModule | null, getApi: () => KernelApi | null, kernel?: Kernel): Symbolizer {
  return (addr: number): SymbolInfo | null => {
    const a = addr >>> 0;
    const mod = getModule();
    const m = mod?.symbolize(a);
    if (m) return { function: m.name, offset: m.offset, size: m.size };
    const h = getApi()?.symbolize(a);
    if (h) return { function: h.name, offset: h.offset, size: h.size };
    const name = mod?.exports.nameAt(a);
    if (name) return { function: name, offset: 0, size: 0 };
    const r = (kernel ?? getApi()?.kernel)?.routineSymbol(a);
    if (r) return { function: r.name, offset: r.offset, size: r.size };
    return null;
  };
}

/**
 * Code address → `file:line` from the DWARF line tables of the module's
 * object and of the runtime (each read once, on first use, from the
 * relocated .debug_line: its addresses are load addresses). Null for an
 * address no table covers (an object compiled without -g, the kernel API,
 * an object whose line table is damaged: `warn` hears of that once).
 */
export function moduleLocator(getModule: () => LoadedModule | null, warn?: (line: string) => void): SourceLocator {
  const tables = new Map<object, LineTable | null>();
  const tableOf = (o: { name?: string; debugSection(name: string): Uint8Array | null }): LineTable | null => {
    // A damaged .debug_line: one warning line, and findings without file:line.
    if (!tables.has(o)) tables.set(o, lineTableFor(o, (why) => warn?.(`kmemsim: warning: ${o.name ?? 'module'}: .debug_line ignored (${why}); no file:line`)));
    return tables.get(o)!;
  };
  const inlines = new Map<object, InlineTable | null>();
  const inlinesOf = (o: { debugSection(name: string): Uint8Array | null }): InlineTable | null => {
    if (!inlines.has(o)) inlines.set(o, inlineTableFor(o));
    return inlines.get(o)!;
  };
  return (addr: number) => {
    const mod = getModule();
    if (!mod) return null;
    const a = addr >>> 0;
    for (const o of [mod.object, mod.runtime]) {
      if (!o || !o.contains(a)) continue;
      const p = tableOf(o)?.lookup(a) ?? null;
      if (!p) continue;
      // Inside inlined code: the inlined calls too (DW_TAG_inlined_subroutine), for reports to unfold.
      const inlined = inlinesOf(o)?.at(a) ?? [];
      return inlined.length > 0 ? { file: p.file, line: p.line, inlined } : { file: p.file, line: p.line };
    }
    return null;
  };
}
