/**
 * The kernel API natives called from real guest code: CPL-0 snippets
 * assembled at a kernel address, calling kmalloc & co. with the Linux
 * i386 kernel convention (-mregparm=3: EAX, EDX, ECX, then the stack;
 * variadic functions entirely on the stack), run until HLT.
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { kva } from '../../src/kernel/layout.js';
import { installKernelApi, type KernelApi } from '../../src/kernel/kapi.js';
import type { MmHooks } from '../../src/kernel/mm/index.js';
import type { StopReason } from '../../src/cpu/stop.js';
import { assemble } from '../helpers/asm.js';

/** Guest code and data live in low memory, below the buddy zone (kernel virtual addresses). */
const CODE = kva(0x10000) >>> 0;
const DATA = kva(0x20000) >>> 0;
const BUF = DATA + 0x100;

interface Machine {
  k: Kernel;
  api: KernelApi;
  console: [string, number][];
  run(src: string): StopReason | null;
  u32(addr: number): number;
  str(addr: number): string;
}

function machine(hooks?: MmHooks): Machine {
  const k = new Kernel({ memorySize: 16 << 20 });
  const console: [string, number][] = [];
  const api = installKernelApi(k, { console: (t, l) => console.push([t, l]), hooks });
  const run = (src: string): StopReason | null => {
    const syms = [...api].map(([n, a]) => `.set ${n}, 0x${a.toString(16)}`).join('\n');
    const header = `${syms}
.set DATA, 0x${DATA.toString(16)}
.set BUF, 0x${BUF.toString(16)}
.set GFP_KERNEL, 0xd0
.set GFP_ATOMIC, 0x20
.set __GFP_ZERO, 0x8000
`;
    const code = assemble(`${header}\n${src}\nhlt\n`, { base: CODE });
    k.mem.write(CODE, code);
    k.cpu.eip = CODE | 0;
    return k.cpu.run(1_000_000);
  };
  return {
    k, api, console, run,
    u32: (a) => k.mem.read32(a) >>> 0,
    str: (a) => Buffer.from(k.mem.read(a, 256)).toString('latin1').split('\0')[0],
  };
}

const SENTINELS = `
  mov ebx, 0x11111111
  mov esi, 0x22222222
  mov edi, 0x33333333
  mov ebp, 0x44444444
`;
function expectPreserved(m: Machine, esp0: number): void {
  const r = m.k.cpu.regs;
  expect([r[3], r[6], r[7], r[5]].map((v) => v >>> 0)).toEqual([0x11111111, 0x22222222, 0x33333333, 0x44444444]);
  expect(r[4]).toBe(esp0);
}

