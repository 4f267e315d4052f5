/**
 * An open file whose operations are a module's: a character device's
 * struct file_operations, or a /proc entry's struct proc_ops (or the
 * file_operations older modules give proc_create()).
 *
 * Opening builds the struct file in kernel memory (kzalloc'd, as Linux's
 * alloc_empty_file()) pointing at the node's struct inode, takes a
 * reference on the owning module (fops_get()/try_module_get()) and calls
 * the driver's open(inode, file). read(), write(), unlocked_ioctl() and
 * llseek() are guest calls made from the system call (src/linux/kcall.ts);
 * the last close queues release(inode, file) as task work before the
 * return to user mode (Linux's deferred fput()), then frees the struct file
 * and drops the module reference.
 */
import { TASK_SIZE } from '../kernel/layout.js';
import { EBADF, EFAULT, EINVAL, ENOTTY, ESPIPE, LinuxError } from './errno.js';
import { OpenFile, O_ACCMODE, O_RDONLY, O_WRONLY, S_IFCHR, syntheticStat, type PollState, type Stat } from './fs/file.js';
import { GuestCallRequest, type SyscallResult } from './kcall.js';
import { FILE, FILE_OPERATIONS, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE, FMODE_READ, FMODE_WRITE, PROC_OPS, write32, type KernelMemory } from './module-abi.js';

/** The driver functions a file's operations table names (0: absent). */
export interface DriverOps {
  open: number;
  read: number;
  write: number;
  llseek: number;
  ioctl: number;
  release: number;
  /** poll() and mmap() (file_operations only: proc_poll/proc_mmap are not read). */
  poll: number;
  mmap: number;
  /** The module that owns them (struct module *, 0 for none). */
  owner: number;
}

/** Read a struct file_operations (kind 'fops') or struct proc_ops ('proc') at `addr`. */
export function readDriverOps(mem: KernelMemory, addr: number, kind: 'fops' | 'proc'): DriverOps {
  const r = (off: number): number => (addr === 0 ? 0 : mem.read32(addr + off) >>> 0);
  if (kind === 'proc') {
    return {
      open: r(PROC_OPS.proc_open), read: r(PROC_OPS.proc_read), write: r(PROC_OPS.proc_write), llseek: r(PROC_OPS.proc_lseek),
      ioctl: r(PROC_OPS.proc_ioctl), release: r(PROC_OPS.proc_release), poll: 0, mmap: 0, owner: 0,
    };
  }
  return {
    open: r(FILE_OPERATIONS.open), read: r(FILE_OPERATIONS.read), write: r(FILE_OPERATIONS.write), llseek: r(FILE_OPERATIONS.llseek),
    ioctl: r(FILE_OPERATIONS.unlocked_ioctl), release: r(FILE_OPERATIONS.release), poll: r(FILE_OPERATIONS.poll), mmap: r(FILE_OPERATIONS.mmap),
    owner: r(FILE_OPERATIONS.owner),
  };
}

/** What a module file needs from the kernel around it. */
export interface ModuleFileHost {
  mem: KernelMemory;
  kzalloc(size: number): number;
  kfree(addr: number): void;
  /** try_module_get()/module_put() on a struct module * (0: built in, nothing to count). */
  moduleGet(owner: number): boolean;
  modulePut(owner: number): void;
  /** Queue a guest call to run before the next return to user mode (release()). */
  queueTaskWork(req: GuestCallRequest): void;
}

/** What the node being opened is: its inode, its stat, and the table to use. */
export interface ModuleNode {
  inode: number;
  ino: number;
  mode: number;
  rdev: number;
  /** The operations' guest address and layout. */
  ops: number;
  kind: 'fops' | 'proc';
  /** Called after the struct file exists, before open() (misc_open() sets private_data). */
  prepare?(filp: number): void;
}

export class ModuleFile extends OpenFile {
  readonly filp: number;
  private ops: DriverOps;

