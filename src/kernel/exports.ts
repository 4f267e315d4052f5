/**
 * The kernel's export table: the symbols a module may link against, like
 * the table Linux builds from EXPORT_SYMBOL() (the __ksymtab sections) and
 * searches with find_symbol() when load_module() resolves a module's
 * undefined symbols (simplify_symbols() in kernel/module.c).
 *
 * Names map to guest addresses: usually a native routine bound with
 * `Kernel.bindRoutine` (kmalloc, printk, ...), possibly a data object in
 * kernel memory. The table knows nothing about what is at the address.
 */

/** A clash in the table: Linux refuses a second export of the same name ("exports duplicate symbol"). */
export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportError';
  }
}

/** C identifiers, plus '.' and '$' which assemblers allow in symbol names. */
const SYMBOL_NAME = /^[A-Za-z_.$][A-Za-z0-9_.$]*$/;

export class ExportTable {
  private readonly byName = new Map<string, number>();
  private readonly byAddress = new Map<number, string>();

  /** A table holding `entries` (e.g. the Map `installKernelApi()` returns). */
  static from(entries: Iterable<readonly [string, number]>): ExportTable {
    const t = new ExportTable();
    t.defineAll(entries);
    return t;
  }

  /**
   * Export `name` at guest address `addr`. Defining the same name again at
   * the same address is a no-op; at a different address it is an error, as
   * a duplicate EXPORT_SYMBOL is in Linux.
   */
  define(name: string, addr: number): void {
    if (!SYMBOL_NAME.test(name)) throw new ExportError(`invalid symbol name ${JSON.stringify(name)}`);
    if (!Number.isInteger(addr) || addr < -0x8000_0000 || addr > 0xffff_ffff) {
      throw new ExportError(`symbol ${name}: address ${addr} is not a 32-bit value`);
    }
    const a = addr >>> 0;
    const old = this.byName.get(name);
    if (old !== undefined) {
      if (old === a) return;
      throw new ExportError(`duplicate export of ${name} (0x${old.toString(16)} and 0x${a.toString(16)})`);
    }
    this.byName.set(name, a);
    if (!this.byAddress.has(a)) this.byAddress.set(a, name);
  }

  /** Remove `name` (a module's EXPORT_SYMBOL()s leave the table when it is unloaded). */
  undefine(name: string): void {
    const a = this.byName.get(name);
    if (a === undefined) return;
    this.byName.delete(name);
    if (this.byAddress.get(a) === name) this.byAddress.delete(a);
  }

  /** Define every entry of `entries`. */
  defineAll(entries: Iterable<readonly [string, number]>): void {
    for (const [name, addr] of entries) this.define(name, addr);
  }

  /** The address exported as `name` (unsigned 32-bit), or undefined. */
  resolve(name: string): number | undefined {
    return this.byName.get(name);
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Every exported name, sorted (deterministic listings). */
  names(): string[] {
    return [...this.byName.keys()].sort();
  }

  /** The first name exported at `addr`, if any: symbolizes native routines in reports ("kmalloc"). */
  nameAt(addr: number): string | undefined {
    return this.byAddress.get(addr >>> 0);
  }

  get size(): number {
    return this.byName.size;
  }
}