describe('kernel API from guest code', () => {
  it('exports the symbols at distinct kernel addresses', () => {
    const m = machine();
    for (const name of ['kmalloc', '__kmalloc', 'kzalloc', 'kfree', 'ksize', 'kmem_cache_create', 'kmem_cache_alloc', 'kmem_cache_zalloc',
      'kmem_cache_free', 'kmem_cache_destroy', 'alloc_pages', '__free_pages', 'page_address', 'virt_to_page', '__get_free_pages',
      'get_zeroed_page', 'free_pages', 'printk', 'vprintk', 'snprintf', 'vsnprintf', 'scnprintf', 'sprintf', 'vsprintf', 'panic', 'BUG']) {
      expect(m.api.get(name), name).toBeGreaterThanOrEqual(0xc0007800);
    }
    expect(new Set(m.api.values()).size).toBe(m.api.size);
    expect(m.api.symbolize(m.api.get('kfree')! + 2)).toEqual({ name: 'kfree', offset: 2, size: 16 });
  });

  it('kmalloc, ksize, kfree with register arguments; callee-saved registers preserved', () => {
    const m = machine();
    const esp0 = m.k.cpu.regs[4];
    const stop = m.run(`${SENTINELS}
      mov eax, 100
      mov edx, GFP_KERNEL
      call kmalloc
      mov [DATA], eax
      mov dword ptr [eax], 0xabcdef01
      call ksize
      mov [DATA+4], eax
      mov eax, [DATA]
      call kfree
      xor eax, eax
      call kfree
      xor eax, eax
      mov edx, GFP_KERNEL
      call kmalloc
      mov [DATA+8], eax
      call kfree
      mov eax, 100
      mov edx, GFP_ATOMIC
      call __kmalloc
      mov [DATA+12], eax
    `);
    expect(stop).toEqual({ kind: 'halted' });
    const p = m.u32(DATA);
    expect(m.api.mm.slab.findObject(p)).toMatchObject({ start: p, size: 128, allocated: true });
    expect(m.api.mm.slab.findObject(p)?.cache?.name).toBe('kmalloc-128');
    expect(m.u32(p)).toBe(0xabcdef01);
    expect(m.u32(DATA + 4)).toBe(128);
    expect(m.u32(DATA + 8)).toBe(0x10);
    expect(m.u32(DATA + 12)).toBe(p); // the freed object, reused
    expectPreserved(m, esp0);
  });

  it('kzalloc returns zeroed memory; the hooks see the guest allocations', () => {
    const events: [string, number, number][] = [];
    const m = machine({
      objectAllocated: (v, n) => events.push(['alloc', v, n]),
      objectFreed: (v, n) => events.push(['free', v, n]),
    });
    events.length = 0;
    const stop = m.run(`
      mov eax, 64
      mov edx, GFP_KERNEL
      call kmalloc
      mov [DATA], eax
      mov dword ptr [eax], -1
      mov dword ptr [eax+60], -1
      call kfree
      mov eax, 50
      mov edx, GFP_KERNEL
      call kzalloc
      mov [DATA+4], eax
      mov ecx, [eax]
      or ecx, [eax+60]
      mov [DATA+8], ecx
    `);
    expect(stop).toEqual({ kind: 'halted' });
    const p = m.u32(DATA);
    expect(m.u32(DATA + 4)).toBe(p);
    expect(m.u32(DATA + 8)).toBe(0);
    expect(events).toEqual([['alloc', p, 64], ['free', p, 64], ['alloc', p, 64]]);
  });

  it('kmem_cache_create with stack arguments and a guest constructor run on every object of a new slab', () => {
    const m = machine();
    const esp0 = m.k.cpu.regs[4];
    const stop = m.run(`${SENTINELS}
      push offset ctor
      push 0
      xor ecx, ecx
      mov edx, 24
      mov eax, offset name
      call kmem_cache_create
      add esp, 8
      mov [DATA], eax
      mov edx, GFP_KERNEL
      call kmem_cache_alloc
      mov [DATA+4], eax
      mov eax, [DATA]
      mov edx, GFP_KERNEL
      call kmem_cache_zalloc
      mov [DATA+8], eax
      mov eax, [DATA]
      mov edx, [DATA+4]
      call kmem_cache_free
      mov eax, [DATA]
      mov edx, [DATA+8]
      call kmem_cache_free
      mov eax, [DATA]
      call kmem_cache_destroy
      jmp done
    ctor:
      mov dword ptr [eax], 0x5eed5eed
      inc dword ptr [DATA+12]
      mov ecx, -1
      mov edx, -1
      ret
    name: .asciz "widget"
    done:
    `);
    expect(stop).toEqual({ kind: 'halted' });
    const handle = m.u32(DATA);
    const a = m.u32(DATA + 4);
    const b = m.u32(DATA + 8);
    expect(handle).not.toBe(0);
    expect(m.u32(DATA + 12)).toBe(170); // 4096 / 24: the constructor ran once per object of the slab
    expect(m.u32(a)).toBe(0x5eed5eed);
    expect(b).toBe(a + 24);
    expect(m.u32(b)).toBe(0); // kmem_cache_zalloc zeroed the constructed object
    expect(m.api.mm.slab.allCaches().some((c) => c.name === 'widget')).toBe(false);
    expect(m.console).toEqual([]);
    expectPreserved(m, esp0);
  });

  it('constructors may allocate, even from another cache with a constructor (nested construction)', () => {
    const m = machine();
    const esp0 = m.k.cpu.regs[4];
    const stop = m.run(`${SENTINELS}
      push offset ctorB
      push 0
      xor ecx, ecx
      mov edx, 24
      mov eax, offset nameB
      call kmem_cache_create
      add esp, 8
      mov [DATA+16], eax
      push offset ctorA
      push 0
      xor ecx, ecx
      mov edx, 16
      mov eax, offset nameA
      call kmem_cache_create
      add esp, 8
      mov [DATA], eax
      mov edx, GFP_KERNEL
      call kmem_cache_alloc
      mov [DATA+4], eax
      jmp done
    ctorA:
      push ebx
      mov ebx, eax
      mov eax, [DATA+16]
      mov edx, GFP_KERNEL
      call kmem_cache_alloc
      mov [ebx+4], eax
      mov eax, 8
      mov edx, GFP_KERNEL
      call kmalloc
      mov [ebx+8], eax
      inc dword ptr [DATA+8]
      pop ebx
      ret
    ctorB:
      mov dword ptr [eax], 0xb0b0b0b0
      inc dword ptr [DATA+12]
      ret
    nameA: .asciz "outer"
    nameB: .asciz "inner"
    done:
    `);
    expect(stop).toEqual({ kind: 'halted' });
    const slab = m.api.mm.slab;
    expect(m.u32(DATA + 8)).toBe(256); // 4096 / 16 outer objects constructed
    expect(m.u32(DATA + 12)).toBe(340); // two inner slabs of 170
    const a = m.u32(DATA + 4);
    const inner = m.u32(a + 4);
    expect(slab.findObject(inner)?.cache?.name).toBe('inner');
    expect(m.u32(inner)).toBe(0xb0b0b0b0);
    expect(slab.findObject(m.u32(a + 8))?.cache?.name).toBe('kmalloc-8');
    const outer = slab.allCaches().find((c) => c.name === 'outer')!;
    expect(outer.activeObjects).toBe(1);
    expect(slab.allCaches().find((c) => c.name === 'inner')!.activeObjects).toBe(256);
    expectPreserved(m, esp0);
  });

  it('alloc_pages returns a struct page; page_address, virt_to_page, __free_pages, __get_free_pages, free_pages', () => {
    const m = machine();
    const buddy = m.api.mm.buddy;
    const free0 = buddy.stats().freePages;
    const stop = m.run(`
      mov eax, GFP_KERNEL
      mov edx, 1
      call alloc_pages
      mov [DATA], eax
      call page_address
      mov [DATA+4], eax
      mov dword ptr [eax+4096], 0x12345678
      call virt_to_page
      mov [DATA+8], eax
      mov eax, [DATA]
      mov edx, 1
      call __free_pages
      mov eax, GFP_KERNEL
      or eax, __GFP_ZERO
      xor edx, edx
      call __get_free_pages
      mov [DATA+12], eax
      mov ecx, [eax+4096-4]
      mov [DATA+16], ecx
      xor edx, edx
      call free_pages
      mov eax, GFP_KERNEL
      call get_zeroed_page
      mov [DATA+20], eax
      xor edx, edx
      call free_pages
      xor eax, eax
      call free_pages
    `);
    expect(stop).toEqual({ kind: 'halted' });
    const page = m.u32(DATA);
    const virt = m.u32(DATA + 4);
    expect(page).toBe(buddy.pageStruct(buddy.virtToPhys(virt)));
    expect(page >= buddy.memMap && page < buddy.memMap + buddy.pages * 32).toBe(true);
    expect(virt % 8192).toBe(0);
    expect(m.u32(DATA + 8)).toBe(page);
    expect(m.u32(virt + 4096)).toBe(0x12345678);
    // An order-0 request is served from the order-0 free list first (a buddy left by an earlier split).
    expect(m.u32(DATA + 12) % 4096).toBe(0);
    expect(buddy.contains(buddy.virtToPhys(m.u32(DATA + 12)))).toBe(true);
    expect(m.u32(DATA + 16)).toBe(0);
    expect(m.u32(DATA + 20)).not.toBe(0);
    expect(buddy.stats().freePages).toBe(free0);
  });

  it('printk takes everything on the stack, 64-bit values as two dwords, strips the level', () => {
    const m = machine();
    const stop = m.run(`
      push 0xffffffff
      push 0xfffffffe
      push offset str
      push 42
      push offset fmt
      call printk
      add esp, 20
      mov [DATA], eax
      push offset str
      push offset fmt2
      call printk
      add esp, 8
      push 7
      push 0x1234
      mov edx, esp
      mov eax, offset fmt3
      call vprintk
      add esp, 8
      mov [DATA+4], eax
      jmp done
    fmt: .asciz "<6>answer %d %s %lld\\n"
    fmt2: .asciz "\\0013%-9s|%p\\n"
    fmt3: .asciz "%#x %d\\n"
    str: .asciz "kmemsim"
    done:
    `);
    expect(stop).toEqual({ kind: 'halted' });
    expect(m.console).toEqual([
      ['answer 42 kmemsim -2\n', 6],
      ['kmemsim  |(null)\n', 3],
      ['0x1234 7\n', 4],
    ]);
    expect(m.u32(DATA)).toBe(21);
    expect(m.u32(DATA + 4)).toBe(9);
  });

  it('snprintf, scnprintf, sprintf, vsnprintf, vsprintf write into guest buffers', () => {
    const m = machine();
    m.k.mem.write(BUF, new Uint8Array(64).fill(0xaa));
    const stop = m.run(`
      push 12345
      push offset fmt
      push 8
      push BUF
      call snprintf
      add esp, 16
      mov [DATA], eax
      push 12345
      push offset fmt
      push 8
      push BUF+16
      call scnprintf
      add esp, 16
      mov [DATA+4], eax
      push 12345
      push offset fmt
      push 0
      push BUF+32
      call snprintf
      add esp, 16
      mov [DATA+8], eax
      push 99
      push 7
      push esp
      mov ecx, offset fmt2
      mov edx, 64
      mov eax, BUF+48
      call vsnprintf
      add esp, 12
      mov [DATA+12], eax
      push -5
      push offset fmt
      push BUF+64
      call sprintf
      add esp, 12
      mov [DATA+16], eax
      push 0x61
      mov ecx, esp
      mov edx, offset fmt3
      mov eax, BUF+96
      call vsprintf
      add esp, 4
      mov [DATA+20], eax
      jmp done
    fmt: .asciz "value=%d!"
    fmt2: .asciz "%d-%d"
    fmt3: .asciz "[%3c]"
    done:
    `);
    expect(stop).toEqual({ kind: 'halted' });
    expect(m.str(BUF)).toBe('value=1');
    expect(m.k.mem.read(BUF + 7, 2)).toEqual(new Uint8Array([0, 0xaa]));
    expect(m.u32(DATA)).toBe(12);
    expect(m.str(BUF + 16)).toBe('value=1');
    expect(m.u32(DATA + 4)).toBe(7);
    expect(m.k.mem.read(BUF + 32, 1)[0]).toBe(0xaa); // size 0: nothing written
    expect(m.u32(DATA + 8)).toBe(12);
    expect(m.str(BUF + 48)).toBe('7-99');
    expect(m.u32(DATA + 12)).toBe(4);
    expect(m.str(BUF + 64)).toBe('value=-5!');
    expect(m.u32(DATA + 16)).toBe(9);
    expect(m.str(BUF + 96)).toBe('[  a]');
    expect(m.u32(DATA + 20)).toBe(5);
  });

  it('kmem_cache_destroy of a cache with objects is refused with SLUB\'s message and returns', () => {
    const m = machine();
    const stop = m.run(`
      push 0
      push 0
      xor ecx, ecx
      mov edx, 40
      mov eax, offset name
      call kmem_cache_create
      add esp, 8
      mov ebx, eax
      mov edx, GFP_KERNEL
      call kmem_cache_alloc
      mov eax, ebx
      call kmem_cache_destroy
      mov [DATA], ebx
      jmp done
    name: .asciz "busy"
    done:
    `);
    expect(stop).toEqual({ kind: 'halted' });
    expect(m.console).toHaveLength(1);
    expect(m.console[0][0]).toMatch(/^SLUB busy: kmem_cache_destroy called for cache that still has objects\. \(1 allocated: 0x[0-9a-f]{8}\)\n$/);
    expect(m.console[0][1]).toBe(3);
    expect(m.api.mm.slab.cacheFromHandle(m.u32(DATA), 'test').activeObjects).toBe(1);
  });
});

