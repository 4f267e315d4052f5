/**
 * Kernel modules in the Linux personality: the kernel API (installed when
 * the first module comes: `--module` or init_module(2)), the system calls
 * init_module (128), finit_module (350) and delete_module (129), modules
 * preloaded before the first process (`kmemsim run --module m.ko`), and the
 * nodes modules make: /dev entries for their character and misc devices,
 * their /proc entries, /proc/modules and /proc/devices.
 *
 * A module's code runs at CPL 0 on the kernel stack of the process whose
 * system call reached it (src/linux/kcall.ts), with that process's address
 * space current.
 */
import type { Kernel } from '../kernel/kernel.js';
import type { StopReason } from '../cpu/stop.js';
import { PAGE_OFFSET } from '../kernel/layout.js';
import { installKernelApi, type KernelApi, type KernelApiOptions } from '../kernel/kapi.js';
import { callGuest } from '../kernel/call.js';
import { ModuleLoadError } from '../kernel/module.js';
import { posix } from 'node:path';
import { EBADF, EEXIST, EFAULT, EINVAL, ENOENT, ENXIO, EPERM, LinuxError } from './errno.js';
import { S_IFCHR, S_IFREG } from './fs/file.js';
import type { VNode } from './fs/vnode.js';
import { GuestCallRequest, type SyscallResult } from './kcall.js';
import { ModuleLoader, type KernelModule } from './lkm.js';
import { ProcessTasks } from './process-tasks.js';
import { moduleKernel, type ModuleKernel } from './module-api.js';
import { ModuleFile, type ModuleFileHost, type ModuleNode } from './module-file.js';
import type { ProcEntry } from './proc-entries.js';
import type { LinuxSystem, SyscallTable } from './linux.js';

/** The kernel log buffer's size (CONFIG_LOG_BUF_SHIFT=17). */
const LOG_BUF_LEN = 1 << 17;

/** Pages the module kernel's buddy allocator takes from the machine's RAM (at most; a quarter when RAM is small). */
const MODULE_HEAP_PAGES = 4096;

/** A module given to `kmemsim run --module FILE[:ARGS]`. */
export interface PreloadModule {
  name: string;
  bytes: Uint8Array;
  /** Parameters, "name=value ..." as insmod takes them. */
  args?: string;
  /** gcc -fstack-usage output when it was built from C for --stack ftrace (its frame sizes). */
  stackUsage?: string;
}

/** The name the loader gives a preloaded module without a struct module of its own (and kbuild's KBUILD_MODNAME). */
export function preloadName(m: PreloadModule): string {
  return m.name.replace(/\.(ko|o|c)$/, '').replace(/-/g, '_');
}

/** A preloaded module that could not be loaded (126) or whose init failed (1) or stopped the machine (124/125). */
export class ModulePreloadError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
    this.name = 'ModulePreloadError';
  }
}

/**
 * A checker's part in the module kernel (`kmemsim run --kmemcheck --module`):
 * the kernel API's options (slab hooks, the checked accessor), and the API
 * and loader once installed (to symbolize its reports).
 */
export interface KernelApiHook {
  options(k: Kernel): Partial<KernelApiOptions>;
  /** More natives bound into the API before the loader takes its export table (the watch framework, MMIO); `sys`: the system the modules run in. */
  exports?(api: KernelApi, sys: LinuxSystem): void;
  installed?(api: KernelApi, loader: ModuleLoader): void;
}

export class LinuxModules {
  private state: { api: KernelApi; mk: ModuleKernel; loader: ModuleLoader } | null = null;
  /** Kernel boot parameters (`--kernel-param`), given to the kernel API when it is installed. */
  kernelParams: readonly string[] = [];

  constructor(private readonly sys: LinuxSystem, private readonly k: Kernel, private readonly console: (text: string) => void, private readonly hook?: KernelApiHook) {}

