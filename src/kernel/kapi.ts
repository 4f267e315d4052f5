/**
 * The kernel API guest code links against: the memory manager
 * (`./mm`) and printk (`./printk.ts`) bound as native routines at guest
 * addresses with `Kernel.bindRoutine()`. Guest code calls them with CALL
 * and they return with RET, following Linux i386's kernel calling
 * convention (`-mregparm=3`):
 *
 * - the first three integer arguments in EAX, EDX, ECX, the rest on the
 *   stack above the return address ([ESP+4], [ESP+8], … at entry);
 * - variadic functions (printk, snprintf, sprintf, panic) take every
 *   argument on the stack ([ESP+4] is the first) — GCC ignores regparm
 *   for them;
 * - the result in EAX; EAX, ECX and EDX may be clobbered (the natives
 *   only write EAX), EBX, ESI, EDI, EBP are preserved.
 *
 * | symbol | C prototype (Linux) | arguments |
 * | --- | --- | --- |
 * | kmalloc, __kmalloc | `void *kmalloc(size_t size, gfp_t flags)` | EAX, EDX |
 * | kzalloc | `void *kzalloc(size_t size, gfp_t flags)` | EAX, EDX |
 * | kfree | `void kfree(const void *p)` | EAX |
 * | ksize | `size_t ksize(const void *p)` | EAX |
 * | kmem_cache_create | `struct kmem_cache *kmem_cache_create(const char *name, size_t size, size_t align, unsigned long flags, void (*ctor)(void *))` | EAX, EDX, ECX, [ESP+4], [ESP+8] |
 * | kmem_cache_alloc | `void *kmem_cache_alloc(struct kmem_cache *c, gfp_t flags)` | EAX, EDX |
 * | kmem_cache_zalloc | `void *kmem_cache_zalloc(struct kmem_cache *c, gfp_t flags)` | EAX, EDX |
 * | kmem_cache_free | `void kmem_cache_free(struct kmem_cache *c, void *obj)` | EAX, EDX |
 * | kmem_cache_destroy | `void kmem_cache_destroy(struct kmem_cache *c)` | EAX |
 * | alloc_pages | `struct page *alloc_pages(gfp_t gfp, unsigned int order)` | EAX, EDX |
 * | __free_pages | `void __free_pages(struct page *page, unsigned int order)` | EAX, EDX |
 * | page_address | `void *page_address(struct page *page)` | EAX |
 * | virt_to_page | `struct page *virt_to_page(const void *addr)` (a macro in Linux) | EAX |
 * | __get_free_pages | `unsigned long __get_free_pages(gfp_t gfp, unsigned int order)` | EAX, EDX |
 * | get_zeroed_page | `unsigned long get_zeroed_page(gfp_t gfp)` | EAX |
 * | free_pages | `void free_pages(unsigned long addr, unsigned int order)` | EAX, EDX |
 * | printk | `int printk(const char *fmt, ...)` | stack |
 * | vprintk | `int vprintk(const char *fmt, va_list args)` | EAX, EDX |
 * | snprintf | `int snprintf(char *buf, size_t size, const char *fmt, ...)` | stack |
 * | vsnprintf | `int vsnprintf(char *buf, size_t size, const char *fmt, va_list args)` | EAX, EDX, ECX, [ESP+4] |
 * | scnprintf | `int scnprintf(char *buf, size_t size, const char *fmt, ...)` | stack |
 * | sprintf | `int sprintf(char *buf, const char *fmt, ...)` | stack |
 * | vsprintf | `int vsprintf(char *buf, const char *fmt, va_list args)` | EAX, EDX, ECX |
 * | panic | `void panic(const char *fmt, ...)` (does not return) | stack |
 * | kmemcheck_mark_initialized | `void kmemcheck_mark_initialized(void *addr, unsigned int n)` | EAX, EDX |
 * | kmemcheck_enable, kmemcheck_disable | `void kmemcheck_enable(void)` (kmemsim's; Linux switched with a sysctl) | — |
 * | BUG | `void BUG(void)` (a macro around ud2 in Linux; here a call; does not return) | — |
 *
 * `struct page *` is the address of the page's entry in the buddy zone's
 * `mem_map` (see mm/buddy.ts); `page_address()` turns it into the page's
 * direct-map address and `virt_to_page()` back.
 *
 * A constructor given to kmem_cache_create() is guest code: when a cache
 * with one needs a new slab, kmem_cache_alloc() calls the constructor on
 * every object of the slab (EAX = the object) before returning, by
 * chaining guest calls through a return trampoline (`ctorTrampoline`), so
 * the constructors really run as guest code called from the allocator.
 *
 * Guest pointers the natives follow (stack arguments, format strings,
 * `%s` strings, output buffers) are read and written through
 * `KernelApiOptions.memory` (default `kernel.mem`); allocator zeroing goes
 * by physical address (see mm/), so neither depends on pages being
 * present. The return address is popped by the CPU itself
 * (`Kernel.bindRoutine`'s RET).
 *
 * Errors. Misuse by guest code — double free, freeing a pointer that is
 * not an allocated object, the wrong order, a destroyed cache — stops the
 * machine with `{kind: 'fault', vector: 6}` (#UD: Linux's BUG() is ud2),
 * the EIP of the native that detected it, and a message naming the
 * function, the pointer and the caller's return address; the same text
 * is logged at KERN_EMERG. A pointer argument the kernel cannot read or
 * write (a format string, a snprintf buffer, the stack) stops it with
 * `{kind: 'fault', vector: 14}` and "unable to handle kernel paging
 * request". panic() and BUG() stop it with `vector: 6` and the caller's
 * address as EIP, after printing Linux's "Kernel panic - not syncing: …"
 * or "kernel BUG …" line. `kmem_cache_destroy()` of a cache with live
 * objects is refused with SLUB's KERN_ERR message and returns normally.
 */
