/**
 * page_owner (mm/page_owner.c): with the boot parameter `page_owner=on`
 * the page allocator records, for every block it hands out through
 * alloc_pages() and friends, the order, the gfp mask, the allocating
 * task's pid, tgid and comm, a timestamp and the allocation stack — and
 * the time it was freed. The recording is done by the kernel functions
 * Linux has, each a probe-able function in kernel text:
 *
 * | function | called |
 * | --- | --- |
 * | `__set_page_owner(struct page *page, unsigned short order, gfp_t gfp)` | after each page allocation (post_alloc_hook()) |
 * | `__reset_page_owner(struct page *page, unsigned short order)` | at each free (free_pages_prepare()) |
 * | `__split_page_owner`, `__copy_page_owner`, `__set_page_owner_migrate_reason`, `__dump_page_owner` | split_page(), migration, dump_page() (kmemsim's allocator never splits or migrates) |
 * | `read_page_owner` | reading /sys/kernel/debug/page_owner |
 * | `init_page_owner`, `need_page_owner` | at boot (before any probe can be attached) |
 *
 * `pageOwnerText()` is /sys/kernel/debug/page_owner in Linux's format
 * (print_page_owner()):
 *
 *     Page allocated via order 0, mask 0xd0(GFP_KERNEL), pid 1, tgid 1 (insmod), ts 123 ns, free_ts 0 ns
 *     PFN 4096 type Unmovable Block 4 type Unmovable Flags 0x0()
 *      init_module+0x1c/0x60 [page_order]
 *     (blank line)
 *
 * Slab pages are not recorded (the slab takes its pages inside the
 * allocator natives, where no guest call can be made), nor are pages the
 * kernel allocates for itself (stacks, page tables).
 */
import type { CPU } from '../../cpu/cpu.js';
import type { KapiContext } from '../kapi.js';
import { kallsymsOf } from '../kallsyms.js';
import { hostPushed } from '../call.js';
import type { SymbolHit } from '../printk.js';

/** One allocated block's owner (struct page_owner). */
export interface PageOwnerRecord {
  pfn: number;
  order: number;
  gfp: number;
  pid: number;
  tgid: number;
  comm: string;
  tsNs: number;
  freeTsNs: number;
  /** Return addresses, innermost first. */
  stack: number[];
  freed: boolean;
}

const EINVAL = 22, ENOMEM = 12, EFAULT = 14;
const GFP_KERNEL = 0xd0;

/** Linux's pageblock_order on i386 without huge pages: MAX_ORDER - 1 = 10. */
const PAGEBLOCK_ORDER = 10;

/** kmemsim's gfp bits (include/kmemsim/kernel.h, the 2.6.2x values) as %pGg names them. */
const GFP_NAMES: [number, string][] = [
  [0xd0, 'GFP_KERNEL'], [0x20, 'GFP_ATOMIC'], [0x10, '__GFP_WAIT'], [0x20, '__GFP_HIGH'], [0x40, '__GFP_IO'], [0x80, '__GFP_FS'],
  [0x200, '__GFP_NOWARN'], [0x4000, '__GFP_COMP'], [0x8000, '__GFP_ZERO'], [0x200000, '__GFP_NOTRACK'],
];

/** %pGg: the flags by name, the composite masks first. */
export function gfpNames(gfp: number): string {
  const parts: string[] = [];
  let left = gfp >>> 0;
  for (const [bits, name] of GFP_NAMES) {
    if (bits !== 0 && (left & bits) === bits) {
      parts.push(name);
      left &= ~bits;
    }
  }
  if (left) parts.push(`0x${left.toString(16)}`);
  return parts.join('|');
}

/** The boot parameter `page_owner=on` (early_page_owner_param()) is among `params`. */
export function pageOwnerEnabled(params: readonly string[]): boolean {
  return params.some((p) => /^page_owner=(on|1|y|yes)$/.test(p));
}

export class PageOwner {
  /** Live and freed records by first pfn (a freed block keeps its last owner, as Linux's page_ext does). */
  readonly records = new Map<number, PageOwnerRecord>();

  constructor(readonly enabled: boolean) {}

  set(r: PageOwnerRecord): void {
    this.records.set(r.pfn, r);
  }

  reset(pfn: number, freeTsNs: number): void {
    const r = this.records.get(pfn);
    if (r) {
      r.freed = true;
      r.freeTsNs = freeTsNs;
    }
  }

