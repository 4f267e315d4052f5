/**
 * The kernel functions behind kmemsim's <linux/*.h> that need the kernel:
 * user-memory access (copy_to_user(), get_user(), ...), character and misc
 * devices, device classes, /proc entries, module reference counts, WARN(),
 * spinlock debugging, jiffies and the clocks, random bytes. They are bound
 * as native routines on the kernel API (installKernelApi() calls
 * installModuleApi()), so every module links against them, with or without
 * user processes; the Linux personality (src/linux/linux.ts) attaches the
 * current process's address space, its clock and random stream, and serves
 * the /dev and /proc nodes they create.
 *
 * Calling convention as the rest of the API (src/kernel/kapi.ts): regparm(3)
 * — EAX, EDX, ECX, then the stack — and every argument on the stack for a
 * variadic function; 64-bit results in EDX:EAX.
 */
import type { CPU } from '../cpu/cpu.js';
import { SS } from '../cpu/instr.js';
import type { Kernel } from '../kernel/kernel.js';
import type { KernelApi } from '../kernel/kapi.js';
import { KernelBug, GFP_KERNEL } from '../kernel/mm/index.js';
import { GuestVarArgs } from '../kernel/printk.js';
import { TASK_SIZE } from '../kernel/layout.js';
import { Clock } from './clock.js';
import { CLOCK_EPOCH } from './clock.js';
import { DeterministicRandom } from './random.js';
import { EFAULT, LinuxError } from './errno.js';
import type { UserAccess } from './uaccess.js';
import type { GuestCallRequest } from './kcall.js';
import { ChrdevRegistry } from './chrdev.js';
import { ProcEntries } from './proc-entries.js';
import { installPollWait } from './poll.js';
import { installRemapPfn } from './module-mmap.js';
import { CDEV, DEVICE, INODE, MAJOR, MINOR, MISCDEVICE, MKDEV, MODULE, readCString, write32, type KernelMemory } from './module-abi.js';

const EAX = 0, ECX = 1, EDX = 2, ESP = 4;

/** What the natives need from the system around the kernel (the Linux personality fills it in). */
export interface ModuleEnvironment {
  /** The current process's memory; null: no user space (a module run on its own). */
  ua: UserAccess | null;
  clock: Clock;
  random: DeterministicRandom;
  /** The current task's pid (0: none, the idle task). */
  pid(): number;
  /** Run a guest call before the next return to user mode (a module file's release()). */
  queueTaskWork(req: GuestCallRequest): void;
}

/** The module-facing kernel state of one kernel: devices, /proc entries, the environment. */
export class ModuleKernel {
  readonly chrdev: ChrdevRegistry;
  readonly proc: ProcEntries;
  env: ModuleEnvironment;
  /** struct device * made by device_create(), by class and device number. */
  readonly devices = new Map<number, { cls: number; devt: number; name: number }>();

  constructor(readonly kernel: Kernel, readonly api: KernelApi) {
    const mem = api.memory as KernelMemory;
    const kz = (n: number): number => api.mm.slab.kzalloc(n, GFP_KERNEL);
    const kf = (a: number): void => api.mm.slab.kfree(a);
    this.chrdev = new ChrdevRegistry(mem, kz);
    this.proc = new ProcEntries(mem, kz, kf);
    this.env = {
      ua: null,
      clock: new Clock(kernel.cpu),
      random: new DeterministicRandom(),
      pid: () => 0,
      queueTaskWork: () => {
        throw new Error('no task to run the work in');
      },
    };
  }

  get mem(): KernelMemory {
    return this.api.memory as KernelMemory;
  }

  kzalloc(n: number): number {
    return this.api.mm.slab.kzalloc(n, GFP_KERNEL);
  }

  kfree(a: number): void {
    this.api.mm.slab.kfree(a);
  }

  /** try_module_get(): false once the module is going away (its exit function runs). */
  moduleGet(owner: number): boolean {
    if (owner === 0) return true;
    const m = this.mem;
    if ((m.read32(owner + MODULE.state) | 0) === MODULE_STATE_GOING) return false;
    write32(m, owner + MODULE.refcnt, (m.read32(owner + MODULE.refcnt) + 1) | 0);
    return true;
  }

