/**
 * The watch framework's TypeScript API (src/watch/watch.ts) on real
 * instructions: pre and post handler calls with the value, statistics,
 * several buffers on a page, a buffer spanning two pages, foreign accesses
 * (counted in every buffer of the page, reported kmemcheck-style on
 * request), the errno results, pages kmemcheck hides too (both see the
 * access: the watch handler first), architectural transparency, and write
 * overlays.
 */
import { describe, expect, it } from 'vitest';
import { WatchFramework, type WatchAccess } from '../../src/watch/watch.js';
import { formatOverflowReport } from '../../src/watch/watch.js';
import { architecturalState, machine, type Machine } from '../shadow/fixture.js';

/** Guest bytes through the page-hiding service (hidden pages included). */
const peek = (m: Machine, virt: number, n: number): number[] => Array.from({ length: n }, (_, i) => WatchFramework.of(m.k).hiding.peek8((virt + i) | 0));

type Call = Omit<WatchAccess, 'ip' | 'pid' | 'buf'> & { post: boolean };

function watched(kmemcheck = false): { m: Machine; w: WatchFramework; calls: Call[] } {
  const m = machine({ kmemcheck });
  const w = WatchFramework.of(m.k);
  const calls: Call[] = [];
  expect(w.setHandler((a, post) => calls.push({ addr: a.addr, size: a.size, write: a.write, offset: a.offset, value: a.value, post }))).toBe(0);
  return { m, w, calls };
}

describe('watch framework: handler calls and statistics', () => {
  it('calls the handler before (value 0) and after (the value) each watched access; counts reads and writes', () => {
    const { m, w, calls } = watched();
    const d = m.data[0]!;
    expect(w.add(d + 16, 8)).toBe(0);
    expect(m.run(`mov dword ptr [D + 16], 0x11223344
       mov eax, [D + 16]
       add word ptr [D + 20], 5
       hlt`)).toEqual({ kind: 'halted' });
    expect(calls).toEqual([
      { addr: d + 16, size: 4, write: true, offset: 0, value: 0, post: false },
      { addr: d + 16, size: 4, write: true, offset: 0, value: 0x11223344, post: true },
      { addr: d + 16, size: 4, write: false, offset: 0, value: 0, post: false },
      { addr: d + 16, size: 4, write: false, offset: 0, value: 0x11223344, post: true },
      // ADD [m] reads and writes: one call, write set (a read-modify-write).
      { addr: d + 20, size: 2, write: true, offset: 4, value: 0, post: false },
      { addr: d + 20, size: 2, write: true, offset: 4, value: 5, post: true },
    ]);
    expect(w.stats(d + 16)).toEqual({ reads: 2, writes: 2, faults: 3, foreign: 0, nested: 0 });
    expect(m.k.cpu.regs[0]! >>> 0).toBe(0x11223344);
  });

  it('several buffers on one page; a foreign access is counted in every buffer of the page, not passed to the handler', () => {
    const { m, w, calls } = watched();
    const d = m.data[0]!;
    expect(w.add(d, 4)).toBe(0);
    expect(w.add(d + 8, 4)).toBe(0);
    m.run(`mov eax, [D + 8]
       mov byte ptr [D + 100], 1
       hlt`);
    expect(calls.filter((c) => !c.post).map((c) => c.addr)).toEqual([d + 8]);
    expect(w.stats(d)).toEqual({ reads: 0, writes: 0, faults: 1, foreign: 1, nested: 0 });
    expect(w.stats(d + 8)).toEqual({ reads: 1, writes: 0, faults: 2, foreign: 1, nested: 0 });
    expect(w.errors.length).toBe(0);
  });

  it('an access crossing a buffer end is cut there; the rest is foreign', () => {
    const { m, w, calls } = watched();
    const d = m.data[0]!;
    w.add(d + 2, 2);
    m.run('mov dword ptr [D], 0xaabbccdd\nhlt');
    expect(calls).toEqual([
      { addr: d + 2, size: 2, write: true, offset: 0, value: 0, post: false },
      { addr: d + 2, size: 2, write: true, offset: 0, value: 0xaabb, post: true },
    ]);
    expect(w.stats(d + 2)!.foreign).toBe(1);
  });

  it('a buffer spanning two pages sees a dword straddling them as one access', () => {
    const { m, w, calls } = watched();
    const d = m.data[0]!;
    w.add(d + 4090, 12);
    m.run('mov dword ptr [D + 4094], 0x01020304\nmov ebx, [D + 4094]\nhlt');
    expect(calls.filter((c) => c.post)).toEqual([
      { addr: d + 4094, size: 4, write: true, offset: 4, value: 0x01020304, post: true },
      { addr: d + 4094, size: 4, write: false, offset: 4, value: 0x01020304, post: true },
    ]);
    expect(m.k.cpu.regs[3]).toBe(0x01020304);
  });

  it('REP MOVSB into a buffer: one call per iteration, the copied byte as the value', () => {
    const { m, w, calls } = watched();
    const d = m.data[0]!;
    m.k.mem.write(d + 200, new Uint8Array([7, 8, 9]));
    w.add(d, 3);
    m.run('cld\nmov esi, D + 200\nmov edi, D\nmov ecx, 3\nrep movsb\nhlt');
    expect(calls.filter((c) => c.post).map((c) => [c.offset, c.value])).toEqual([[0, 7], [1, 8], [2, 9]]);
    expect(w.stats(d)!.writes).toBe(3);
  });

  it('foreign accesses are reported kmemcheck-style with setOverflowReport(true)', () => {
    const { m, w } = watched();
    const d = m.data[0]!;
    w.add(d, 24);
    w.setOverflowReport(true);
    m.run('mov dword ptr [D + 24], 5\nhlt');
    const errs = w.errors.drain();
    expect(errs).toHaveLength(1);
    const text = formatOverflowReport(errs[0]!);
    expect(text).toMatch(new RegExp(`^WARNING: kmcf: Caught 32-bit write to memory outside every watched buffer \\(${(d + 24).toString(16)}\\)\n[0-9a-f]{64}\n( i){24}( a){8}\n {49}\\^\n\nEIP: 0060:`));
  });

  it('errno results: -EEXIST on overlap, -EINVAL on len 0, -ENOENT for unknown buffers, -EBUSY for a second handler', () => {
    const { m, w } = watched();
    const d = m.data[0]!;
    expect(w.add(d, 16)).toBe(0);
    expect(w.add(d + 15, 4)).toBe(-17);
    expect(w.add(d + 16, 0)).toBe(-22);
    expect(w.delete(d + 1)).toBe(-2);
    expect(w.stats(d + 1)).toBeNull();
    expect(w.setHandler(() => {})).toBe(-16);
    expect(w.overlayCommit(d)).toBe(-2);
    expect(w.delete(d)).toBe(0);
    expect(w.hiding.isHidden(d)).toBe(false);
    const r = w.unregister();
    expect(r).toEqual([]);
    expect(w.unregister()).toBe(-22);
  });

  it('leaves the program\'s results unchanged (registers, flags, memory)', () => {
    const src = `mov dword ptr [D + 4], 0x80000001
       add dword ptr [D + 4], 0x7fffffff
       setc bl
       mov eax, [D + 4]
       push dword ptr [D + 4]
       pop dword ptr [D + 8]
       xchg ecx, [D + 8]
       hlt`;
    const ref = machine({ kmemcheck: false });
    WatchFramework.of(ref.k);
    ref.run(src);
    const { m, w } = watched();
    w.add(m.data[0]!, 16);
    m.run(src);
    const a = architecturalState(m.k);
    const b = architecturalState(ref.k);
    expect({ ...a, eip: a.eip - m.code, icount: 0 }).toEqual({ ...b, eip: b.eip - ref.code, icount: 0 });
    expect(peek(m, m.data[0]!, 64)).toEqual(peek(ref, ref.data[0]!, 64));
  });
});