  /** The allocated blocks (freed ones are skipped, as Linux skips free pages), by pfn. */
  live(): PageOwnerRecord[] {
    return [...this.records.values()].filter((r) => !r.freed).sort((a, b) => a.pfn - b.pfn);
  }

  /** print_page_owner(): one block's record. */
  recordText(r: PageOwnerRecord, symbolize: (addr: number) => SymbolHit | null, moduleOf: (addr: number) => string | null): string {
    let out = `Page allocated via order ${r.order}, mask 0x${(r.gfp >>> 0).toString(16)}(${gfpNames(r.gfp)}), pid ${r.pid}, tgid ${r.tgid} (${r.comm}), ts ${Math.round(r.tsNs)} ns, free_ts ${Math.round(r.freeTsNs)} ns\n`;
    out += `PFN ${r.pfn} type Unmovable Block ${r.pfn >> PAGEBLOCK_ORDER} type Unmovable Flags 0x0()\n`;
    for (const a of r.stack) {
      const s = symbolize(a);
      const mod = moduleOf(a);
      out += s ? ` ${s.name}+0x${s.offset.toString(16)}/0x${s.size.toString(16)}${mod ? ` [${mod}]` : ''}\n` : ` 0x${(a >>> 0).toString(16)}\n`;
    }
    return out + '\n';
  }

  /** /sys/kernel/debug/page_owner read to the end: every allocated block's record, by pfn. */
  text(symbolize: (addr: number) => SymbolHit | null, moduleOf: (addr: number) => string | null): string {
    return this.live().map((r) => this.recordText(r, symbolize, moduleOf)).join('');
  }
}

/** What the page natives call (the tail calls into the guest-visible page_owner functions). */
export interface PageOwnerHooks {
  readonly owner: PageOwner;
  /** alloc_pages() and friends: return `result` to the caller after __set_page_owner(page, order, gfp) ran. */
  afterAlloc(cpu: CPU, result: number, phys: number, order: number, gfp: number, via: string): void;
  /** __free_pages()/free_pages(): __reset_page_owner(page, order) runs on the way back to the caller. */
  afterFree(cpu: CPU, phys: number, order: number): void;
}

/**
 * Bind the page_owner functions and return the allocator's hooks. Enabled
 * by the boot parameter `page_owner=on` (KernelApiOptions.kernelParams);
 * the functions exist either way, as in a kernel built with
 * CONFIG_PAGE_OWNER.
 */
