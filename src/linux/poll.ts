/**
 * poll(2)/select(2) on module files (fs/select.c): a driver's
 * `poll(struct file *, struct poll_table_struct *)` is called as guest code
 * from the system call, once per module file with a `.poll`, and returns
 * its EPOLL* mask; `poll_wait(file, wq_head, pt)` (<linux/poll.h>, inline
 * as Linux's) calls the table's `_qproc`, the kernel's `__pollwait`, which
 * adds a wait_queue_entry for the polling task to the driver's wait queue
 * (add_wait_queue()). When nothing is ready the task sleeps until a
 * `wake_up*()` on one of those queues (or a host file becomes ready, or
 * the timeout), then the call starts over and polls again — do_poll()'s
 * loop. The entries are removed and freed when the call ends
 * (poll_freewait()).
 *
 * The entries' wake function is the kernel's `woken_wake_function`, whose
 * WQ_FLAG_WOKEN flag is how the sleeping call learns of the wake-up
 * (Linux's pollwake() sets `triggered` the same way); their `private` is
 * NULL: the process sleeps in the personality, not in schedule().
 */
import type { KernelApi } from '../kernel/kapi.js';
import { write32, type KernelMemory } from './module-abi.js';
import type { ModuleKernel } from './module-api.js';
import { GuestCallRequest, type SyscallResult } from './kcall.js';
import type { ModuleFile } from './module-file.js';

/** struct poll_table_struct { poll_queue_proc _qproc; __poll_t _key; } (include/linux/poll.h). */
const POLL_TABLE = { _qproc: 0, _key: 4, size: 8 } as const;
/** struct wait_queue_entry { flags, private, func, entry } and struct wait_queue_head { lock, head }. */
const WE = { flags: 0, private: 4, func: 8, entry: 12, size: 20 } as const;
const WQ_HEAD = 4;
const WQ_FLAG_WOKEN = 0x02;

/** One poll(2)/select(2) call's table (struct poll_wqueues): its poll_table and the entries __pollwait added. */
export class PollWait {
  readonly pt: number;
  private readonly entries: number[] = [];

  private constructor(private readonly mk: ModuleKernel) {
    this.pt = mk.kzalloc(POLL_TABLE.size);
  }

  /** poll_initwait(): a table whose _qproc is __pollwait, registered so __pollwait finds it. */
  static create(mk: ModuleKernel): PollWait | null {
    const p = new PollWait(mk);
    if (p.pt === 0) return null;
    const qproc = mk.api.get('__pollwait');
    write32(mk.mem, p.pt + POLL_TABLE._qproc, qproc ?? 0);
    write32(mk.mem, p.pt + POLL_TABLE._key, 0xffffffff);
    tables.set(p.pt, p);
    return p;
  }

  private get mem(): KernelMemory {
    return this.mk.mem;
  }

  /** __pollwait(file, wq_head, pt): an entry for this call on `wqh` (add_wait_queue(): at the head). */
  add(wqh: number): void {
    const e = this.mk.kzalloc(WE.size);
    if (e === 0) return; // Linux sets pwq->error = -ENOMEM and polls on without waiting on this queue
    const m = this.mem;
    write32(m, e + WE.flags, 0);
    write32(m, e + WE.private, 0);
    write32(m, e + WE.func, this.mk.api.get('woken_wake_function') ?? 0);
    const head = (wqh + WQ_HEAD) >>> 0, node = (e + WE.entry) >>> 0;
    const next = m.read32(head) >>> 0;
    write32(m, next + 4, node);
    write32(m, node, next);
    write32(m, node + 4, head);
    write32(m, head, node);
    this.entries.push(e);
  }

  /** A wake-up reached one of the queues this call waits on. */
  woken(): boolean {
    return this.entries.some((e) => (this.mem.read32(e + WE.flags) & WQ_FLAG_WOKEN) !== 0);
  }

  /** poll_freewait(): every entry off its queue (remove_wait_queue()) and freed, then the table. */
  free(): void {
    const m = this.mem;
    for (const e of this.entries.splice(0)) {
      const node = e + WE.entry;
      const next = m.read32(node) >>> 0, prev = m.read32(node + 4) >>> 0;
      write32(m, next + 4, prev);
      write32(m, prev, next);
      this.mk.kfree(e);
    }
    tables.delete(this.pt);
    this.mk.kfree(this.pt);
  }
}

const tables = new Map<number, PollWait>();

/** Bind __pollwait, the _qproc of every poll table the kernel makes (called once per kernel API). */
export function installPollWait(api: KernelApi): void {
  api.bind('__pollwait', (cpu) => {
    // void __pollwait(struct file *filp, wait_queue_head_t *wait_address, poll_table *p)
    const wqh = cpu.regs[2]! >>> 0, pt = cpu.regs[1]! >>> 0;
    if (wqh !== 0) tables.get(pt)?.add(wqh);
  });
}

/** EPOLL* bits as poll(2)'s revents (the same values on i386). */
export const EPOLLIN = 0x1, EPOLLOUT = 0x4, EPOLLERR = 0x8, EPOLLHUP = 0x10, EPOLLRDNORM = 0x40, EPOLLWRNORM = 0x100;

/**
 * vfs_poll() of each module file with a `.poll` in turn (guest calls), then
 * `done(masks)` with the drivers' masks by descriptor. `table` is null for
 * a call that will not wait (a zero timeout: Linux passes a NULL table).
 */
export function pollModuleFiles(files: [number, ModuleFile][], table: PollWait | null, done: (masks: Map<number, number>) => SyscallResult): SyscallResult {
  const masks = new Map<number, number>();
  const step = (i: number): SyscallResult => {
    if (i >= files.length) return done(masks);
    const [fd, f] = files[i]!;
    return new GuestCallRequest(f.pollOp, [f.filp, table?.pt ?? 0], (eax) => {
      masks.set(fd, eax & 0xffff);
      return step(i + 1);
    });
  };
  return step(0);
}
