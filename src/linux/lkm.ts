/**
 * Loadable kernel modules in a running system (Linux's kernel/module/):
 * load_module() for init_module(2) and finit_module(2) — the module is
 * linked against the kernel's exports and the exports of modules loaded
 * before it (their EXPORT_SYMBOL()s), named from its struct module
 * (__this_module, which `kmemsim cc` generates as modpost does) or its
 * .modinfo, given its parameters (module_param(), "name=value ...") — then
 * do_init_module() runs its init function; delete_module(2) runs its exit
 * function and frees it, refused while it is in use (a file of its is open:
 * the struct module's reference count; another module uses its exports).
 * /proc/modules lists what is loaded in Linux's format, which busybox lsmod
 * reads.
 */
import * as fs from 'node:fs';
import type { Kernel } from '../kernel/kernel.js';
import type { KernelApi } from '../kernel/kapi.js';
import { ExportTable } from '../kernel/exports.js';
import { loadModule, unloadModule, ModuleLoadError, type LoadedModule } from '../kernel/module.js';
import { DEFAULT_RUNTIME_PATH, readLibrary } from '../kernel/module-run.js';
import { SHN_UNDEF, parseElf32, type Elf32 } from '../elf/elf32.js';
import { GFP_KERNEL } from '../kernel/mm/index.js';
import { EBUSY, EEXIST, EINVAL, ENOENT, ENOEXEC, ENOMEM, LinuxError } from './errno.js';
import { MODULE, readCString, write32, type KernelMemory } from './module-abi.js';
import { MODULE_STATE_COMING, MODULE_STATE_GOING, MODULE_STATE_LIVE } from './module-api.js';

const EWOULDBLOCK = 11;

/** One module in the kernel. */
export interface KernelModule {
  name: string;
  mod: LoadedModule;
  /** Its struct module (0 when the object has none: run from a .c file). */
  thisModule: number;
  init: number | undefined;
  exit: number | undefined;
  /** Names it added to the export table. */
  exported: string[];
  /** Modules whose exports it uses. */
  uses: Set<KernelModule>;
  /** Kernel memory it owns besides its image (charp parameter copies). */
  allocations: number[];
  state: 'coming' | 'live' | 'going';
}

/** Parameter types of <linux/moduleparam.h> (enum kmemsim_param_type). */
const PARAM_TYPES = ['', 'bool', 'invbool', 'byte', 'short', 'ushort', 'int', 'uint', 'long', 'ulong', 'charp'];
/** struct kernel_param: name, type, perm, arg. */
const KP_SIZE = 16;

export class ModuleLoader {
  readonly modules: KernelModule[] = [];
  /** Every module ever loaded, unloaded ones too (reports name their functions after rmmod). */
  readonly history: KernelModule[] = [];
  readonly exports: ExportTable;
  private readonly runtime: Uint8Array | null;
  private readonly library: Uint8Array | null;

  constructor(private readonly k: Kernel, private readonly api: KernelApi) {
    this.exports = ExportTable.from(api);
    this.runtime = fs.existsSync(DEFAULT_RUNTIME_PATH) ? new Uint8Array(fs.readFileSync(DEFAULT_RUNTIME_PATH)) : null;
    this.library = readLibrary();
  }

  private get mem(): KernelMemory {
    return this.api.memory as KernelMemory;
  }

  private log(msg: string): void {
    this.api.log.emit(msg.endsWith('\n') ? msg : msg + '\n');
  }

  find(name: string): KernelModule | undefined {
    return this.modules.find((m) => m.name === name);
  }