describe('the guest-memory accessor', () => {
  it('every guest pointer the natives follow goes through the accessor given', () => {
    const k = new Kernel({ memorySize: 16 << 20 });
    const log: string[] = [];
    const memory = {
      read: (lin: number, len: number) => {
        log.push(`read ${(lin >>> 0).toString(16)} ${len}`);
        return k.mem.read(lin, len);
      },
      write: (lin: number, data: Uint8Array) => {
        log.push(`write ${(lin >>> 0).toString(16)} ${data.length}`);
        k.mem.write(lin, data);
      },
      read32: (lin: number) => {
        log.push(`read32 ${(lin >>> 0).toString(16)}`);
        return k.mem.read32(lin);
      },
    };
    const out: string[] = [];
    const api = installKernelApi(k, { console: (t) => out.push(t), memory });
    // The scheduler's boot-time stores (the first task_struct, the per-CPU variables) went through it too.
    expect(log.length).toBeGreaterThan(0);
    expect(log.every((l) => l.startsWith('write '))).toBe(true);
    log.length = 0;
    const syms = [...api].filter(([n]) => n !== 'current_task' && n !== '__preempt_count').map(([n, a]) => `.set ${n}, 0x${a.toString(16)}`).join('\n');
    const code = assemble(`${syms}
      push offset fmt
      push 16
      push ${BUF}
      call snprintf
      add esp, 12
      hlt
    fmt: .asciz "hi"
    `, { base: CODE });
    k.mem.write(CODE, code);
    k.cpu.eip = CODE | 0;
    expect(k.cpu.run(10000)).toEqual({ kind: 'halted' });
    // At entry ESP pointed at the return address, 16 bytes below where it is now.
    const entry = (k.cpu.regs[4] - 16) >>> 0;
    expect(log).toEqual([
      `read32 ${(entry + 8).toString(16)}`, // size
      `read32 ${(entry + 4).toString(16)}`, // buf
      `read32 ${(entry + 12).toString(16)}`, // fmt
      expect.stringMatching(/^read c001[0-9a-f]{4} \d+$/), // the format string
      `write ${BUF.toString(16)} 3`,
    ]);
  });
});