export function installPageOwner(ctx: KapiContext, params: readonly string[]): PageOwnerHooks {
  const { kernel, api, mm, bind, arg, ret, log, mem } = ctx;
  const { buddy } = mm;
  const on = pageOwnerEnabled(params);
  const owner = new PageOwner(on);
  // pop %eax; ret — where __set_page_owner returns, with the allocation's result on the stack.
  const postAllocHook = kernel.reserveText(Uint8Array.of(0x58, 0xc3), 'post_alloc_hook');
  const pfnOf = (page: number, fn: string): number => buddy.pageFromStruct(page, fn) / 4096;
  const symbolize = (a: number): SymbolHit | null => api.symbolize(a);
  const moduleOf = (a: number): string | null => {
    for (const m of kallsymsOf(kernel).loadedModules()) if (m.object.contains(a)) return m.name.replace(/\.(o|ko|c)$/, '');
    return null;
  };

  const setOwner = bind('__set_page_owner', (cpu) => {
    const sched = api.sched;
    const t = sched.current;
    const esp = cpu.regs[4]! >>> 0;
    // The frames: post_alloc_hook, the allocating function, its caller.
    const stack = [postAllocHook, mem.read32(esp + 8) >>> 0];
    if (pendingVia) stack.splice(1, 0, pendingVia);
    pendingVia = 0;
    owner.set({
      pfn: pfnOf(arg(cpu, 0), '__set_page_owner'), order: arg(cpu, 1) & 0xffff, gfp: arg(cpu, 2), pid: t.pid, tgid: t.pid, comm: t.comm,
      tsNs: sched.nowNs(), freeTsNs: 0, stack, freed: false,
    });
  });
  const resetOwner = bind('__reset_page_owner', (cpu) => owner.reset(pfnOf(arg(cpu, 0), '__reset_page_owner'), api.sched.nowNs()));
  bind('__split_page_owner', (cpu) => {
    const pfn = pfnOf(arg(cpu, 0), '__split_page_owner');
    const r = owner.records.get(pfn);
    if (!r) return;
    const nr = arg(cpu, 1);
    for (let i = 0; i < nr; i++) owner.set({ ...r, pfn: pfn + i, order: 0, stack: [...r.stack] });
  });
  bind('__copy_page_owner', (cpu) => {
    const from = owner.records.get(pfnOf(arg(cpu, 0), '__copy_page_owner'));
    if (from) owner.set({ ...from, pfn: pfnOf(arg(cpu, 1), '__copy_page_owner'), stack: [...from.stack] });
  });
  bind('__set_page_owner_migrate_reason', () => {});
  bind('__dump_page_owner', (cpu) => {
    const r = owner.records.get(pfnOf(arg(cpu, 0), '__dump_page_owner'));
    if (!r) {
      log.emit('<6>page_owner info is not present (never set?)\n');
      return;
    }
    log.emit(`<6>page last allocated via order ${r.order}, migratetype Unmovable, gfp_mask 0x${(r.gfp >>> 0).toString(16)}(${gfpNames(r.gfp)}), pid ${r.pid}, tgid ${r.tgid} (${r.comm}), ts ${Math.round(r.tsNs)}, free_ts ${Math.round(r.freeTsNs)}\n`);
  });
  bind('need_page_owner', (cpu) => ret(cpu, on ? 1 : 0));
  bind('init_page_owner', () => {});
  /**
   * ssize_t read_page_owner(struct file *file, char __user *buf, size_t count, loff_t *ppos):
   * as Linux's, one block's record per call — the first allocated block at
   * pfn >= *ppos (min_low_pfn is 0), *ppos then past it; 0 at the end;
   * -EINVAL without page_owner=on; -ENOMEM when the record does not fit in
   * `count`. The record is built in a kmalloc'd buffer and copied with
   * copy_to_user() (a guest call: -EFAULT for a bad buffer), then freed.
   */
  const copied: { kbuf: number; len: number }[] = [];
  const readDone = bind('read_page_owner_copied', (cpu) => {
    const c = copied.pop()!;
    const notCopied = cpu.regs[0]! >>> 0;
    mm.slab.kfree(c.kbuf);
    ret(cpu, notCopied ? -EFAULT : c.len);
  }, api.internal);
  bind('read_page_owner', (cpu) => {
    if (!on) return ret(cpu, -EINVAL);
    const buf = arg(cpu, 1), count = arg(cpu, 2) >>> 0, ppos = mem.read32(cpu.regs[4]! + 4) >>> 0;
    const pos = mem.read32(ppos) >>> 0;
    const r = owner.live().find((x) => x.pfn >= pos);
    if (!r) return ret(cpu, 0);
    const text = Buffer.from(owner.recordText(r, symbolize, moduleOf), 'latin1');
    if (text.length >= count) return ret(cpu, -ENOMEM);
    const kbuf = mm.slab.kmalloc(text.length, GFP_KERNEL);
    if (!kbuf) return ret(cpu, -ENOMEM);
    mem.write(kbuf, new Uint8Array(text));
    const b = new Uint8Array(8);
    new DataView(b.buffer).setUint32(0, r.pfn + 1, true);
    mem.write(ppos, b);
    const copyToUser = api.get('copy_to_user');
    if (copyToUser === undefined) {
      // A kernel without user space (a module run on its own): no user buffer is valid.
      mm.slab.kfree(kbuf);
      return ret(cpu, -EFAULT);
    }
    copied.push({ kbuf, len: text.length });
    cpu.push32(readDone); // copy_to_user() returns to read_page_owner_copied, which returns to our caller
    cpu.push32(copyToUser);
    cpu.regs[0] = buf | 0;
    cpu.regs[2] = kbuf | 0;
    cpu.regs[1] = text.length;
  });

  let pendingVia = 0;
  return {
    owner,
    afterAlloc(cpu, result, phys, order, gfp, via) {
      ret(cpu, result);
      if (!on || !phys) return;
      pendingVia = api.get(via) ?? 0;
      const top = cpu.regs[4]!;
      cpu.push32(result);
      cpu.push32(postAllocHook);
      cpu.push32(setOwner); // the native's RET goes to __set_page_owner, which returns to post_alloc_hook
      hostPushed(kernel, top); // post_alloc_hook pops the result: initialized stack words for the checkers
      cpu.regs[0] = buddy.pageStruct(phys) | 0;
      cpu.regs[2] = order | 0;
      cpu.regs[1] = gfp | 0;
    },
    afterFree(cpu, phys, order) {
      if (!on) return;
      cpu.push32(resetOwner);
      cpu.regs[0] = buddy.pageStruct(phys) | 0;
      cpu.regs[2] = order | 0;
    },
  };
}