  /** load_module(): link it, name it, set its parameters. Its init function is still to run (initDone()). */
  load(bytes: Uint8Array, args: string, nameHint?: string): KernelModule {
    let mod: LoadedModule;
    const early = nameOf(bytes) ?? nameHint ?? 'module';
    try {
      mod = loadModule(this.k, bytes, { name: early, exports: this.exports, runtime: this.runtime, library: this.library });
    } catch (e) {
      if (!(e instanceof ModuleLoadError)) throw e;
      if (e.missing.length) for (const n of e.missing) this.log(`<4>${early}: Unknown symbol ${n} (err -2)`);
      else this.log(`<3>${e.message}`);
      throw new LinuxError(e.kind === 'unresolved-symbols' ? ENOENT : e.kind === 'out-of-memory' ? ENOMEM : ENOEXEC);
    }
    const fail = (errno: number, msg: string): never => {
      this.log(msg);
      unloadModule(this.k, mod);
      throw new LinuxError(errno);
    };
    const thisModule = mod.object.globals.get('__this_module') ?? 0;
    const name = (thisModule ? readCString(this.mem, thisModule + MODULE.name, MODULE.nameLength) : null) || modinfo(mod.object.elf, 'name') || nameHint;
    if (!name) return fail(ENOEXEC, '<4>module has no name: no struct module (.gnu.linkonce.this_module) and no name= in .modinfo (build it with kmemsim cc)');
    if (this.find(name)) return fail(EEXIST, `<3>module ${name} is already loaded`);
    const rec: KernelModule = {
      name, mod, thisModule,
      init: mod.object.globals.get('init_module'),
      exit: mod.object.globals.get('cleanup_module'),
      exported: [], uses: new Set(), allocations: [], state: 'coming',
    };
    try {
      this.setParams(rec, args);
    } catch (e) {
      for (const a of rec.allocations) this.api.mm.slab.kfree(a);
      unloadModule(this.k, mod);
      throw e;
    }
    if (thisModule) {
      write32(this.mem, thisModule + MODULE.state, MODULE_STATE_COMING);
      write32(this.mem, thisModule + MODULE.refcnt, 0);
    }
    // Dependencies: every undefined name another module exports.
    for (const s of mod.object.elf.symbols) {
      if (s.index === 0 || s.shndx !== SHN_UNDEF || !s.name) continue;
      const owner = this.modules.find((m) => m.exported.includes(s.name));
      if (owner && mod.runtime?.globals.get(s.name) === undefined) rec.uses.add(owner);
    }
    this.addExports(rec);
    this.modules.push(rec);
    this.history.push(rec);
    this.api.symbolizers.push((a) => (this.modules.includes(rec) ? rec.mod.symbolize(a) : null));
    return rec;
  }

  /** The module's __ksymtab entries (struct kernel_symbol { value, name }) join the export table. */
  private addExports(rec: KernelModule): void {
    for (const sec of rec.mod.object.sections) {
      if (sec.name !== '__ksymtab' && sec.name !== '__ksymtab_gpl') continue;
      for (let o = 0; o + 8 <= sec.size; o += 8) {
        const value = this.mem.read32(sec.address + o) >>> 0;
        const sym = readCString(this.mem, this.mem.read32(sec.address + o + 4) >>> 0, 256);
        if (!sym) continue;
        if (this.exports.has(sym)) {
          this.log(`<3>${rec.name}: exports duplicate symbol ${sym}`);
          continue;
        }
        this.exports.define(sym, value);
        rec.exported.push(sym);
      }
    }
  }

  /** parse_args() over the module's __param entries: "name=value" words; unknown names are warned about and ignored. */
  private setParams(rec: KernelModule, args: string): void {
    const words = args.trim() === '' ? [] : args.trim().split(/\s+/);
    if (!words.length) return;
    const params = new Map<string, { type: string; arg: number }>();
    for (const sec of rec.mod.object.sections) {
      if (sec.name !== '__param') continue;
      for (let o = 0; o + KP_SIZE <= sec.size; o += KP_SIZE) {
        const name = readCString(this.mem, this.mem.read32(sec.address + o) >>> 0, 256);
        const type = PARAM_TYPES[this.mem.read32(sec.address + o + 4)] ?? '';
        if (name) params.set(name.replace(/-/g, '_'), { type, arg: this.mem.read32(sec.address + o + 12) >>> 0 });
      }
    }
    for (const w of words) {
      const eq = w.indexOf('=');
      const key = (eq < 0 ? w : w.slice(0, eq)).replace(/-/g, '_');
      const value = eq < 0 ? null : w.slice(eq + 1).replace(/^"(.*)"$/, '$1');
      const p = params.get(key);
      if (!p) {
        this.log(`<4>${rec.name}: unknown parameter '${key}' ignored`);
        continue;
      }
      this.setParam(rec, key, p.type, p.arg, value);
    }
  }

