/** Shadow memory, the error queue and the report text, as units. */
import { describe, expect, it } from 'vitest';
import {
  SHADOW_FREED, SHADOW_INITIALIZED, SHADOW_UNALLOCATED, SHADOW_UNINITIALIZED, Shadow, UNTRACKED, pooledShadows,
} from '../../src/shadow/shadow.js';
import { ErrorQueue } from '../../src/shadow/errors.js';
import { formatDump, formatHeader, formatLost, formatTrace } from '../../src/shadow/report.js';
import type { KmemcheckError } from '../../src/shadow/errors.js';

const BASE = 0xc0200000 | 0;

describe('shadow memory', () => {
  it('tracks whole pages: the range gets the state, the rest of a new page is initialized, other pages have no shadow', () => {
    const s = new Shadow();
    s.track(BASE + 0xff0, 0x20, SHADOW_UNALLOCATED);
    expect(s.trackedPages).toBe(2);
    expect(s.get(BASE + 0xfef)).toBe(SHADOW_INITIALIZED);
    expect(s.get(BASE + 0xff0)).toBe(SHADOW_UNALLOCATED);
    expect(s.get(BASE + 0x100f)).toBe(SHADOW_UNALLOCATED);
    expect(s.get(BASE + 0x1010)).toBe(SHADOW_INITIALIZED);
    expect(s.get(BASE + 0x2000)).toBe(UNTRACKED);
    expect(s.isTracked(BASE + 0x1fff)).toBe(true);
    expect(s.isTracked(BASE - 1)).toBe(false);
  });

  it('a released shadow\'s page map and slot buffers go to the next shadow, the map all zero again', () => {
    while (pooledShadows() > 0) new Shadow(); // other tests in this worker may have released some
    const a = new Shadow();
    a.track(BASE, 0x3000, SHADOW_UNINITIALIZED);
    a.track(BASE + 0x100000, 16, SHADOW_FREED);
    a.untrack(BASE + 0x1000, 1); // a free slot at release time
    const { tracked, bytes } = a;
    a.release();
    a.release(); // a second call does nothing
    expect(pooledShadows()).toBe(1);
    const b = new Shadow();
    expect(pooledShadows()).toBe(0);
    expect(b.tracked).toBe(tracked);
    expect(b.bytes).toBe(bytes);
    expect(tracked.every((v) => v === 0)).toBe(true);
    expect(b.trackedPages).toBe(0);
    expect(b.get(BASE)).toBe(UNTRACKED);
    // Pooled slots are taken again, their old states overwritten.
    b.track(BASE + 0x5000, 8, SHADOW_UNALLOCATED);
    expect(b.get(BASE + 0x5000)).toBe(SHADOW_UNALLOCATED);
    expect(b.get(BASE + 0x5008)).toBe(SHADOW_INITIALIZED);
    expect(b.get(BASE + 0x5fff)).toBe(SHADOW_INITIALIZED);
    expect(b.bytes.length).toBe(bytes.length); // no new slot
    expect(b.trackedPageNumbers()).toEqual([(BASE + 0x5000) >>> 12]);
    // At most four wait in the pool.
    const many = Array.from({ length: 6 }, () => new Shadow());
    for (const s of many) s.release();
    expect(pooledShadows()).toBe(4);
  });

  it('mark* set states across pages where tracked', () => {
    const s = new Shadow();
    s.track(BASE, 0x2000, SHADOW_UNALLOCATED);
    s.markUninitialized(BASE + 0xffe, 4);
    s.markFreed(BASE + 0x1ffe, 8); // runs off the tracked pages: the untracked part is ignored
    expect([0xffd, 0xffe, 0x1001, 0x1002].map((o) => s.get(BASE + o))).toEqual([SHADOW_UNALLOCATED, SHADOW_UNINITIALIZED, SHADOW_UNINITIALIZED, SHADOW_UNALLOCATED]);
    expect(s.get(BASE + 0x1fff)).toBe(SHADOW_FREED);
    s.markInitialized(BASE, 0x2000);
    expect(s.get(BASE + 0x1fff)).toBe(SHADOW_INITIALIZED);
    s.untrack(BASE + 0x1000, 1);
    expect(s.isTracked(BASE + 0x1000)).toBe(false);
    expect(s.isTracked(BASE)).toBe(true);
  });

  it('copy() propagates per byte; an untracked source counts as initialized; untracked destinations are skipped', () => {
    const s = new Shadow();
    s.track(BASE, 0x1000, SHADOW_UNINITIALIZED);
    s.markInitialized(BASE + 1, 1);
    s.markFreed(BASE + 2, 1);
    s.copy(BASE + 0x100, BASE, 4);
    expect([0, 1, 2, 3].map((i) => s.get(BASE + 0x100 + i))).toEqual([SHADOW_UNINITIALIZED, SHADOW_INITIALIZED, SHADOW_FREED, SHADOW_UNINITIALIZED]);
    s.copy(BASE + 0x200, BASE + 0x1000, 2);
    expect(s.get(BASE + 0x200)).toBe(SHADOW_INITIALIZED);
    s.copy(BASE + 0x5000, BASE, 4);
    expect(s.get(BASE + 0x5000)).toBe(UNTRACKED);
  });

  it('test(): partial-ok passes on any initialized byte and otherwise names the first bad state; strict needs every byte', () => {
    const s = new Shadow();
    s.track(BASE, 0x1000, SHADOW_UNINITIALIZED);
    s.markFreed(BASE, 1);
    s.markInitialized(BASE + 2, 1);
    expect(s.test(BASE, 4, true)).toBe(SHADOW_INITIALIZED);
    expect(s.test(BASE, 4, false)).toBe(SHADOW_FREED);
    expect(s.test(BASE + 1, 1, true)).toBe(SHADOW_UNINITIALIZED);
    expect(s.test(BASE + 2, 1, false)).toBe(SHADOW_INITIALIZED);
    expect(s.test(BASE + 0xffe, 4, false)).toBe(SHADOW_UNINITIALIZED); // the untracked half is not checked
    expect(s.test(BASE + 0x3000, 4, false)).toBe(SHADOW_INITIALIZED);
  });
});