  /** The kernel API and module loader, installed on first use. */
  ensure(): { api: KernelApi; mk: ModuleKernel; loader: ModuleLoader } {
    if (this.state) return this.state;
    const k = this.k;
    const pages = Math.min(MODULE_HEAP_PAGES, Math.floor(k.frames.available() / 4));
    const api = installKernelApi(k, { ...this.hook?.options(k), console: (text, level, cont) => this.printk(text, level, cont), pages, kernelParams: this.kernelParams });
    const mk = moduleKernel(k)!;
    const sys = this.sys;
    mk.env = {
      // A kernel thread has no user address space (mm NULL): its copy_to_user() and the like fail with EFAULT.
      get ua() {
        return sys.processTasks?.kernelThreadRunning() ? null : sys.ua;
      },
      clock: sys.clock,
      random: sys.random,
      pid: () => sys.processTasks?.kernelThreadRunning()?.pid ?? sys.task?.pid ?? 0,
      queueTaskWork: (req) => sys.taskWork.push(req),
    };
    // The scheduler's first task is the process whose system call runs module code (src/kernel/sched).
    api.sched.userContext = {
      pid: () => sys.task?.pid ?? 0,
      comm: () => sys.task?.comm || 'swapper',
      allocPid: () => sys.allocPid(),
    };
    // From now on processes are tasks of that scheduler too (one task list).
    sys.processTasks = new ProcessTasks(sys, api.sched);
    this.hook?.exports?.(api, sys);
    this.state = { api, mk, loader: new ModuleLoader(k, api) };
    this.hook?.installed?.(api, this.state.loader);
    return this.state;
  }

  /** The kernel log buffer (syslog(2), dmesg): each line with its "<level>" prefix, as /proc/kmsg gives them. */
  private readonly logBuffer: string[] = [];
  private logBytes = 0;
  private atLineStart = true;

  private printk(text: string, level: number, continuation: boolean): void {
    this.console(text);
    let t = text;
    if (!this.atLineStart && !continuation) t = '\n' + t;
    const parts = t.split('\n');
    const out = parts.map((p, i) => (i === 0 && !this.atLineStart) || (i === parts.length - 1 && p === '') ? p : `<${level}>${p}`).join('\n');
    this.atLineStart = t.endsWith('\n');
    this.logBuffer.push(out);
    this.logBytes += out.length;
    while (this.logBytes > LOG_BUF_LEN && this.logBuffer.length > 1) this.logBytes -= this.logBuffer.shift()!.length;
  }

  /** syslog(2) (103): READ_ALL (3), READ_CLEAR (4), CLEAR (5), SIZE_UNREAD (9), SIZE_BUFFER (10); the console levels (6-8) are accepted. */
  syslog(type: number, buf: number, len: number): number {
    const all = this.logBuffer.join('');
    switch (type) {
      case 0: case 1: case 6: case 7: case 8: return 0; // close, open, console off/on/level
      case 3: case 4: {
        if ((len | 0) < 0) throw new LinuxError(EINVAL);
        const bytes = Buffer.from(all.slice(Math.max(0, all.length - (len | 0))), 'latin1');
        if (bytes.length) this.sys.ua.write(buf, bytes);
        if (type === 4) this.clearLog();
        return bytes.length;
      }
      case 5: this.clearLog(); return 0;
      case 9: return all.length;
      case 10: return LOG_BUF_LEN;
      default: throw new LinuxError(EINVAL);
    }
  }

  private clearLog(): void {
    this.logBuffer.length = 0;
    this.logBytes = 0;
  }

  /** Is any module support installed (so /dev and /proc have module nodes)? */
  get active(): ModuleKernel | null {
    return this.state?.mk ?? null;
  }

