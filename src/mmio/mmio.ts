/**
 * Virtual MMIO on the page-hiding service, as Linux's mmiotrace (kmmio)
 * was built beside kmemcheck: ioremap() of a virtual device's physical
 * window maps scratch frames at a kernel address and hides them; every
 * access a driver makes there — readl()/writel(), ioread32(), a plain
 * pointer dereference, a REP MOVS — faults, and this client turns it into
 * device messages:
 *
 * - a read (or the read of a read-modify-write such as `or [reg], 1`):
 *   the #PF path asks the device (`onRead(offset, size)`, which answers at
 *   once: reads wait for the reply, as the seed describes) and puts the
 *   value in the scratch page, so the single-stepped instruction loads it;
 * - a write: after the single step, the #DB path takes the value the
 *   instruction stored in the scratch page and gives it to the device
 *   (`onWrite(offset, size, value)`).
 *
 * Sizes come from the access decoder (src/shadow/access.ts): exact for
 * every instruction it knows, one byte at CR2 for an access it did not
 * predict. An access wider than 4 bytes is split into dwords.
 *
 * With a trace (`--mmiotrace FILE`), each ioremap/iounmap and access is
 * logged in Linux's mmiotrace format (./mmiotrace.ts).
 */
import type { Kernel } from '../kernel/kernel.js';
import {
  ACCESS_PROBE, ACCESS_READ, ACCESS_WRITE, PageHidingService, type HiddenFault, type PageHidingClient,
} from '../kernel/page-hiding.js';
import { PTE_P, PTE_RW } from '../kernel/paging.js';
import { decodeAccesses } from '../shadow/access.js';
import type { MmioDevice } from './device.js';
import type { MmioTrace } from './mmiotrace.js';
import { IrqLines } from './irq.js';

/** A device attached at a physical address. */
interface Attached {
  phys: number;
  device: MmioDevice;
}

/** One ioremap(). */
export interface MmioMapping {
  id: number;
  phys: number;
  virt: number;
  len: number;
  device: MmioDevice;
  /** Offset of `phys` in the device's window. */
  base: number;
}

/** A write waiting for the end of the single step. */
interface PendingWrite {
  map: MmioMapping;
  addr: number;
  size: number;
}

/** Where ioremap() maps windows: above the direct map of every RAM size kmemsim allows below 768 MiB, up to 0xFFC00000. */
const IOREMAP_END = 0xffc00000;

const buses = new WeakMap<Kernel, MmioBus>();

export class MmioBus implements PageHidingClient {
  readonly name = 'mmio';
  /** A read's value goes into the scratch page before the instruction runs. */
  readonly early = true;
  readonly counters = { reads: 0, writes: 0, irqs: 0 };
  trace: MmioTrace | null = null;
  private readonly devices: Attached[] = [];
  private readonly maps: MmioMapping[] = [];
  private hiding: PageHidingService | null = null;
  private nextVirt: number;
  private nextId = 1;
  private pending: PendingWrite[] = [];

  private constructor(readonly kernel: Kernel) {
    // Above the direct map of the machine's RAM (kva(size)), 4 MiB aligned.
    const directEnd = 0xc0000000 + kernel.cpu.mem.size;
    this.nextVirt = Math.max(0xf0000000, Math.ceil(directEnd / 0x400000) * 0x400000);
  }

  static of(kernel: Kernel): MmioBus {
    let b = buses.get(kernel);
    if (b === undefined) buses.set(kernel, (b = new MmioBus(kernel)));
    return b;
  }

  static existsOn(kernel: Kernel): boolean {
    return buses.has(kernel);
  }

  /** Put `device` at physical address `phys` (its window must not overlap another's), its interrupt on line `irq` (./irq.ts; -1: none, raises are only counted). */
  attach(phys: number, device: MmioDevice, irq = -1): void {
    const p = phys >>> 0;
    if (this.devices.some((d) => p < d.phys + d.device.size && d.phys < p + device.size)) {
      throw new Error(`MMIO device ${device.name} at 0x${p.toString(16)} overlaps another device`);
    }
    this.devices.push({ phys: p, device });
    device.raiseIrq ??= () => {
      this.counters.irqs++;
      if (irq >= 0) IrqLines.of(this.kernel).raise(irq);
    };
  }

  /** The attached devices and their addresses. */
  attached(): readonly { phys: number; device: MmioDevice }[] {
    return this.devices;
  }