import type { CPU } from '../cpu/cpu.js';
import { Vec } from '../cpu/stop.js';
import { SS } from '../cpu/instr.js';
import type { Kernel } from './kernel.js';
import { GuestFault } from './guest-memory.js';
import { PAGE_OFFSET } from './layout.js';
import {
  KernelBug, __GFP_ZERO, createMemoryManager, hex, type MemoryManager, type MmHooks, type Slab, type SlabCache,
} from './mm/index.js';
import {
  GuestVarArgs, MAX_STRING, Printk, guestFormatEnv, readGuestString, vsprintf, type ConsoleSink, type GuestAccessor, type SymbolHit,
  type VarArgs,
} from './printk.js';

export interface KernelApiOptions {
  /** Where printk's messages go. */
  console: ConsoleSink;
  /** Memory-manager hooks registered from the start (kmemcheck, watchers). */
  hooks?: MmHooks | MmHooks[];
  /** Pages in the buddy zone (default: half of the boot pool's free frames). */
  pages?: number;
  /**
   * How the natives read and write guest pointers (arguments on the stack,
   * format strings, `%s` strings, snprintf buffers). Default: `kernel.mem`,
   * which cannot see pages hidden by the page-hiding service; a checker
   * that hides pages passes an accessor that can (and applies its shadow
   * semantics to these host-side accesses).
   */
  memory?: GuestAccessor;
  /**
   * What kmemcheck_mark_initialized(), kmemcheck_enable() and
   * kmemcheck_disable() do (src/harness/checked-run.ts passes the heap checker's).
   * Without it the three are exported and do nothing, as in a kernel built
   * without CONFIG_KMEMCHECK.
   */
  kmemcheck?: KmemcheckAnnotations;
}

/** The kmemcheck calls guest code can make (include/linux/kmemcheck.h, /proc/sys/kernel/kmemcheck). */
export interface KmemcheckAnnotations {
  markInitialized(addr: number, n: number): void;
  setEnabled(on: boolean): void;
}

const EAX = 0, ECX = 1, EDX = 2, ESP = 4;
/** Bytes each native occupies in the routine page (Kernel.bindRoutine's spacing): a symbol's size for %pS. */
const ROUTINE_SIZE = 8;

interface PendingCtor {
  cache: SlabCache;
  slab: Slab;
  objects: number[];
  next: number;
  gfp: number;
}

/**
 * The installed API: a Map from exported symbol name to guest address
 * (unsigned), plus the memory manager and log behind it.
 */
export class KernelApi extends Map<string, number> {
  /** Internal routines that are not link targets but should symbolize (the constructor trampoline). */
  readonly internal = new Map<string, number>();
  /** Extra symbol sources for %pS (e.g. a module loader's symbols), consulted after the kernel's own. */
  readonly symbolizers: ((addr: number) => SymbolHit | null)[] = [];
  ctorTrampoline = 0;
  /**
   * Bind one more exported native with the API's error handling (KernelBug → BUG stop, GuestFault →
   * "unable to handle kernel paging request"), for the kernel's other services (src/watch/guest-api.ts).
   */
  bind!: (name: string, fn: (cpu: CPU) => void) => number;
  /** How the natives reach guest memory (KernelApiOptions.memory). */
  memory!: GuestAccessor;