  modulePut(owner: number): void {
    if (owner === 0) return;
    const m = this.mem;
    write32(m, owner + MODULE.refcnt, (m.read32(owner + MODULE.refcnt) - 1) | 0);
  }
}

export const MODULE_STATE_LIVE = 0, MODULE_STATE_COMING = 1, MODULE_STATE_GOING = 2;

const states = new WeakMap<Kernel, ModuleKernel>();

/** The module-facing state of `kernel`, when its kernel API is installed. */
export function moduleKernel(kernel: Kernel): ModuleKernel | undefined {
  return states.get(kernel);
}

/** Bind the natives on `api` (called once, by installKernelApi()). */
export function installModuleApi(api: KernelApi): ModuleKernel {
  const kernel = api.kernel;
  const mk = new ModuleKernel(kernel, api);
  states.set(kernel, mk);
  const mem = mk.mem;
  const { bind } = api;
  installPollWait(api); // poll_wait()'s __pollwait (src/linux/poll.ts)
  installRemapPfn(api, mk); // a driver's mmap() (src/linux/module-mmap.ts)

  const reg = (cpu: CPU, r: number): number => cpu.regs[r]! >>> 0;
  const stackArg = (cpu: CPU, i: number): number => mem.read32((cpu.segBase[SS] + cpu.regs[ESP]! + 4 + 4 * i) | 0) >>> 0;
  const arg = (cpu: CPU, i: number): number => (i === 0 ? reg(cpu, EAX) : i === 1 ? reg(cpu, EDX) : i === 2 ? reg(cpu, ECX) : stackArg(cpu, i - 3));
  const ret = (cpu: CPU, v: number): void => {
    cpu.regs[EAX] = v | 0;
  };
  const ret64 = (cpu: CPU, v: bigint): void => {
    const u = BigInt.asUintN(64, v);
    cpu.regs[EAX] = Number(u & 0xffffffffn) | 0;
    cpu.regs[EDX] = Number(u >> 32n) | 0;
  };
  const str = (p: number): string => readCString(mem, p) ?? '(null)';
  const errno = (e: unknown): number => {
    if (e instanceof LinuxError) return -e.errno;
    throw e;
  };

  bindUserAccess(api, mk, { arg, ret });

  // ---- character devices (fs/char_dev.c) ----------------------------------------------------------

  bind('__register_chrdev', (cpu) => {
    const major = arg(cpu, 0), baseminor = arg(cpu, 1), count = arg(cpu, 2), name = str(arg(cpu, 3)), fops = arg(cpu, 4);
    try {
      const m = mk.chrdev.registerRegion(major, baseminor, count, name);
      const cdev = mk.kzalloc(CDEV.size);
      if (cdev === 0) {
        mk.chrdev.unregisterRegion(m, baseminor, count);
        ret(cpu, -12);
        return;
      }
      write32(mem, cdev + CDEV.ops, fops);
      write32(mem, cdev + CDEV.owner, fops ? mem.read32(fops) : 0);
      mk.chrdev.addCdev(cdev, MKDEV(m, baseminor), count, true);
      ret(cpu, major ? 0 : m);
    } catch (e) {
      ret(cpu, errno(e));
    }
  });
  bind('__unregister_chrdev', (cpu) => {
    const major = arg(cpu, 0), baseminor = arg(cpu, 1), count = arg(cpu, 2);
    const cdev = mk.chrdev.ownedCdev(major, baseminor);
    if (cdev !== undefined && mk.chrdev.delCdev(cdev)) mk.kfree(cdev);
    mk.chrdev.unregisterRegion(major, baseminor, count);
  });
  bind('alloc_chrdev_region', (cpu) => {
    try {
      const m = mk.chrdev.registerRegion(0, arg(cpu, 1), arg(cpu, 2), str(arg(cpu, 3)));
      write32(mem, arg(cpu, 0), MKDEV(m, arg(cpu, 1)));
      ret(cpu, 0);
    } catch (e) {
      ret(cpu, errno(e));
    }
  });
  bind('register_chrdev_region', (cpu) => {
    const from = arg(cpu, 0);
    try {
      mk.chrdev.registerRegion(MAJOR(from), MINOR(from), arg(cpu, 1), str(arg(cpu, 2)));
      ret(cpu, 0);
    } catch (e) {
      ret(cpu, errno(e));
    }
  });
  bind('unregister_chrdev_region', (cpu) => {
    const from = arg(cpu, 0);
    mk.chrdev.unregisterRegion(MAJOR(from), MINOR(from), arg(cpu, 1));
  });
  bind('cdev_init', (cpu) => {
    const cdev = arg(cpu, 0);
    mem.write(cdev, new Uint8Array(CDEV.size));
    write32(mem, cdev + CDEV.ops, arg(cpu, 1));
  });
  bind('cdev_alloc', (cpu) => ret(cpu, mk.kzalloc(CDEV.size)));
  bind('cdev_add', (cpu) => {
    try {
      mk.chrdev.addCdev(arg(cpu, 0), arg(cpu, 1), arg(cpu, 2));
      ret(cpu, 0);
    } catch (e) {
      ret(cpu, errno(e));
    }
  });
  bind('cdev_del', (cpu) => {
    mk.chrdev.delCdev(arg(cpu, 0));
  });

  // ---- misc devices (drivers/char/misc.c) --------------------------------------------------------

  bind('misc_register', (cpu) => {
    const misc = arg(cpu, 0);
    const name = readCString(mem, mem.read32(misc + MISCDEVICE.name));
    if (name === null) {
      ret(cpu, -22);
      return;
    }
    const nodename = readCString(mem, mem.read32(misc + MISCDEVICE.nodename)) ?? name;
    const mode = mem.read(misc + MISCDEVICE.mode, 2);
    try {
      mk.chrdev.registerMisc(misc, name, nodename, mode[0]! | (mode[1]! << 8));
      ret(cpu, 0);
    } catch (e) {
      ret(cpu, errno(e));
    }
  });
  bind('misc_deregister', (cpu) => mk.chrdev.deregisterMisc(arg(cpu, 0)));

  // ---- device classes and devices (drivers/base/core.c): the /dev nodes devtmpfs makes ----------

  bind('__kmemsim_class_create', (cpu) => {
    const cls = mk.kzalloc(8);
    write32(mem, cls, arg(cpu, 0));
    ret(cpu, cls === 0 ? -12 : cls);
  });
  bind('class_destroy', (cpu) => {
    const cls = arg(cpu, 0);
    if (cls === 0 || cls >= 0xfffff001) return;
    for (const [dev, d] of mk.devices) if (d.cls === cls) destroyDevice(dev);
    mk.kfree(cls);
  });
  const destroyDevice = (dev: number): void => {
    const d = mk.devices.get(dev)!;
    mk.devices.delete(dev);
    mk.chrdev.removeNodesOf(d.devt);
    mk.kfree(d.name);
    mk.kfree(dev);
  };
  bind('device_create', (cpu) => {
    // struct device *device_create(struct class *cls, struct device *parent, dev_t devt, void *drvdata, const char *fmt, ...)
    const cls = stackArg(cpu, 0), devt = stackArg(cpu, 2), drvdata = stackArg(cpu, 3);
    const name = api.format(stackArg(cpu, 4), new GuestVarArgs(mem, (cpu.segBase[SS] + cpu.regs[ESP]! + 24) | 0));
    const bytes = Buffer.from(name + '\0', 'latin1');
    const dev = mk.kzalloc(DEVICE.size);
    const copy = dev ? mk.kzalloc(bytes.length) : 0;
    if (dev === 0 || copy === 0) {
      if (dev) mk.kfree(dev);
      ret(cpu, -12);
      return;
    }
    mem.write(copy, new Uint8Array(bytes));
    write32(mem, dev + DEVICE.devt, devt);
    write32(mem, dev + DEVICE.driver_data, drvdata);
    write32(mem, dev + DEVICE.class, cls);
    write32(mem, dev + 12, copy);
    try {
      mk.chrdev.makeNode(name, devt, 0o600);
    } catch (e) {
      mk.kfree(copy);
      mk.kfree(dev);
      ret(cpu, errno(e));
      return;
    }
    mk.devices.set(dev, { cls, devt, name: copy });
    ret(cpu, dev);
  });
  bind('device_destroy', (cpu) => {
    const cls = arg(cpu, 0), devt = arg(cpu, 1);
    for (const [dev, d] of mk.devices) {
      if (d.cls === cls && d.devt === devt) {
        destroyDevice(dev);
        return;
      }
    }
  });

  // ---- /proc (fs/proc/generic.c) -------------------------------------------------------------------

  const procCreate = (cpu: CPU, name: number, mode: number, parent: number, ops: number, kind: 'fops' | 'proc', data: number | null): void => {
    try {
      ret(cpu, mk.proc.create(str(name), mode, parent, data === null && ops === -1 ? null : { ops, kind, data: data ?? 0 }));
    } catch (e) {
      const r = errno(e);
      api.log.emit(`<3>proc_create: cannot create ${str(name)} (${r})\n`);
      ret(cpu, 0);
    }
  };
  bind('proc_create', (cpu) => procCreate(cpu, arg(cpu, 0), arg(cpu, 1), arg(cpu, 2), arg(cpu, 3), 'proc', 0));
  bind('proc_create_data', (cpu) => procCreate(cpu, arg(cpu, 0), arg(cpu, 1), arg(cpu, 2), arg(cpu, 3), 'proc', arg(cpu, 4)));
  bind('__kmemsim_proc_create_fops', (cpu) => procCreate(cpu, arg(cpu, 0), arg(cpu, 1), arg(cpu, 2), arg(cpu, 3), 'fops', 0));
  bind('__kmemsim_proc_create_data_fops', (cpu) => procCreate(cpu, arg(cpu, 0), arg(cpu, 1), arg(cpu, 2), arg(cpu, 3), 'fops', arg(cpu, 4)));
  bind('proc_mkdir', (cpu) => procCreate(cpu, arg(cpu, 0), 0o555, arg(cpu, 1), -1, 'proc', null));
  bind('proc_mkdir_mode', (cpu) => procCreate(cpu, arg(cpu, 0), arg(cpu, 1), arg(cpu, 2), -1, 'proc', null));
  bind('proc_mkdir_data', (cpu) => procCreate(cpu, arg(cpu, 0), arg(cpu, 1), arg(cpu, 2), -1, 'proc', null));
  bind('remove_proc_entry', (cpu) => {
    const name = str(arg(cpu, 0));
    if (!mk.proc.remove(name, arg(cpu, 1))) api.log.emit(`<4>WARNING: remove_proc_entry: removing non-empty or missing entry '${name}'\n`);
  });
  bind('remove_proc_subtree', (cpu) => ret(cpu, mk.proc.remove(str(arg(cpu, 0)), arg(cpu, 1)) ? 0 : -2));
  bind('proc_remove', (cpu) => mk.proc.removeHandle(arg(cpu, 0)));
  bind('proc_set_size', (cpu) => {
    void cpu; // the size of a /proc file is what its read() returns; stat() reports 0, as Linux's generated files do
  });

  // ---- module reference counts (kernel/module/main.c) ---------------------------------------------

  bind('try_module_get', (cpu) => ret(cpu, mk.moduleGet(arg(cpu, 0)) ? 1 : 0));
  bind('__module_get', (cpu) => {
    const m = arg(cpu, 0);
    if (m) write32(mem, m + MODULE.refcnt, (mem.read32(m + MODULE.refcnt) + 1) | 0);
  });
  bind('module_put', (cpu) => mk.modulePut(arg(cpu, 0)));
  bind('module_refcount', (cpu) => {
    const m = arg(cpu, 0);
    ret(cpu, m ? mem.read32(m + MODULE.refcnt) : 0);
  });

  // ---- WARN() and spinlock debugging ---------------------------------------------------------------

  const caller = (cpu: CPU): string => {
    const r = mem.read32((cpu.segBase[SS] + cpu.regs[ESP]!) | 0) >>> 0;
    const s = api.symbolize(r);
    return s ? `${s.name}+0x${s.offset.toString(16)}/0x${s.size.toString(16)}` : `0x${r.toString(16).padStart(8, '0')}`;
  };
  const warn = (cpu: CPU, file: number, line: number, text: string | null): void => {
    api.log.emit('<4>------------[ cut here ]------------\n');
    if (text !== null) api.log.emit(`<4>${text}${text.endsWith('\n') ? '' : '\n'}`);
    api.log.emit(`<4>WARNING: CPU: 0 PID: ${mk.env.pid()} at ${str(file)}:${line | 0} ${caller(cpu)}\n`);
    api.log.emit('<4>---[ end trace 0000000000000000 ]---\n');
  };
  bind('warn_slowpath_null', (cpu) => warn(cpu, arg(cpu, 0), arg(cpu, 1), null));
  bind('warn_slowpath_fmt', (cpu) => {
    const text = api.format(stackArg(cpu, 2), new GuestVarArgs(mem, (cpu.segBase[SS] + cpu.regs[ESP]! + 16) | 0));
    warn(cpu, stackArg(cpu, 0), stackArg(cpu, 1), text);
  });
  bind('spin_bug', (cpu) => {
    const lock = arg(cpu, 0);
    throw new KernelBug('spin_bug', lock, `spinlock ${str(arg(cpu, 1))} on CPU#0, lock ${`0x${lock.toString(16).padStart(8, '0')}`} (a uniprocessor kernel would deadlock)`);
  });

  // ---- time and randomness -------------------------------------------------------------------------

  const INITIAL_JIFFIES = 0xffff8ad0n; // (unsigned long)(unsigned int)(-300 * HZ)
  const monoNs = (): bigint => BigInt(Math.floor(mk.env.clock.monotonicNs()));
  const realNs = (): bigint => monoNs() + BigInt(CLOCK_EPOCH) * 1_000_000_000n;
  bind('get_jiffies_64', (cpu) => ret64(cpu, INITIAL_JIFFIES + monoNs() / 10_000_000n));
  bind('ktime_get', (cpu) => ret64(cpu, monoNs()));
  bind('ktime_get_boottime', (cpu) => ret64(cpu, monoNs()));
  bind('ktime_get_raw', (cpu) => ret64(cpu, monoNs()));
  bind('ktime_get_real', (cpu) => ret64(cpu, realNs()));
  bind('ktime_get_seconds', (cpu) => ret64(cpu, monoNs() / 1_000_000_000n));
  bind('ktime_get_real_seconds', (cpu) => ret64(cpu, realNs() / 1_000_000_000n));
  const storeTs = (addr: number, ns: bigint): void => {
    const b = Buffer.alloc(12);
    b.writeBigInt64LE(ns / 1_000_000_000n, 0);
    b.writeInt32LE(Number(ns % 1_000_000_000n), 8);
    mem.write(addr, new Uint8Array(b));
  };
  bind('ktime_get_ts64', (cpu) => storeTs(arg(cpu, 0), monoNs()));
  bind('ktime_get_real_ts64', (cpu) => storeTs(arg(cpu, 0), realNs()));
  bind('get_random_bytes', (cpu) => {
    const n = arg(cpu, 1);
    if (n > 0) mem.write(arg(cpu, 0), mk.env.random.bytes(n));
  });
  bind('get_random_u32', (cpu) => ret(cpu, Buffer.from(mk.env.random.bytes(4)).readUInt32LE(0)));
  bind('get_random_u64', (cpu) => ret64(cpu, Buffer.from(mk.env.random.bytes(8)).readBigUInt64LE(0)));

  void INODE;
  return mk;
}