describe('watch framework with kmemcheck on the same page', () => {
  it('both see the access, the watch handler first; kmemcheck still reports the uninitialized read; deleting keeps kmemcheck\'s page hidden', () => {
    const { m, w } = watched(true);
    const d = m.data[0]!;
    const order: string[] = [];
    m.km!.track(d, 64);
    const km = m.km!;
    const onFault = km.onFault.bind(km);
    km.onFault = (f) => {
      order.push('kmemcheck');
      onFault(f);
    };
    w.unregister();
    w.setHandler((_a, post) => order.push(post ? 'watch post' : 'watch pre'));
    w.add(d + 8, 4);
    m.run('mov eax, [D + 8]\nhlt');
    expect(order).toEqual(['watch pre', 'kmemcheck', 'watch post']);
    const errs = km.errors.drain();
    expect(errs.map((e) => [e.address >>> 0, e.size, e.stateName])).toEqual([[d + 8, 4, 'uninitialized']]);
    expect(w.delete(d + 8)).toBe(0);
    expect(w.hiding.isHiddenBy(d, km)).toBe(true);
    expect(w.hiding.isHidden(d)).toBe(true);
    m.run('nop\nmov eax, [D + 16]\nhlt');
    expect(km.errors.drain()).toHaveLength(1);
  });
});

describe('write overlays', () => {
  it('writes land in the overlay, memory keeps the original; reads see the overlay; commit writes it, discard drops it', () => {
    const { m, w } = watched();
    const d = m.data[0]!;
    m.k.mem.write(d, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(w.overlay(d, 8)).toBe(0);
    expect(w.overlay(d, 8)).toBe(-17);
    m.run(`mov word ptr [D + 2], 0xbbaa
       mov eax, [D]
       cld
       mov esi, D
       mov edi, D + 4
       mov ecx, 2
       rep movsb
       mov ebx, [D + 4]
       hlt`);
    // The program saw its writes...
    expect(m.k.cpu.regs[0]! >>> 0).toBe(0xbbaa0201);
    expect(m.k.cpu.regs[3]! >>> 0).toBe(0x08070201);
    // ...the buffer did not change...
    expect(peek(m, d, 8)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const o = w.overlayOf(d)!;
    expect(o.offsets()).toEqual([2, 3, 4, 5]);
    const texts: string[] = [];
    w.overlaySink = (t) => texts.push(t);
    // ...until it is committed.
    expect(w.overlayCommit(d)).toBe(0);
    expect(peek(m, d, 8)).toEqual([1, 2, 0xaa, 0xbb, 1, 2, 7, 8]);
    expect(texts).toEqual([`buffer ${d.toString(16)} 8 committed\n0002 03040506 aabb0102\n`]);
    expect(w.overlay(d, 8)).toBe(0);
    m.run('mov byte ptr [D], 0x55\nhlt');
    expect(w.overlayDiscard(d)).toBe(0);
    expect(peek(m, d, 1)).toEqual([1]);
  });
});