  private constructor(private readonly host: ModuleFileHost, private readonly node: ModuleNode, flags: number, path: string, filp: number) {
    super(flags, path);
    this.filp = filp;
    this.ops = readDriverOps(host.mem, node.ops, node.kind);
  }

  /**
   * open(2) of a module's node: the struct file, then the driver's open();
   * `install` puts the file in the descriptor table once open() succeeded.
   */
  static open(host: ModuleFileHost, node: ModuleNode, flags: number, path: string, install: (f: ModuleFile) => number): SyscallResult {
    const ops = readDriverOps(host.mem, node.ops, node.kind);
    if (!host.moduleGet(ops.owner)) throw new LinuxError(19 /* ENODEV: the module is going away */);
    const filp = host.kzalloc(FILE.size);
    if (filp === 0) {
      host.modulePut(ops.owner);
      throw new LinuxError(12 /* ENOMEM */);
    }
    const m = host.mem;
    const acc = flags & O_ACCMODE;
    let fmode = FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
    if (acc !== O_WRONLY) fmode |= FMODE_READ;
    if (acc !== O_RDONLY) fmode |= FMODE_WRITE;
    write32(m, filp + FILE.f_inode, node.inode);
    write32(m, filp + FILE.f_op, node.ops);
    write32(m, filp + FILE.f_count, 1);
    write32(m, filp + FILE.f_flags, flags);
    write32(m, filp + FILE.f_mode, fmode);
    node.prepare?.(filp);
    const f = new ModuleFile(host, node, flags, path, filp);
    const done = (): SyscallResult => {
      try {
        return install(f);
      } catch (e) {
        f.unref();
        throw e;
      }
    };
    if (ops.open === 0) return done();
    return new GuestCallRequest(ops.open, [node.inode, filp], (eax) => {
      if ((eax | 0) < 0) {
        f.free();
        return eax | 0;
      }
      return done();
    });
  }

  stat(): Stat {
    const type = this.node.mode & 0o170000;
    return syntheticStat(this.node.mode, this.node.ino, { dev: type === S_IFCHR ? 5 : 4, rdev: this.node.rdev });
  }

  private fmode(): number {
    return this.host.mem.read32(this.filp + FILE.f_mode) >>> 0;
  }

  /** read(2)/pread64(2): the driver's read(file, buf, count, ppos); `at` for pread. */
  readUser(buf: number, count: number, at?: number): SyscallResult {
    return this.transfer(this.ops.read, FMODE_READ, FMODE_PREAD, buf, count, at);
  }

  /** write(2)/pwrite64(2): the driver's write(file, buf, count, ppos). */
  writeUser(buf: number, count: number, at?: number): SyscallResult {
    return this.transfer(this.ops.write, FMODE_WRITE, FMODE_PWRITE, buf, count, at);
  }

  /**
   * readv(2)/writev(2) (do_loop_readv_writev(): the driver has read/write,
   * not read_iter/write_iter): read() or write() for each vector in turn,
   * stopping at a short transfer or an error; the bytes so far, or the
   * first call's error.
   */
  readvUser(vecs: readonly [number, number][]): SyscallResult {
    return this.loopVectors(vecs, (buf, len) => this.readUser(buf, len));
  }

  writevUser(vecs: readonly [number, number][]): SyscallResult {
    return this.loopVectors(vecs, (buf, len) => this.writeUser(buf, len));
  }

  private loopVectors(vecs: readonly [number, number][], one: (buf: number, len: number) => SyscallResult): SyscallResult {
    const step = (i: number, total: number): SyscallResult => {
      while (i < vecs.length && vecs[i]![1] === 0) i++;
      if (i >= vecs.length) return total;
      const [buf, len] = vecs[i]!;
      let req: SyscallResult;
      try {
        req = one(buf, len);
      } catch (e) {
        if (total > 0) return total;
        throw e;
      }
      if (!(req instanceof GuestCallRequest)) return req;
      return new GuestCallRequest(req.fn, req.args, (eax, edx) => {
        const n = req.then(eax, edx);
        if (typeof n !== 'number') return n;
        if (n < 0) return total > 0 ? total : n;
        return n < len ? total + n : step(i + 1, total + n);
      });
    };
    return step(0, 0);
  }

