/**
 * A snapshot of a whole machine, restored in place: what a fuzzer's fork
 * server gives (AFL++'s forkserver, or the snapshot fuzzers built on
 * QEMU/KVM such as Nyx): every input starts from the state right after
 * initialization, so inputs cannot affect each other, without booting
 * again.
 *
 * Two parts:
 *
 * - **RAM**: a copy of physical memory is taken once; the memory unit's
 *   dirty page log (PhysicalMemory.startDirtyLog(), like KVM's
 *   KVM_GET_DIRTY_LOG) names the frames written since, and restoring
 *   copies back only those whose bytes differ (dropping decoded code
 *   cached for them).
 * - **Host-side state**: everything the simulation keeps in JavaScript
 *   objects — the CPU's registers, x87 and time stamp (icount), the
 *   devices on its ports and timers (PIT, PIC, UART), the kernel's page
 *   frame, buddy and slab allocators, the checkers' shadow pages, error
 *   queues and page-hiding state — is reached from the given roots and
 *   recorded field by field (arrays, Maps and Sets by their contents,
 *   typed arrays copied). Restoring writes the recorded values back into
 *   the same objects, so every reference the machine holds (closures
 *   bound to natives included) sees the restored state. Objects made after
 *   the snapshot are simply dropped by whoever referenced them.
 *
 * What is not state but a cache of it is left out and flushed instead: the
 * CPU's TLB and its decoded/compiled blocks (a TLB flush at restore is what
 * a CR3 reload does; the kernel keeps no stale translation it relies on).
 * State held only in a closure's local variable cannot be reached: pass
 * its object as a root (a device whose port handler is a closure, as
 * registerBytePorts() makes for the UART: `attachPcDevices()`'s result; the
 * PIT and PIC are reached from the CPU's timers and interrupt controller),
 * and keep no other state there. The fuzz targets' test
 * (test/fuzz/snapshot.test.ts) checks that a restored machine runs every
 * input exactly as a freshly booted one does.
 */
import type { CPU } from '../cpu/cpu.js';
import type { PhysicalMemory } from '../cpu/memory.js';

type TypedArray = Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** One recorded object: its fields (or elements, or entries) as they were. */
type Record =
  | { kind: 'object'; obj: { [k: string | symbol]: unknown }; keys: (string | symbol)[]; values: unknown[] }
  | { kind: 'array'; obj: unknown[]; values: unknown[] }
  | { kind: 'map'; obj: Map<unknown, unknown>; keys: unknown[]; values: unknown[] }
  | { kind: 'set'; obj: Set<unknown>; values: unknown[] }
  | { kind: 'typed'; obj: TypedArray; copy: TypedArray }
  | { kind: 'custom'; restore: () => void };

/**
 * An object that records its own state for a snapshot and is not walked
 * field by field: a large, sparse structure whose copy would make every
 * restore slow (the checkers' shadow: a 4 MiB page map, a few tracked
 * pages). `snapshotState()` records what is now and returns the function
 * that puts it back.
 */
export interface Snapshottable {
  snapshotState(): () => void;
}

/**
 * CPU fields that are caches of memory or bookkeeping of those caches
 * (SDM Vol. 3 §4.10: the TLB may be flushed at any time without changing
 * what software sees), and the memory unit itself (RAM is restored through
 * the dirty log). The code epoch only ever grows: it invalidates links
 * between compiled blocks, and going back would revive stale ones. So do
 * the WebAssembly tier's function tables (`wasm`): blocks compiled after
 * the snapshot stay in the code cache, holding their table slots, and a
 * table restored to fewer slots would give those slots to other blocks.
 */
const CPU_CACHES = new Set<string>([
  'mem', 'mem8', 'mem32', 'blocks', 'codePage', 'codeCached', 'codeEpoch', 'wasm',
  'tlbRSup', 'tlbWSup', 'tlbRUsr', 'tlbWUsr', 'tlbR', 'tlbW', 'tlbUsed', 'tlbGlobal', 'tlbUsedCount',
]);

/** Typed arrays larger than this are refused: a large buffer in host state would make every restore slow. */
const MAX_TYPED_BYTES = 1 << 20;

export interface SnapshotOptions {
  /** Objects reached from the roots that are immutable after initialization (an ELF file's tables, DWARF): not walked. */
  immutable?: Iterable<object>;
}

export interface RestoreStats {
  /** Frames logged dirty since the last restore. */
  dirtyPages: number;
  /** Of those, frames whose bytes differed and were copied back. */
  copiedPages: number;
}

export class MachineSnapshot {
  private readonly ram: Uint8Array;
  private readonly records: Record[] = [];
  private readonly cpu: CPU;
  private readonly mem: PhysicalMemory;
  /** Host-side objects recorded (for the bench and tests). */
  readonly objects: number;
  readonly lastRestore: RestoreStats = { dirtyPages: 0, copiedPages: 0 };

  /**
   * Record the machine of `cpu` now, with the host-side state reachable
   * from `roots` (the CPU is always one). Starts the dirty page log and
   * flushes the TLB, so that every later write is logged.
   */
  constructor(cpu: CPU, roots: readonly unknown[], opts: SnapshotOptions = {}) {
    this.cpu = cpu;
    this.mem = cpu.mem;
    this.mem.startDirtyLog();
    cpu.flushTlb(false);
    this.ram = this.mem.u8.slice();
    const seen = new Set<unknown>([this.mem, this.mem.u8, this.mem.u16, this.mem.u32, ...(opts.immutable ?? [])]);
    const stack: unknown[] = [cpu, ...roots];
    while (stack.length) this.visit(stack.pop(), seen, stack);
    this.objects = this.records.length;
  }

