/**
 * The debugger's view of a bare machine's memory (`kmemsim boot -s`): no
 * simulated kernel, so no hidden pages — linear addresses go through the
 * guest's own page tables as the CPU would walk them (cpu.lookupPhys: no
 * accessed/dirty bits set, no fault raised; a supervisor read, so every
 * present page is readable), or are physical with paging off, as QEMU's
 * gdbstub reads memory (cpu_memory_rw_debug). Writes go through the CPU's
 * physical writer, which drops code decoded from the page.
 */
import type { CPU } from '../cpu/cpu.js';
import { decodeInstr, type ByteSource } from '../cpu/decoder.js';
import type { Instr } from '../cpu/instr.js';
import type { DebugView } from './step-loop.js';

export class MachineView implements DebugView, ByteSource {
  constructor(readonly cpu: CPU) {}

  /** Physical address of `lin` (any present page, read-only ones included); -1 when unmapped or outside RAM. */
  physOf(lin: number): number {
    const p = this.cpu.lookupPhys(lin | 0, false, false);
    return p >= 0 && p < this.cpu.mem.size ? p : -1;
  }

  peek8(lin: number): number {
    const p = this.physOf(lin);
    return p < 0 ? -1 : this.cpu.mem8[p]!;
  }

  poke(lin: number, data: Uint8Array): boolean {
    for (let i = 0; i < data.length; i++) if (this.physOf((lin + i) | 0) < 0) return false;
    for (let i = 0; i < data.length; i++) this.cpu.writePhys(this.physOf((lin + i) | 0), data.subarray(i, i + 1));
    return true;
  }

  fetch(addr: number): number {
    return this.peek8(addr);
  }

  decodeAt(lin: number): Instr {
    return decodeInstr(this, lin | 0, this.cpu.codeSize32 ? 4 : 2);
  }
}
