/**
 * Where the simulated kernel puts things. The numbers follow i386 Linux
 * where a user could notice them: the 3G/1G split (PAGE_OFFSET =
 * 0xC0000000, kernel direct map of physical memory above it), the GDT
 * selectors of arch/x86/include/asm/segment.h, the int $0x80 vector.
 */
export const PAGE_SIZE = 4096;
export const PAGE_OFFSET = 0xc0000000;
/** Top of the user address space (TASK_SIZE) and of the initial stack. */
export const TASK_SIZE = 0xc0000000;
/** The stack may grow down this far before a fault is a segfault (RLIMIT_STACK). */
export const STACK_LIMIT = 8 * 1024 * 1024;
/** Top of the anonymous mmap area, which grows down (legacy i386 layout without randomization). */
export const MMAP_TOP = 0xb7fff000;

/** GDT entries as in Linux i386: GDT_ENTRY_KERNEL_CS = 12, ... (segment.h). */
export const GDT_ENTRIES = 32;
export const KERNEL_CS = 12 * 8; // 0x60
export const KERNEL_DS = 13 * 8; // 0x68
export const USER_CS = 14 * 8 + 3; // 0x73
export const USER_DS = 15 * 8 + 3; // 0x7b
export const TSS_SEL = 16 * 8; // 0x80
/** Ring-1 kernel selectors (used by the CPL-1 layout). */
export const KERNEL1_CS = 17 * 8 + 1;
export const KERNEL1_DS = 18 * 8 + 1;

export const SYSCALL_VECTOR = 0x80;

/**
 * Physical layout of the kernel's own structures (low memory, below the
 * page allocator's pool): one page each unless noted.
 */
export const PHYS_GDT = 0x1000;
export const PHYS_IDT = 0x2000;
export const PHYS_TSS = 0x3000; // TSS plus I/O bitmap: 0x3000–0x5FFF
export const PHYS_PGDIR = 0x6000;
/**
 * The kernel stack's guard page: not present in the direct map, so a stack
 * that overflows faults there instead of running over the structures below
 * it (Linux's CONFIG_VMAP_STACK guard pages; handle_stack_overflow()).
 */
export const PHYS_KSTACK_GUARD = 0x7000;
/** Kernel stack (ring 0), 16 KiB below PHYS_KSTACK_TOP, above its guard page. */
export const PHYS_KSTACK_TOP = 0xc000;
export const KERNEL_STACK_SIZE = 16 * 1024;
/** Native handler and routine entry points live in this page (kernel virtual PAGE_OFFSET + it). */
export const PHYS_NATIVE = 0xc000;
/** The page table that maps the direct map's first 4 MiB in 4 KiB pages (so the guard page can be unmapped). */
export const PHYS_LOW_PT = 0xd000;
/**
 * Kernel text: the entries of the kernel's exported functions (real i386
 * code each native routine is reached through, so kprobes can write int3
 * into it: Kernel.bindFunction), then kprobes' out-of-line instruction slots
 * (Linux's insn pages, arch/x86/kernel/kprobes/core.c): 128 slots of 16
 * bytes, the first half of the page.
 */
export const PHYS_KTEXT = 0xe000;
export const PHYS_KPROBE_INSNS = 0xf000;
/**
 * Kernel static data (Linux's .data and per-CPU sections; the second half
 * of the kprobe slots' page): the per-CPU
 * variables (current_task, __preempt_count) and init_task, the first
 * task's task_struct — not from the slab, so booting allocates nothing.
 */
export const PHYS_KDATA = 0xf800;
/** Everything from here up belongs to the page allocator. */
export const PHYS_POOL_START = 0x100000;

export function kva(phys: number): number {
  return (PAGE_OFFSET + phys) | 0;
}
export function kpa(virt: number): number {
  return (virt - PAGE_OFFSET) >>> 0;
}