describe('error queue', () => {
  it('drops the same EIP twice in a row, not an EIP seen before something else', () => {
    const q = new ErrorQueue(4);
    expect(q.begin(0x10)).not.toBeNull();
    expect(q.begin(0x10)).toBeNull();
    expect(q.begin(0x20)).not.toBeNull();
    expect(q.begin(0x10)).not.toBeNull();
    expect(q.suppressed).toBe(1);
    expect(q.length).toBe(3);
  });
  it('counts errors that do not fit as lost until takeLost()', () => {
    const q = new ErrorQueue(2);
    for (let i = 0; i < 5; i++) q.begin(i);
    expect(q.length).toBe(2);
    expect(q.lost).toBe(3);
    expect(q.drain()).toHaveLength(2);
    expect(q.takeLost()).toBe(3);
    expect(q.lost).toBe(0);
    expect(q.begin(9)).not.toBeNull();
  });
});

describe('report text', () => {
  const e = (address: number, size: number, state: number): KmemcheckError => ({
    state,
    stateName: ['unallocated', 'uninitialized', 'initialized', 'freed'][state],
    address,
    size,
    access: 'read',
    eip: 0xc1000000,
    eflags: 0x46,
    regs: { eax: 0, ebx: 0, ecx: 0, edx: 0, esi: 0, edi: 0, ebp: 0, esp: 0 },
    sregs: { es: 0x68, cs: 0x60, ss: 0x68, ds: 0x68, fs: 0, gs: 0 },
    cr: { cr0: 0, cr2: address, cr3: 0, cr4: 0 },
    dr: [0, 0, 0, 0, 0, 0, 0, 0],
    icount: 0,
    dumpBase: address & ~31,
    memory: Array.from({ length: 32 }, (_, i) => (i === 31 ? null : i)),
    shadow: Array.from({ length: 32 }, (_, i) => (i < 8 ? 0 : i < 16 ? 1 : i < 24 ? 3 : i < 31 ? 2 : -1)),
    trace: [0xc1000100],
    stack: [],
  });
  it('header, dump, shadow letters and caret', () => {
    const x = e(0xc1a2b3c4, 2, 3);
    expect(formatHeader(x)).toBe('WARNING: kmemcheck: Caught 16-bit read from freed memory (c1a2b3c4)');
    const [mem, sh, caret] = formatDump(x);
    expect(mem).toBe('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e??');
    expect(sh).toBe(' a a a a a a a a u u u u u u u u f f f f f f f f i i i i i i i -');
    expect(caret).toBe(' '.repeat(1 + 2 * 4) + '^');
    expect(formatDump(e(0xc1a2b3c0, 4, 1))[2]).toBe(' ^');
    expect(formatDump(e(0xc1a2b3df, 1, 1))[2]).toBe(' '.repeat(63) + '^');
  });
  it('trace lines without a symbolizer, and the lost line', () => {
    expect(formatTrace(e(0, 4, 1))).toEqual([' [<c1000100>] 0xc1000100']);
    expect(formatLost(3)).toBe('kmemcheck: Lost 3 error reports because the queue was too small');
  });
  it('without frame pointers, a symbolizer finds return addresses among the stack words ("? ")', () => {
    const x = { ...e(0, 4, 1), trace: [], stack: [5, 0xc1000123, 7] };
    expect(formatTrace(x, (a) => (a === 0xc1000123 ? { function: 'f', offset: 0x23, size: 0x80 } : null))).toEqual([' [<c1000123>] ? f+0x23/0x80']);
  });
});