  private visit(v: unknown, seen: Set<unknown>, stack: unknown[]): void {
    if (v === null || (typeof v !== 'object') || seen.has(v)) return;
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      if (v instanceof DataView) throw new Error('snapshot: a DataView in machine state is not supported');
      const t = v as TypedArray;
      if (t.byteLength > MAX_TYPED_BYTES) throw new Error(`snapshot: a ${t.byteLength}-byte typed array in machine state (not RAM): too large to copy per restore`);
      this.records.push({ kind: 'typed', obj: t, copy: t.slice() });
      return;
    }
    if (typeof (v as Partial<Snapshottable>).snapshotState === 'function') {
      this.records.push({ kind: 'custom', restore: (v as Snapshottable).snapshotState() });
      return;
    }
    if (v instanceof ArrayBuffer || v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet) return;
    if (Array.isArray(v)) {
      this.records.push({ kind: 'array', obj: v, values: v.slice() });
      for (const e of v) stack.push(e);
      return;
    }
    if (v instanceof Map) {
      const keys = [...v.keys()];
      const values = [...v.values()];
      this.records.push({ kind: 'map', obj: v, keys, values });
      for (const k of keys) stack.push(k);
      for (const e of values) stack.push(e);
      this.recordFields(v as unknown as { [k: string | symbol]: unknown }, stack); // a subclass's own fields (KernelApi is a Map)
      return;
    }
    if (v instanceof Set) {
      const values = [...v];
      this.records.push({ kind: 'set', obj: v, values });
      for (const e of values) stack.push(e);
      this.recordFields(v as unknown as { [k: string | symbol]: unknown }, stack);
      return;
    }
    this.recordFields(v as { [k: string | symbol]: unknown }, stack);
  }

  /** An object's own data fields: recorded (when writable) and walked. */
  private recordFields(obj: { [k: string | symbol]: unknown }, stack: unknown[]): void {
    const skip = obj === (this.cpu as unknown) ? CPU_CACHES : null;
    const keys: (string | symbol)[] = [];
    const values: unknown[] = [];
    for (const k of Reflect.ownKeys(obj)) {
      if (skip !== null && typeof k === 'string' && skip.has(k)) continue;
      const d = Object.getOwnPropertyDescriptor(obj, k)!;
      if (!('value' in d)) continue; // an accessor: its state is elsewhere
      if (typeof d.value === 'function') {
        if (d.writable) {
          keys.push(k);
          values.push(d.value);
        }
        continue;
      }
      stack.push(d.value);
      if (d.writable) {
        keys.push(k);
        values.push(d.value);
      }
    }
    if (keys.length) this.records.push({ kind: 'object', obj, keys, values });
  }

  /** Put the machine back as it was when the snapshot was taken. */
  restore(): RestoreStats {
    const dirty = this.mem.takeDirtyLog();
    const ram = this.mem.u8;
    const saved = this.ram;
    let copied = 0;
    for (let i = 0; i < dirty.length; i++) {
      const p = dirty[i]! << 12;
      if (samePage(ram, saved, p)) continue;
      ram.set(saved.subarray(p, p + 4096), p);
      this.cpu.invalidateCode(p >>> 12);
      copied++;
    }
    for (const r of this.records) restoreRecord(r);
    // The caches: the TLB (and with it the CPU's choice of supervisor/user TLB) goes; writes are logged again from here.
    this.cpu.flushTlb(false);
    this.cpu.setCpl(this.cpu.cpl);
    this.lastRestore.dirtyPages = dirty.length;
    this.lastRestore.copiedPages = copied;
    return this.lastRestore;
  }
}

function samePage(a: Uint8Array, b: Uint8Array, p: number): boolean {
  // 32-bit words: the arrays share their alignment (both start at offset 0 of their buffers).
  const a32 = new Int32Array(a.buffer, a.byteOffset + p, 1024);
  const b32 = new Int32Array(b.buffer, b.byteOffset + p, 1024);
  for (let i = 0; i < 1024; i++) if (a32[i] !== b32[i]) return false;
  return true;
}

function restoreRecord(r: Record): void {
  switch (r.kind) {
    case 'object': {
      const { obj, keys, values } = r;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        if (obj[k] !== values[i]) obj[k] = values[i];
      }
      return;
    }
    case 'array': {
      const { obj, values } = r;
      obj.length = values.length;
      for (let i = 0; i < values.length; i++) if (obj[i] !== values[i]) obj[i] = values[i];
      return;
    }
    case 'map': {
      const { obj, keys, values } = r;
      if (obj.size === keys.length) {
        let same = true;
        for (let i = 0; i < keys.length && same; i++) same = obj.get(keys[i]) === values[i] && (values[i] !== undefined || obj.has(keys[i]));
        if (same) return;
      }
      obj.clear();
      for (let i = 0; i < keys.length; i++) obj.set(keys[i], values[i]);
      return;
    }
    case 'set': {
      const { obj, values } = r;
      if (obj.size === values.length && values.every((v) => obj.has(v))) return;
      obj.clear();
      for (const v of values) obj.add(v);
      return;
    }
    case 'typed':
      (r.obj as Uint8Array).set(r.copy as Uint8Array);
      return;
    case 'custom':
      r.restore();
      return;
  }
}