  /**
   * ioremap(phys, len): the kernel address of the window, or 0 when no
   * device covers [phys, phys + len) or the ioremap area is full (Linux
   * returns NULL). Each call is a new mapping with its own map id.
   */
  ioremap(phys: number, len: number): number {
    const p = phys >>> 0;
    const d = this.devices.find((x) => p >= x.phys && p + len <= x.phys + x.device.size);
    if (d === undefined || len <= 0) return 0;
    const first = p & ~0xfff;
    const pages = ((p + len + 0xfff) & ~0xfff) - first >>> 12;
    if (this.nextVirt + pages * 4096 > IOREMAP_END) return 0;
    const hiding = this.service();
    const start = this.nextVirt;
    this.nextVirt += (pages + 1) * 4096; // a gap page between windows
    const as = this.kernel.as;
    for (let i = 0; i < pages; i++) {
      const lin = (start + i * 4096) | 0;
      const frame = as.mapUser(lin, true);
      as.writePte(lin, frame | PTE_P | PTE_RW); // supervisor only
      hiding.hidePage(lin, this);
    }
    const map: MmioMapping = { id: this.nextId++, phys: p, virt: (start + (p & 0xfff)) >>> 0, len, device: d.device, base: p - d.phys };
    this.maps.push(map);
    this.trace?.map(map.id, map.phys, map.virt, map.len);
    return map.virt;
  }

  /** iounmap(virt): false when `virt` is not an ioremap()ped address. */
  iounmap(virt: number): boolean {
    const i = this.maps.findIndex((m) => m.virt === virt >>> 0);
    if (i < 0) return false;
    const m = this.maps[i]!;
    this.maps.splice(i, 1);
    const hiding = this.service();
    for (let lin = (m.virt & ~0xfff) >>> 0; lin < m.virt + m.len; lin += 4096) {
      hiding.showPage(lin | 0, this);
      this.kernel.as.unmap(lin | 0);
    }
    this.trace?.unmap(m.id);
    return true;
  }

  mappings(): readonly MmioMapping[] {
    return this.maps;
  }

  private service(): PageHidingService {
    if (this.hiding === null) {
      this.hiding = PageHidingService.of(this.kernel);
      this.hiding.register(this);
      this.hiding.setAccessDecoder(decodeAccesses);
    }
    return this.hiding;
  }

  private mappingAt(lin: number): MmioMapping | undefined {
    const a = lin >>> 0;
    return this.maps.find((m) => a >= m.virt && a < m.virt + m.len);
  }

  // ---- the fault path -----------------------------------------------------------------------------

  onFault(f: HiddenFault): void {
    const a = f.accesses;
    if (f.repeat || a.count === 0) {
      this.access(f, f.cr2, 1, f.errorCode & 2 ? ACCESS_WRITE : ACCESS_READ);
      return;
    }
    for (let i = 0; i < a.count; i++) if (!(a.kind[i]! & ACCESS_PROBE)) this.access(f, a.addr[i]!, a.size[i]!, a.kind[i]!);
  }

  onStepDone(f: HiddenFault): void {
    const pending = this.pending;
    this.pending = [];
    for (const w of pending) {
      for (let off = 0; off < w.size; off += 4) {
        const n = Math.min(4, w.size - off);
        const addr = w.addr + off;
        let v = 0;
        for (let i = 0; i < n; i++) v |= this.hiding!.peek8((addr + i) | 0) << (8 * i);
        v >>>= 0;
        const devOff = w.map.base + (addr - w.map.virt);
        this.counters.writes++;
        w.map.device.onWrite(devOff, n, v);
        this.trace?.access(true, n, w.map.id, w.map.phys + (addr - w.map.virt), v, f.eip);
      }
    }
    // An IRQ the access raised is taken once the instruction is complete (not between emulated REP iterations).
    if (f.frame !== null && f.after.eip !== f.eip && IrqLines.of(this.kernel).hasPending) IrqLines.of(this.kernel).deliver(f.frame);
  }

  /** One access: the part inside a mapping is read from the device now, or written to it after the step. */
  private access(f: HiddenFault, addr: number, size: number, kind: number): void {
    const m = this.mappingAt(addr) ?? this.mappingAt(addr + size - 1);
    if (m === undefined) return;
    const lo = Math.max(addr >>> 0, m.virt);
    const hi = Math.min((addr >>> 0) + size, m.virt + m.len);
    if (lo >= hi) return;
    if (kind & ACCESS_READ) {
      for (let off = lo; off < hi; off += 4) {
        const n = Math.min(4, hi - off);
        this.counters.reads++;
        const v = m.device.onRead(m.base + (off - m.virt), n) >>> 0;
        const bytes = new Uint8Array(n);
        for (let i = 0; i < n; i++) bytes[i] = (v >>> (8 * i)) & 0xff;
        this.hiding!.poke(off | 0, bytes);
        this.trace?.access(false, n, m.id, m.phys + (off - m.virt), n === 4 ? v : v & ((1 << (8 * n)) - 1), f.eip);
      }
    }
    if (kind & ACCESS_WRITE) this.pending.push({ map: m, addr: lo, size: hi - lo });
  }
}