/**
 * copy_to_user() and friends: the user range is checked against TASK_SIZE,
 * then copied a page at a time through the current process's memory
 * (src/linux/uaccess.ts faults in what its mappings allow); the copy stops
 * at the first page that cannot be had, as the fixup of Linux's copy loop.
 */
function bindUserAccess(api: KernelApi, mk: ModuleKernel, h: { arg(cpu: CPU, i: number): number; ret(cpu: CPU, v: number): void }): void {
  const { bind } = api;
  const mem = mk.mem;
  const { arg, ret } = h;
  const userOk = (addr: number, n: number): boolean => n <= TASK_SIZE && (addr >>> 0) <= TASK_SIZE - n;
  /** Bytes copied before the first fault. */
  const pagewise = (addr: number, n: number, step: (at: number, off: number, len: number) => void): number => {
    let done = 0;
    while (done < n) {
      const at = (addr + done) >>> 0;
      const len = Math.min(n - done, 4096 - (at & 0xfff));
      try {
        step(at, done, len);
      } catch (e) {
        if (e instanceof LinuxError && e.errno === EFAULT) return done;
        throw e;
      }
      done += len;
    }
    return done;
  };
  const ua = (): UserAccess => {
    if (!mk.env.ua) throw new LinuxError(EFAULT);
    return mk.env.ua;
  };
  const toUser = (to: number, from: number, n: number): number => {
    if (n === 0) return 0;
    if (!userOk(to, n) || !mk.env.ua) return n;
    return n - pagewise(to, n, (at, off, len) => ua().write(at, mem.read(from + off, len)));
  };
  const fromUser = (to: number, from: number, n: number): number => {
    if (n === 0) return 0;
    const done = userOk(from, n) && mk.env.ua ? pagewise(from, n, (at, off, len) => mem.write(to + off, ua().read(at, len))) : 0;
    if (done < n) mem.write(to + done, new Uint8Array(n - done)); // the rest zeroed, as Linux's copy_from_user()
    return n - done;
  };
  bind('copy_to_user', (cpu) => ret(cpu, toUser(arg(cpu, 0), arg(cpu, 1), arg(cpu, 2))));
  bind('_copy_to_user', (cpu) => ret(cpu, toUser(arg(cpu, 0), arg(cpu, 1), arg(cpu, 2))));
  bind('copy_from_user', (cpu) => ret(cpu, fromUser(arg(cpu, 0), arg(cpu, 1), arg(cpu, 2))));
  bind('_copy_from_user', (cpu) => ret(cpu, fromUser(arg(cpu, 0), arg(cpu, 1), arg(cpu, 2))));
  bind('clear_user', (cpu) => {
    const to = arg(cpu, 0), n = arg(cpu, 1);
    if (n === 0) return ret(cpu, 0);
    if (!userOk(to, n) || !mk.env.ua) return ret(cpu, n);
    ret(cpu, n - pagewise(to, n, (at, _off, len) => ua().write(at, new Uint8Array(len))));
  });
  bind('strncpy_from_user', (cpu) => {
    const dst = arg(cpu, 0), src = arg(cpu, 1), count = arg(cpu, 2) | 0;
    if (count <= 0) return ret(cpu, 0);
    const out: number[] = [];
    try {
      for (let i = 0; i < count; i++) {
        if (!userOk(src + i, 1)) throw new LinuxError(EFAULT);
        const b = ua().read(src + i, 1)[0]!;
        out.push(b);
        if (b === 0) break;
      }
    } catch (e) {
      if (e instanceof LinuxError && e.errno === EFAULT) return ret(cpu, -EFAULT);
      throw e;
    }
    mem.write(dst, Uint8Array.from(out));
    ret(cpu, out[out.length - 1] === 0 ? out.length - 1 : out.length);
  });
  bind('strnlen_user', (cpu) => {
    const src = arg(cpu, 0), n = arg(cpu, 1) | 0;
    try {
      for (let i = 0; i < n; i++) {
        if (!userOk(src + i, 1)) return ret(cpu, 0);
        if (ua().read(src + i, 1)[0] === 0) return ret(cpu, i + 1);
      }
      ret(cpu, n + 1);
    } catch (e) {
      if (e instanceof LinuxError && e.errno === EFAULT) return ret(cpu, 0);
      throw e;
    }
  });
  // get_user()/put_user() (arch/x86/lib/getuser.S, putuser.S conventions of <linux/uaccess.h>).
  for (const size of [1, 2, 4]) {
    bind(`__get_user_${size}`, (cpu) => {
      const addr = cpu.regs[EAX]! >>> 0;
      try {
        if (!userOk(addr, size)) throw new LinuxError(EFAULT);
        const b = ua().read(addr, size);
        let v = 0;
        for (let i = size - 1; i >= 0; i--) v = (v << 8) | b[i]!;
        cpu.regs[EDX] = v | 0;
        cpu.regs[EAX] = 0;
      } catch (e) {
        if (!(e instanceof LinuxError && e.errno === EFAULT)) throw e;
        cpu.regs[EDX] = 0;
        cpu.regs[EAX] = -EFAULT;
      }
    });
    bind(`__put_user_${size}`, (cpu) => {
      const v = cpu.regs[EAX]! >>> 0, addr = cpu.regs[ECX]! >>> 0;
      try {
        if (!userOk(addr, size)) throw new LinuxError(EFAULT);
        const b = new Uint8Array(size);
        for (let i = 0; i < size; i++) b[i] = (v >>> (8 * i)) & 0xff;
        ua().write(addr, b);
        cpu.regs[EAX] = 0;
      } catch (e) {
        if (!(e instanceof LinuxError && e.errno === EFAULT)) throw e;
        cpu.regs[EAX] = -EFAULT;
      }
    });
  }
}