describe('kernel API errors stop the machine', () => {
  const expectFault = (stop: StopReason | null, vector: number, eip: number, message: RegExp): void => {
    expect(stop?.kind).toBe('fault');
    if (stop?.kind !== 'fault') return;
    expect(stop.vector).toBe(vector);
    expect(stop.eip >>> 0).toBe(eip);
    expect(stop.message).toMatch(message);
  };

  it('a double kfree is a kernel BUG naming the pointer and the caller', () => {
    const m = machine();
    const stop = m.run(`
      mov eax, 10
      mov edx, GFP_KERNEL
      call kmalloc
      mov ebx, eax
      call kfree
      mov eax, ebx
      call kfree
    `);
    expectFault(stop, 6, m.api.get('kfree')!, /^kernel BUG: kfree: double free of 0x[0-9a-f]{8} \(object of kmalloc-16, size 16, already free\) \(called from 0xc001[0-9a-f]{4}\)$/);
    expect(m.console.at(-1)?.[1]).toBe(0);
    expect(m.console.at(-1)?.[0]).toMatch(/^kernel BUG: kfree: double free/);
    // The CPU stopped in kfree's native body (reached from its kernel-text entry).
    expect(m.api.symbolize(m.k.cpu.eip)?.name).toBe('kfree');
  });

  it('freeing a pointer that is not an object, pages with the wrong order, a bogus cache', () => {
    let m = machine();
    expectFault(m.run(`
      mov eax, 100
      mov edx, GFP_KERNEL
      call kmalloc
      add eax, 8
      call kfree
    `), 6, m.api.get('kfree')!, /kfree: 0x[0-9a-f]+ is not the start of an object: it is offset 8 into the object/);
    m = machine();
    expectFault(m.run(`
      mov eax, GFP_KERNEL
      mov edx, 2
      call __get_free_pages
      mov edx, 1
      call free_pages
    `), 6, m.api.get('free_pages')!, /free_pages: the pages at .* were allocated with order 2, freed with order 1/);
    m = machine();
    expectFault(m.run(`
      mov eax, GFP_KERNEL
      xor edx, edx
      call __get_free_pages
      xor edx, edx
      call __free_pages
    `), 6, m.api.get('__free_pages')!, /__free_pages: 0x[0-9a-f]+ is not a struct page \(it is a page's kernel address/);
    m = machine();
    expectFault(m.run(`
      mov eax, 0xc0020000
      mov edx, GFP_KERNEL
      call kmem_cache_alloc
    `), 6, m.api.get('kmem_cache_alloc')!, /kmem_cache_alloc: 0xc0020000 is not a struct kmem_cache/);
  });

  it('an unreadable format string or unwritable buffer is a kernel paging request fault', () => {
    let m = machine();
    expectFault(m.run(`
      push 0xc1000000
      call printk
    `), 14, m.api.get('printk')!, /^BUG: unable to handle kernel paging request at 0xc1000000 \(read\) in printk \(called from 0xc001/);
    m = machine();
    const stop = m.run(`
      push offset fmt
      push 0xc1000000
      call sprintf
      jmp done
    fmt: .asciz "x"
    done:
    `);
    expectFault(stop, 14, m.api.get('sprintf')!, /paging request at 0xc1000000 \(write\) in sprintf/);
    expect(stop?.kind === 'fault' && stop.errorCode).toBe(2);
  });

  it('panic and BUG stop with Linux\'s messages', () => {
    let m = machine();
    let stop = m.run(`
      push 7
      push offset fmt
      call panic
      jmp done
    fmt: .asciz "bad %d\\n"
    done:
    `);
    expect(stop?.kind).toBe('fault');
    expect(stop?.kind === 'fault' && stop.message).toMatch(/^Kernel panic - not syncing: bad 7 \(called from 0xc001[0-9a-f]{4}\)$/);
    expect(stop?.kind === 'fault' && stop.eip >>> 0).toBe(CODE + 12); // push imm8 (2) + push imm32 (5) + call (5)
    expect(m.console).toEqual([['Kernel panic - not syncing: bad 7\n', 0]]);
    m = machine();
    stop = m.run(`
      call BUG
    `);
    expect(stop?.kind === 'fault' && stop.message).toBe(`kernel BUG at 0x${(CODE + 5).toString(16)}!`);
    expect(stop?.kind === 'fault' && stop.vector).toBe(6);
  });
});