  private setParam(rec: KernelModule, key: string, type: string, arg: number, value: string | null): void {
    const bad = (): never => {
      this.log(`<3>${rec.name}: '${value ?? ''}' invalid for parameter '${key}'`);
      throw new LinuxError(EINVAL);
    };
    const store = (bytes: number, v: bigint): void => {
      const b = new Uint8Array(bytes);
      for (let i = 0; i < bytes; i++) b[i] = Number((BigInt.asUintN(64, v) >> BigInt(8 * i)) & 0xffn);
      this.mem.write(arg, b);
    };
    if (type === 'bool' || type === 'invbool') {
      const t = value === null || /^(y|Y|1|on|true)$/i.test(value) ? true : /^(n|N|0|off|false)$/i.test(value) ? false : bad();
      store(1, (t !== (type === 'invbool')) ? 1n : 0n);
      return;
    }
    if (value === null) return bad();
    if (type === 'charp') {
      const bytes = Buffer.from(value + '\0', 'latin1');
      const copy = this.api.mm.slab.kmalloc(bytes.length, GFP_KERNEL);
      if (!copy) throw new LinuxError(ENOMEM);
      this.mem.write(copy, new Uint8Array(bytes));
      rec.allocations.push(copy);
      store(4, BigInt(copy));
      return;
    }
    const m = /^([+-]?)(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(value) ?? bad();
    const n = (m[1] === '-' ? -1n : 1n) * BigInt(m[2]!.startsWith('0') && !/^0x/i.test(m[2]!) && m[2]!.length > 1 ? '0o' + m[2]!.slice(1) : m[2]!);
    const ranges: Record<string, [number, bigint, bigint]> = {
      byte: [1, 0n, 255n], short: [2, -32768n, 32767n], ushort: [2, 0n, 65535n], int: [4, -(2n ** 31n), 2n ** 31n - 1n],
      uint: [4, 0n, 2n ** 32n - 1n], long: [4, -(2n ** 31n), 2n ** 31n - 1n], ulong: [4, 0n, 2n ** 32n - 1n],
    };
    const r = ranges[type] ?? bad();
    if (n < r[1] || n > r[2]) bad();
    store(r[0], n);
  }

  /** do_init_module() after the init function returned `value`: live, or freed on failure. The system call's result. */
  initDone(rec: KernelModule, value: number): number {
    if (value < 0) {
      this.log(`<4>${rec.name}: init failed (${value})`);
      this.free(rec);
      return value;
    }
    if (value > 0) {
      this.log(`<4>do_init_module: '${rec.name}'->init suspiciously returned ${value}, it should follow 0/-E convention`);
    }
    rec.state = 'live';
    if (rec.thisModule) write32(this.mem, rec.thisModule + MODULE.state, MODULE_STATE_LIVE);
    return 0;
  }

  /** delete_module(2)'s checks: the module to unload (now going), or the errno. */
  beginUnload(name: string): KernelModule {
    const rec = this.find(name);
    if (!rec) throw new LinuxError(ENOENT);
    if (rec.state !== 'live') throw new LinuxError(EBUSY);
    if (this.modules.some((m) => m.uses.has(rec))) throw new LinuxError(EWOULDBLOCK);
    if (rec.init !== undefined && rec.exit === undefined) throw new LinuxError(EBUSY);
    if (rec.thisModule && (this.mem.read32(rec.thisModule + MODULE.refcnt) | 0) !== 0) throw new LinuxError(EWOULDBLOCK);
    rec.state = 'going';
    if (rec.thisModule) write32(this.mem, rec.thisModule + MODULE.state, MODULE_STATE_GOING);
    return rec;
  }

  /** free_module(): its exports leave the table, its memory goes back. */
  free(rec: KernelModule): void {
    for (const n of rec.exported) this.exports.undefine(n);
    for (const a of rec.allocations) this.api.mm.slab.kfree(a);
    const i = this.modules.indexOf(rec);
    if (i >= 0) this.modules.splice(i, 1);
    unloadModule(this.k, rec.mod);
  }

  /** /proc/modules (kernel/module/procfs.c's m_show()): name size refcount users state address. */
  procModules(): string {
    return [...this.modules].reverse().map((m) => {
      const size = m.mod.object.size + (m.mod.runtime?.size ?? 0) + (m.mod.library?.size ?? 0);
      const refs = m.thisModule ? this.mem.read32(m.thisModule + MODULE.refcnt) | 0 : 0;
      const users = this.modules.filter((o) => o.uses.has(m)).map((o) => o.name + ',').join('');
      const state = m.state === 'live' ? 'Live' : m.state === 'coming' ? 'Loading' : 'Unloading';
      return `${m.name} ${size} ${refs + this.modules.filter((o) => o.uses.has(m)).length} ${users || '-'} ${state} 0x${m.mod.object.base.toString(16).padStart(8, '0')}\n`;
    }).join('');
  }
}

/** The module's name before it is linked (for messages): its struct module's, or .modinfo's name=. */
function nameOf(bytes: Uint8Array): string | null {
  let elf: Elf32;
  try {
    elf = parseElf32(bytes);
  } catch {
    return null;
  }
  const sec = elf.sectionByName('.gnu.linkonce.this_module');
  if (sec && sec.size >= MODULE.name + MODULE.nameLength) {
    const raw = elf.sectionData(sec).subarray(MODULE.name, MODULE.name + MODULE.nameLength);
    const z = raw.indexOf(0);
    const n = Buffer.from(raw.subarray(0, z < 0 ? raw.length : z)).toString('latin1');
    if (n) return n;
  }
  return modinfo(elf, 'name');
}

/** A `tag=value` string of the object's .modinfo section, or null. */
export function modinfo(elf: Elf32, tag: string): string | null {
  const sec = elf.sectionByName('.modinfo');
  if (!sec) return null;
  for (const s of Buffer.from(elf.sectionData(sec)).toString('latin1').split('\0')) {
    if (s.startsWith(tag + '=')) return s.slice(tag.length + 1);
  }
  return null;
}