  /** The driver's poll() (0: none — always ready, DEFAULT_POLLMASK). */
  get pollOp(): number {
    return this.ops.poll;
  }

  /** The driver's mmap() (0: none — mmap(2) is ENODEV). */
  get mmapOp(): number {
    return this.ops.mmap;
  }

  /** vfs_read()/vfs_write(): mode checks, access_ok() on the buffer, then the driver. */
  private transfer(fn: number, need: number, positional: number, buf: number, count: number, at?: number): SyscallResult {
    const mode = this.fmode();
    if (!(mode & need)) throw new LinuxError(EBADF);
    if (fn === 0) throw new LinuxError(EINVAL);
    if (at !== undefined && !(mode & positional)) throw new LinuxError(ESPIPE);
    const n = Math.min(count >>> 0, 0x7ffff000); // MAX_RW_COUNT
    if ((buf >>> 0) + n > TASK_SIZE) throw new LinuxError(EFAULT);
    let ppos = this.filp + FILE.f_pos;
    if (at !== undefined) {
      ppos = this.filp + FILE.f_ppos;
      write32(this.host.mem, ppos, at >>> 0);
      write32(this.host.mem, ppos + 4, Math.floor(at / 2 ** 32));
    }
    return new GuestCallRequest(fn, [this.filp, buf, n, ppos], (eax) => eax | 0);
  }

  /** ioctl(2): unlocked_ioctl(file, cmd, arg); -ENOTTY without one (and for -ENOIOCTLCMD, as vfs_ioctl()). */
  ioctlUser(cmd: number, arg: number): SyscallResult {
    if (this.ops.ioctl === 0) throw new LinuxError(ENOTTY);
    return new GuestCallRequest(this.ops.ioctl, [this.filp, cmd, arg], (eax) => ((eax | 0) === -515 ? -ENOTTY : eax | 0));
  }

  /** lseek/_llseek: the driver's llseek(file, offset, whence) (a 64-bit result in EDX:EAX); -ESPIPE without one. */
  llseekUser(offset: number, whence: number, done: (pos: number) => SyscallResult): SyscallResult {
    if (!(this.fmode() & FMODE_LSEEK) || this.ops.llseek === 0) throw new LinuxError(ESPIPE);
    const lo = Number(BigInt.asUintN(32, BigInt(offset)));
    const hi = Number(BigInt.asUintN(32, BigInt(offset) >> 32n));
    return new GuestCallRequest(this.ops.llseek, [this.filp, lo, hi, whence], (eax, edx) => {
      const pos = Number(BigInt.asIntN(64, (BigInt(edx >>> 0) << 32n) | BigInt(eax >>> 0)));
      return pos < 0 ? pos : done(pos);
    });
  }

  override read(): Uint8Array {
    throw new LinuxError(EINVAL); // reads go through readUser() from the system call
  }

  override poll(): PollState {
    // No poll() support: a module file is always ready, as for a driver without a poll method (DEFAULT_POLLMASK).
    return { readable: true, writable: true, hangup: false };
  }

  /** __fput(): the driver's release() as task work, then the struct file goes. */
  protected override release(): void {
    const rel = this.ops.release;
    if (rel === 0) {
      this.free();
      return;
    }
    this.host.queueTaskWork(new GuestCallRequest(rel, [this.node.inode, this.filp], () => {
      this.free();
      return 0;
    }));
  }

  private freed = false;
  private free(): void {
    if (this.freed) return;
    this.freed = true;
    this.host.kfree(this.filp);
    this.host.modulePut(this.ops.owner);
  }
}
