/**
 * The kernel's symbol table as kallsyms sees it (kernel/kallsyms.c): the
 * kernel's own functions (the export table's kernel-text entries) and every
 * loaded module's functions, static ones included — what
 * kallsyms_lookup_name() and kprobes' `symbol_name` resolve, and what a
 * bpftrace wildcard (`kprobe:__*page_owner*`) expands over. Per kernel; the
 * module runner adds a module when it is loaded and removes it at unload.
 */
import type { Kernel } from './kernel.js';
import type { LoadedModule } from './module.js';

const STT_FUNC = 2;
const SHN_UNDEF = 0;

/** One function: its name, address, size and where it lives (null: the kernel itself). */
export interface KernelSymbol {
  name: string;
  address: number;
  size: number;
  module: string | null;
}

export class Kallsyms {
  private readonly kernelFunctions = new Map<string, KernelSymbol>();
  private readonly modules: LoadedModule[] = [];

  /** A kernel function (an exported function's entry). */
  addKernelFunction(name: string, address: number, size: number): void {
    this.kernelFunctions.set(name, { name, address: address >>> 0, size, module: null });
  }

  addModule(m: LoadedModule): void {
    if (!this.modules.includes(m)) this.modules.push(m);
  }
  removeModule(m: LoadedModule): void {
    const i = this.modules.indexOf(m);
    if (i >= 0) this.modules.splice(i, 1);
  }
  loadedModules(): readonly LoadedModule[] {
    return this.modules;
  }

  /** kallsyms_lookup_name(): the kernel's first, then the modules' in load order. */
  lookupName(name: string): number | undefined {
    const k = this.kernelFunctions.get(name);
    if (k) return k.address;
    for (const m of this.modules) {
      const a = m.object.symbolAddress(name);
      if (a !== undefined) return a >>> 0;
    }
    return undefined;
  }

  /** The function containing `addr`, with its start and size. */
  functionAt(addr: number): KernelSymbol | null {
    const a = addr >>> 0;
    for (const s of this.kernelFunctions.values()) if (a >= s.address && a < s.address + s.size) return s;
    for (const m of this.modules) {
      for (const s of moduleFunctions(m)) if (a >= s.address && a < s.address + Math.max(1, s.size)) return s;
    }
    return null;
  }

  /** Every function, kernel first (by name), then each module's (by address): for wildcard matching. */
  functions(): KernelSymbol[] {
    const out = [...this.kernelFunctions.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const m of this.modules) out.push(...moduleFunctions(m));
    return out;
  }
}

/** A module's function symbols (STT_FUNC, defined) at their load addresses. */
export function moduleFunctions(m: LoadedModule): KernelSymbol[] {
  const obj = m.object;
  const out: KernelSymbol[] = [];
  for (const s of obj.elf.symbols) {
    if (s.type !== STT_FUNC || s.shndx === SHN_UNDEF || s.name === '') continue;
    const base = obj.sectionAddress(s.shndx);
    if (base === undefined) continue;
    out.push({ name: s.name, address: (base + s.value) >>> 0, size: s.size, module: m.name });
  }
  return out.sort((a, b) => a.address - b.address);
}

const tables = new WeakMap<Kernel, Kallsyms>();

/** The kernel's symbol table (created empty on first use). */
export function kallsymsOf(kernel: Kernel): Kallsyms {
  let t = tables.get(kernel);
  if (!t) tables.set(kernel, (t = new Kallsyms()));
  return t;
}
