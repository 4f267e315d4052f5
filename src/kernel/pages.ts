/**
 * Physical page frames for the kernel: page tables, user pages, slabs.
 * A free list over a bump pointer; issue 4's buddy allocator replaces the
 * policy behind the same interface.
 */
import { PAGE_SIZE } from './layout.js';

export class OutOfMemory extends Error {
  constructor() {
    super('out of guest physical memory');
  }
}

export class PageFrameAllocator {
  private next: number;
  private readonly free: number[] = [];
  allocated = 0;

  constructor(start: number, private readonly end: number) {
    this.next = start;
  }

  /** One 4 KiB frame's physical address. */
  alloc(): number {
    this.allocated++;
    const f = this.free.pop();
    if (f !== undefined) return f;
    if (this.next + PAGE_SIZE > this.end) {
      this.allocated--;
      throw new OutOfMemory();
    }
    const p = this.next;
    this.next += PAGE_SIZE;
    return p;
  }

  /** Frames that alloc() can still hand out. */
  available(): number {
    return this.free.length + Math.floor((this.end - this.next) / PAGE_SIZE);
  }

  release(phys: number): void {
    this.allocated--;
    this.free.push(phys);
  }
}