  /** Load and initialize modules before the first process runs (the CPU is in the kernel, at CPL 0). */
  preload(mods: readonly PreloadModule[], budget: number): void {
    for (const m of mods) {
      const { loader } = this.ensure();
      let rec: KernelModule;
      try {
        rec = loader.load(m.bytes, m.args ?? '', preloadName(m));
      } catch (e) {
        if (e instanceof LinuxError) throw new ModulePreloadError(`insmod ${m.name}: cannot load module: ${errnoText(e.errno)} (see the kernel messages above)`, 126);
        if (e instanceof ModuleLoadError) throw new ModulePreloadError(`insmod ${m.name}: ${e.message}`, 126);
        throw e;
      }
      if (rec.init === undefined) {
        loader.initDone(rec, 0);
        continue;
      }
      const r = callGuest(this.k, rec.init, [], budget);
      if (!r.returned) {
        const stop = r.stop!;
        const why = 'message' in stop && stop.message ? stop.message : stop.kind;
        throw new ModulePreloadError(`insmod ${m.name}: init_module did not return: ${why}`, stop.kind === 'budget' ? 124 : 125);
      }
      const v = loader.initDone(rec, r.value);
      if (v < 0) throw new ModulePreloadError(`insmod ${m.name}: init_module returned ${v} (${errnoText(-v)})`, 1);
    }
  }

  /**
   * A fault in module code reached from a system call (an oops): Linux's
   * die() prints it on the console, with the function it happened in, and
   * kills the task (the caller turns the fault into its signal).
   */
  oops(pid: number, stop: StopReason): void {
    if (!this.state || stop.kind !== 'fault' || (stop.eip >>> 0) < PAGE_OFFSET) return;
    const at = this.state.api.symbolize(stop.eip);
    const where = at ? `${at.name}+0x${at.offset.toString(16)}/0x${at.size.toString(16)}` : `0x${(stop.eip >>> 0).toString(16)}`;
    const holder = this.state.loader.history.find((m) => m.mod.object.contains(stop.eip) || !!m.mod.runtime?.contains(stop.eip) || !!m.mod.library?.contains(stop.eip));
    this.console(`Oops: ${stop.message ?? 'fault'}\n`);
    this.console(`EIP is at ${where}${holder ? ` [${holder.name}]` : ''}, pid ${pid} killed\n`);
  }

  /**
   * mknod(2)/mknodat(2) of a character device in /dev (devtmpfs): the node a
   * register_chrdev() driver's users make by hand. Elsewhere, and for other
   * file types, kmemsim makes no device nodes on the host: EPERM.
   */
  private mknod(dirfd: number, pathAddr: number, mode: number, dev: number): number {
    const sys = this.sys;
    const p = sys.ua.readString(pathAddr);
    const base = p.startsWith('/') ? '/' : dirfd === -100 ? sys.task.cwd : sys.task.files.get(dirfd).path;
    const abs = posix.resolve(base, p);
    if ((mode & 0o170000) !== S_IFCHR || posix.dirname(abs) !== '/dev') throw new LinuxError(EPERM);
    const name = posix.basename(abs);
    const { mk } = this.ensure();
    // The user's dev_t (new_encode_dev(): minor bits 0-7 and 20-31, major 8-19) as the kernel's 12:20.
    const major = (dev >>> 8) & 0xfff, minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
    if (this.devNodes().has(name) || ['null', 'zero', 'full', 'random', 'urandom', 'tty', 'stdin', 'stdout', 'stderr', 'fd'].includes(name)) throw new LinuxError(EEXIST);
    mk.chrdev.makeNode(name, ((major << 20) | minor) >>> 0, mode & ~sys.task.umask & 0o7777);
    return 0;
  }

  /** init_module (128), delete_module (129), finit_module (350). */
  syscalls(): SyscallTable {
    const sys = this.sys;
    return {
      128: (umod, len, uargs) => {
        const bytes = sys.ua.read(umod, len >>> 0);
        return this.insmod(bytes, uargs);
      },
      350: (fd, uargs, flags) => {
        if (flags !== 0) throw new LinuxError(EINVAL);
        const f = sys.task.files.get(fd);
        if (!f.readable) throw new LinuxError(EBADF);
        const parts: Uint8Array[] = [];
        for (;;) {
          const chunk = f.read(1 << 20);
          if (!(chunk instanceof Uint8Array)) throw new LinuxError(EINVAL);
          if (chunk.length === 0) break;
          parts.push(chunk);
        }
        return this.insmod(Buffer.concat(parts), uargs);
      },
      103: (type, buf, len) => this.syslog(type, buf, len),
      14: (path, mode, dev) => this.mknod(-100, path, mode, dev),
      297: (dirfd, path, mode, dev) => this.mknod(dirfd, path, mode, dev),
      129: (uname) => {
        const name = sys.ua.readString(uname, 64);
        const { loader } = this.ensure();
        const rec = loader.beginUnload(name);
        if (rec.exit === undefined) {
          loader.free(rec);
          return 0;
        }
        return new GuestCallRequest(rec.exit, [], () => {
          loader.free(rec);
          return 0;
        });
      },
    };
  }