  constructor(readonly kernel: Kernel, readonly mm: MemoryManager, readonly log: Printk) {
    super();
  }

  /** The kernel routine an address falls in, for %pS and reports. */
  symbolize(addr: number): SymbolHit | null {
    addr = addr >>> 0;
    for (const table of [this, this.internal]) {
      for (const [name, a] of table) {
        if (addr >= a && addr < a + ROUTINE_SIZE) return { name, offset: addr - a, size: ROUTINE_SIZE };
      }
    }
    const own = this.kernel.routineSymbol(addr);
    if (own) return own;
    for (const s of this.symbolizers) {
      const hit = s(addr);
      if (hit) return hit;
    }
    return null;
  }
}

/**
 * Start the memory manager and bind the kernel API's natives. Call once
 * per kernel; returns the symbol table for linking guest code.
 */
export function installKernelApi(kernel: Kernel, opts: KernelApiOptions): KernelApi {
  const log = new Printk(opts.console);
  const mm = createMemoryManager(kernel, {
    pages: opts.pages,
    hooks: opts.hooks,
    warn: (msg) => log.emit(`<3>${msg}\n`),
  });
  const api = new KernelApi(kernel, mm, log);
  const { buddy, slab } = mm;
  const mem: GuestAccessor = opts.memory ?? kernel.mem;
  const env = guestFormatEnv(mem, (a) => api.symbolize(a));

  // ---- argument access ------------------------------------------------------------------------

  const reg = (cpu: CPU, r: number): number => cpu.regs[r] >>> 0;
  /** Argument i (0-based) of a regparm(3) function: EAX, EDX, ECX, then [ESP+4], … */
  const arg = (cpu: CPU, i: number): number => {
    if (i === 0) return reg(cpu, EAX);
    if (i === 1) return reg(cpu, EDX);
    if (i === 2) return reg(cpu, ECX);
    return stackArg(cpu, i - 3);
  };
  /** Stack argument i: [ESP + 4 + 4i] (ESP at entry points at the return address). */
  const stackArg = (cpu: CPU, i: number): number => mem.read32((cpu.segBase[SS] + cpu.regs[ESP] + 4 + 4 * i) | 0) >>> 0;
  const stackArgs = (cpu: CPU, first: number): GuestVarArgs => new GuestVarArgs(mem, (cpu.segBase[SS] + cpu.regs[ESP] + 4 + 4 * first) | 0);
  const ret = (cpu: CPU, v: number): void => {
    cpu.regs[EAX] = v | 0;
  };
  const returnAddress = (cpu: CPU): number | null => {
    try {
      return mem.read32((cpu.segBase[SS] + cpu.regs[ESP]) | 0) >>> 0;
    } catch {
      return null;
    }
  };
  const fmtString = (ptr: number): string => {
    const s = ptr < 4096 ? null : readGuestString(mem, ptr, MAX_STRING);
    if (s === null) throw new GuestFault(ptr, false);
    return s;
  };
  const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

  // ---- binding and error reporting ---------------------------------------------------------------

  const caller = (cpu: CPU): string => {
    const r = returnAddress(cpu);
    if (r === null) return 'an unreadable return address';
    const sym = api.symbolize(r);
    return `${hex(r)}${sym ? ` (${sym.name}+0x${sym.offset.toString(16)})` : ''}`;
  };
  const bind = (name: string, fn: (cpu: CPU) => void, table: Map<string, number> = api): number => {
    const addr = kernel.bindRoutine((k) => {
      const cpu = k.cpu;
      try {
        fn(cpu);
      } catch (e) {
        if (e instanceof KernelBug) {
          const message = `kernel BUG: ${e.message} (called from ${caller(cpu)})`;
          log.emit(`<0>${message}\n`);
          cpu.stop({ kind: 'fault', vector: Vec.UD, errorCode: null, eip: addr, message });
        } else if (e instanceof GuestFault) {
          const message = `BUG: unable to handle kernel paging request at ${hex(e.address)} (${e.write ? 'write' : 'read'}) in ${name} (called from ${caller(cpu)})`;
          log.emit(`<1>${message}\n`);
          cpu.stop({ kind: 'fault', vector: Vec.PF, errorCode: e.write ? 2 : 0, eip: addr, message });
        } else throw e;
      }
    }) >>> 0;
    table.set(name, addr);
    return addr;
  };
  api.bind = (name, fn) => bind(name, fn);
  api.memory = mem;

  // ---- slab ----------------------------------------------------------------------------------------

  const kmalloc = (cpu: CPU): void => ret(cpu, slab.kmalloc(arg(cpu, 0), arg(cpu, 1)));
  bind('kmalloc', kmalloc);
  bind('__kmalloc', kmalloc);
  bind('kzalloc', (cpu) => ret(cpu, slab.kzalloc(arg(cpu, 0), arg(cpu, 1))));
  bind('kfree', (cpu) => slab.kfree(arg(cpu, 0)));
  bind('ksize', (cpu) => ret(cpu, slab.ksize(arg(cpu, 0))));

  bind('kmem_cache_create', (cpu) => {
    const namePtr = arg(cpu, 0);
    const ctor = arg(cpu, 4);
    const name = namePtr === 0 ? null : fmtString(namePtr);
    if (name === null) {
      log.emit('<3>kmem_cache_create: NULL cache name\n');
      ret(cpu, 0);
      return;
    }
    const c = slab.kmem_cache_create(name, arg(cpu, 1), arg(cpu, 2), arg(cpu, 3), ctor === 0 ? null : ctor);
    ret(cpu, c ? c.handle : 0);
  });

  // Guest constructors: a stack of slabs under construction (nested when a constructor allocates).
  const pending: PendingCtor[] = [];
  /** Call the constructor on the next object: its return goes to the trampoline, which comes back here. */
  const constructNext = (cpu: CPU, p: PendingCtor): void => {
    ret(cpu, p.objects[p.next++]);
    cpu.push32(api.ctorTrampoline);
    // bindRoutine's epilogue pops this into EIP: a call to the constructor returning to the trampoline.
    cpu.push32(p.cache.ctor as number);
  };
  const cacheAlloc = (cpu: CPU, gfp: number, fn: string): void => {
    const cache = slab.cacheFromHandle(arg(cpu, 0), fn);
    if (typeof cache.ctor === 'number' && slab.needsNewSlab(cache)) {
      const s = slab.newSlab(cache, gfp);
      if (!s) {
        ret(cpu, 0);
        return;
      }
      const p: PendingCtor = { cache, slab: s, objects: s.objectAddresses(), next: 0, gfp };
      pending.push(p);
      constructNext(cpu, p);
      return;
    }
    ret(cpu, slab.kmem_cache_alloc(cache, gfp));
  };
  bind('kmem_cache_alloc', (cpu) => cacheAlloc(cpu, arg(cpu, 1), 'kmem_cache_alloc'));
  bind('kmem_cache_zalloc', (cpu) => cacheAlloc(cpu, arg(cpu, 1) | __GFP_ZERO, 'kmem_cache_zalloc'));
  api.ctorTrampoline = bind('__kmem_cache_ctor_return', (cpu) => {
    const p = pending[pending.length - 1];
    if (!p) throw new KernelBug('kmem_cache_alloc', null, 'the constructor trampoline was reached with no slab under construction');
    if (p.next < p.objects.length) {
      constructNext(cpu, p);
      return;
    }
    pending.pop();
    slab.addSlab(p.slab);
    ret(cpu, slab.kmem_cache_alloc(p.cache, p.gfp));
  }, api.internal);

  bind('kmem_cache_free', (cpu) => slab.kmem_cache_free(slab.cacheFromHandle(arg(cpu, 0), 'kmem_cache_free'), arg(cpu, 1)));
  bind('kmem_cache_destroy', (cpu) => {
    slab.kmem_cache_destroy(slab.cacheFromHandle(arg(cpu, 0), 'kmem_cache_destroy'));
  });

  // ---- pages -----------------------------------------------------------------------------------

  const directMapPhys = (addr: number, fn: string): number => {
    const phys = buddy.virtToPhys(addr);
    if (addr < PAGE_OFFSET || !buddy.contains(phys)) {
      throw new KernelBug(fn, addr, `${hex(addr)} is not a kernel address of the page allocator's memory (${hex(buddy.pageAddress(buddy.base))}-${hex(buddy.pageAddress(buddy.base + buddy.pages * 4096) - 1)})`);
    }
    return phys;
  };
  bind('alloc_pages', (cpu) => {
    const phys = buddy.allocPages(arg(cpu, 1), arg(cpu, 0));
    ret(cpu, phys ? buddy.pageStruct(phys) : 0);
  });
  bind('__free_pages', (cpu) => buddy.freePages(buddy.pageFromStruct(arg(cpu, 0), '__free_pages'), arg(cpu, 1), '__free_pages'));
  bind('page_address', (cpu) => ret(cpu, buddy.pageAddress(buddy.pageFromStruct(arg(cpu, 0), 'page_address'))));
  bind('virt_to_page', (cpu) => ret(cpu, buddy.pageStruct(directMapPhys(arg(cpu, 0), 'virt_to_page'))));
  const getFreePages = (cpu: CPU, gfp: number, order: number): void => {
    const phys = buddy.allocPages(order, gfp);
    ret(cpu, phys ? buddy.pageAddress(phys) : 0);
  };
  bind('__get_free_pages', (cpu) => getFreePages(cpu, arg(cpu, 0), arg(cpu, 1)));
  bind('get_zeroed_page', (cpu) => getFreePages(cpu, arg(cpu, 0) | __GFP_ZERO, 0));
  bind('free_pages', (cpu) => {
    const addr = arg(cpu, 0);
    if (addr === 0) return;
    buddy.freePages(directMapPhys(addr, 'free_pages'), arg(cpu, 1), 'free_pages');
  });

  // ---- printk and friends ---------------------------------------------------------------------

  const format = (fmtPtr: number, args: VarArgs): string => vsprintf(fmtString(fmtPtr), args, env);
  bind('printk', (cpu) => ret(cpu, log.emit(format(stackArg(cpu, 0), stackArgs(cpu, 1)))));
  bind('vprintk', (cpu) => ret(cpu, log.emit(format(arg(cpu, 0), new GuestVarArgs(mem, arg(cpu, 1))))));

  /** vsnprintf()'s output rule: at most size − 1 characters and a NUL; returns the full length. */
  const store = (buf: number, size: number, text: string): number => {
    if (size > 0x7fffffff) {
      log.emit('<4>WARNING: vsnprintf: size exceeds INT_MAX\n');
      return 0;
    }
    if (size > 0) {
      const n = Math.min(text.length, size - 1);
      const b = new Uint8Array(n + 1);
      b.set(bytes(text.slice(0, n)));
      mem.write(buf | 0, b);
    }
    return text.length;
  };
  const scn = (size: number, full: number): number => (size === 0 ? 0 : Math.min(full, size - 1));
  bind('snprintf', (cpu) => {
    const size = stackArg(cpu, 1);
    ret(cpu, store(stackArg(cpu, 0), size, format(stackArg(cpu, 2), stackArgs(cpu, 3))));
  });
  bind('vsnprintf', (cpu) => {
    ret(cpu, store(arg(cpu, 0), arg(cpu, 1), format(arg(cpu, 2), new GuestVarArgs(mem, arg(cpu, 3)))));
  });
  bind('scnprintf', (cpu) => {
    const size = stackArg(cpu, 1);
    ret(cpu, scn(size, store(stackArg(cpu, 0), size, format(stackArg(cpu, 2), stackArgs(cpu, 3)))));
  });
  const storeAll = (buf: number, text: string): number => {
    const b = new Uint8Array(text.length + 1);
    b.set(bytes(text));
    mem.write(buf | 0, b);
    return text.length;
  };
  bind('sprintf', (cpu) => ret(cpu, storeAll(stackArg(cpu, 0), format(stackArg(cpu, 1), stackArgs(cpu, 2)))));
  bind('vsprintf', (cpu) => ret(cpu, storeAll(arg(cpu, 0), format(arg(cpu, 1), new GuestVarArgs(mem, arg(cpu, 2))))));

  // ---- kmemcheck annotations ----------------------------------------------------------------------

  // void kmemcheck_mark_initialized(void *addr, unsigned int n): regparm, EAX and EDX.
  bind('kmemcheck_mark_initialized', (cpu) => opts.kmemcheck?.markInitialized(arg(cpu, 0), arg(cpu, 1)));
  // void kmemcheck_enable(void) / kmemcheck_disable(void): run-time on/off (Linux: the kmemcheck sysctl).
  bind('kmemcheck_enable', () => opts.kmemcheck?.setEnabled(true));
  bind('kmemcheck_disable', () => opts.kmemcheck?.setEnabled(false));

  // ---- panic and BUG ----------------------------------------------------------------------------

  bind('panic', (cpu) => {
    const text = format(stackArg(cpu, 0), stackArgs(cpu, 1));
    const message = `Kernel panic - not syncing: ${text.replace(/\n+$/, '')}`;
    log.emit(`<0>${message}\n`);
    cpu.stop({ kind: 'fault', vector: Vec.UD, errorCode: null, eip: returnAddress(cpu) ?? cpu.eip, message: `${message} (called from ${caller(cpu)})` });
  });
  bind('BUG', (cpu) => {
    const message = `kernel BUG at ${caller(cpu)}!`;
    log.emit(`<0>${message}\n`);
    cpu.stop({ kind: 'fault', vector: Vec.UD, errorCode: null, eip: returnAddress(cpu) ?? cpu.eip, message });
  });

  return api;
}