  private insmod(bytes: Uint8Array, uargs: number): SyscallResult {
    const args = uargs ? this.sys.ua.readString(uargs, 4096) : '';
    const { loader } = this.ensure();
    const rec = loader.load(bytes, args);
    if (rec.init === undefined) return loader.initDone(rec, 0);
    return new GuestCallRequest(rec.init, [], (eax) => loader.initDone(rec, eax | 0));
  }

  /** open(2) of a module's node. */
  open(node: ModuleNode, flags: number, path: string, install: (f: ModuleFile) => number): SyscallResult {
    const { mk } = this.ensure();
    const host: ModuleFileHost = {
      mem: mk.mem,
      kzalloc: (n) => mk.kzalloc(n),
      kfree: (a) => mk.kfree(a),
      moduleGet: (o) => mk.moduleGet(o),
      modulePut: (o) => mk.modulePut(o),
      queueTaskWork: (req) => this.sys.taskWork.push(req),
    };
    return ModuleFile.open(host, node, flags, path, install);
  }

  /** The /dev nodes modules made (devtmpfs). */
  devNodes(): Map<string, VNode> {
    const m = new Map<string, VNode>();
    const mk = this.active;
    if (!mk) return m;
    for (const [name, n] of mk.chrdev.nodes) {
      m.set(name, {
        type: 'dev', ino: n.ino, mode: n.mode, rdev: linuxRdev(n.rdev),
        open: () => { throw new LinuxError(ENXIO); },
        module: () => mk.chrdev.lookup(n.rdev, n.ino, n.mode),
      });
    }
    return m;
  }

  /** /proc entries from modules, and /proc/modules and /proc/devices. */
  procNodes(): Map<string, VNode> {
    const m = new Map<string, VNode>();
    const st = this.state;
    if (!st) return m;
    const file = (ino: number, content: () => string): VNode => ({ type: 'file', ino, mode: S_IFREG | 0o444, content: () => new Uint8Array(Buffer.from(content(), 'latin1')) });
    m.set('modules', file(0x3000_0001, () => st.loader.procModules()));
    m.set('devices', file(0x3000_0002, () => st.mk.chrdev.procDevices()));
    for (const [name, e] of st.mk.proc.root.children!) m.set(name, this.procVNode(st.mk, e));
    return m;
  }

  private procVNode(mk: ModuleKernel, e: ProcEntry): VNode {
    if (e.children) {
      return {
        type: 'dir', ino: e.ino,
        children: () => new Map([...e.children!].map(([n, c]) => [n, this.procVNode(mk, c)] as [string, VNode])),
      };
    }
    return { type: 'dev', ino: e.ino, mode: e.mode, rdev: 0, open: () => { throw new LinuxError(ENOENT); }, module: () => mk.proc.node(e) };
  }
}

/** The kernel's dev_t (12:20) as stat() reports it (new_encode_dev(): major in bits 8-19, minor split around it). */
export function linuxRdev(dev: number): number {
  const major = dev >>> 20, minor = dev & 0xfffff;
  return ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

const ERRNO_TEXT: Record<number, string> = {
  1: 'Operation not permitted', 2: 'No such file or directory', 8: 'Exec format error', 11: 'Resource temporarily unavailable',
  12: 'Cannot allocate memory', 14: 'Bad address', 16: 'Device or resource busy', 17: 'File exists', 19: 'No such device',
  22: 'Invalid argument', 28: 'No space left on device',
};

function errnoText(errno: number): string {
  return ERRNO_TEXT[errno] ?? `errno ${errno}`;
}

void EFAULT;
void S_IFCHR;
