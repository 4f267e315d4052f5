/**
 * A compiled block that keeps faulting goes back to the interpreter from
 * the faulting instruction on (JIT_FAULT_LIMIT, CPU.jitFaulted in
 * src/cpu/cpu.ts): under kmemcheck every access to a hidden page faults,
 * and leaving compiled code is expensive. The instructions before the
 * faulting one stay compiled, in a block cut short before it. The results
 * stay the interpreter's: a loop whose DIV faults on every iteration (#DE,
 * fixed up by the kernel's handler, which makes the divisor 1 and returns
 * to the DIV) ends in the same state compiled and interpreted. A block the
 * run loop enters after each trap handler's return goes to the JavaScript
 * tier (Block.prefersJs).
 */
import { describe, expect, it } from 'vitest';
import { Kernel } from '../../src/kernel/kernel.js';
import { kva } from '../../src/kernel/layout.js';
import { callGuest } from '../../src/kernel/call.js';
import { JIT_FAULT_LIMIT } from '../../src/cpu/cpu.js';
import { assemble } from '../helpers/asm.js';

const CODE = kva(0x10000) >>> 0;

interface BlockView {
  compiled: unknown;
  hits: number;
  jitFaults: number;
  split: boolean;
  prefersJs: boolean;
  instrs: { addr: number }[];
}
const blockAt = (k: Kernel, eip: number): BlockView => (k.cpu as unknown as { getBlock(eip: number): BlockView }).getBlock(eip);
/** Does the WebAssembly tier hold a function for the block (by its instructions, as WasmTier.handles)? */
const onWasm = (k: Kernel, b: BlockView): boolean => (k.cpu.wasm as unknown as { handles: Map<unknown, unknown> }).handles.has(b.instrs);

/** A loop whose DIV faults on every trip (#DE; the handler makes the divisor 1 and the DIV runs again). */
function divLoop(threshold: number, iterations = 200) {
  const k = new Kernel();
  k.cpu.jitThreshold = threshold;
  const code = assemble(`
      mov ecx, ${iterations}
      xor ebx, ebx
    1:
      xor esi, esi
      mov eax, 1000
      xor edx, edx
      div esi
      add ebx, eax
      dec ecx
      jnz 1b
      mov eax, ebx
      ret
  `, { base: CODE });
  k.mem.write(CODE, code);
  let faults = 0;
  k.setTrapHandler(0, (kk) => {
    faults++;
    kk.cpu.regs[6] = 1; // ESI: the DIV runs again and succeeds
  });
  const r = callGuest(k, CODE, [], 1_000_000);
  expect(r.returned).toBe(true);
  return { k, state: { eax: r.eax, icount: r.instructions, faults, regs: Array.from(k.cpu.regs) } };
}

function run(threshold: number, iterations = 200): { eax: number; ebx: number; icount: number; faults: number; compiled: boolean; length: number } {
  const { k, state } = divLoop(threshold, iterations);
  const loop = blockAt(k, CODE + 7);
  return { eax: state.eax, ebx: k.cpu.regs[3]! >>> 0, icount: state.icount, faults: state.faults, compiled: loop.compiled !== null, length: loop.instrs.length };
}

describe('blocks that keep faulting', () => {
  it(`are interpreted after ${JIT_FAULT_LIMIT} faults out of their compiled form, with the interpreter's results`, () => {
    const interpreted = run(Infinity);
    const compiled = run(0);
    expect(interpreted.faults).toBe(200);
    expect(interpreted.eax).toBe(200 * 1000);
    expect({ ...compiled, compiled: false, length: 0 }).toEqual({ ...interpreted, compiled: false, length: 0 });
    expect(interpreted.compiled).toBe(false);
    expect(interpreted.length).toBe(9);
    // The loop's block was compiled at once (threshold 0), faulted more than the limit and was cut short
    // before the DIV: what is left of it is compiled again.
    expect(compiled.length).toBe(3);
    expect(compiled.compiled).toBe(true);
    // A block that faulted fewer times stays compiled, whole.
    const few = run(0, JIT_FAULT_LIMIT - 4);
    expect(few.compiled).toBe(true);
    expect(few.length).toBe(9);
    expect(few.eax).toBe((JIT_FAULT_LIMIT - 4) * 1000);
  });
});

describe('a page fault inside a compiled block', () => {
  // Flags of the instructions before the faulting one live in the block's locals (src/cpu/jit/flags.ts):
  // the handler must see them as the interpreter leaves them, at the faulting EIP, with the same count.
  function faulting(threshold: number, access = '') {
    const k = new Kernel();
    k.cpu.jitThreshold = threshold;
    const data = kva(0x30000) >>> 0;
    const code = assemble(`
        mov ecx, 60
        xor ebx, ebx
        mov edi, ${data}
      1:
        mov esi, edi
        cmp ecx, 50
        jb 2f
        add ebx, ecx
        shl ebx, 1
        mov esi, 0x1000
      2:
        inc ebx
        add dword ptr [edi], ebx
        ${access}
        mov eax, [esi]
        add ebx, eax
        dec ecx
        jnz 1b
        mov eax, ebx
        ret
    `, { base: CODE });
    k.mem.write(CODE, code);
    const seen: number[] = [];
    k.setTrapHandler(14, (kk) => {
      // 0x1000 is not mapped: the handler records the interrupted flags, CR2 and EBX, and points ESI at the data.
      seen.push(kk.cpu.getEflags() & 0x8d5, kk.cpu.cr2 >>> 0, kk.cpu.regs[3]! >>> 0);
      kk.cpu.regs[6] = kk.cpu.regs[7]!;
    });
    const r = callGuest(k, CODE, [], 1_000_000);
    return { returned: r.returned, eax: r.eax >>> 0, icount: r.instructions, seen };
  }

  it('is delivered with the flags, EIP and count the interpreter gives', () => {
    const interpreted = faulting(Infinity);
    const compiled = faulting(0);
    expect(interpreted.returned).toBe(true);
    expect(interpreted.seen.length).toBe(3 * 11);
    expect(compiled).toEqual(interpreted);
  });

  it('in a read-modify-write (its write probe faults) is delivered with the flags, EIP and count the interpreter gives', () => {
    // ADD [ESI], EBX after a CMP/INC whose flags are still in the block's locals: the handler stores them (jit.ts).
    const interpreted = faulting(Infinity, 'add dword ptr [esi], ebx');
    const compiled = faulting(0, 'add dword ptr [esi], ebx');
    expect(interpreted.returned).toBe(true);
    expect(interpreted.seen.length).toBe(3 * 11);
    expect(compiled).toEqual(interpreted);
  });
});

describe('a block that keeps faulting after its first instruction', () => {
  it('is cut short before it: the instructions before stay compiled, the results are the interpreter\'s', () => {
    const interpreted = divLoop(Infinity);
    const { k, state } = divLoop(0);
    expect(state).toEqual(interpreted.state);
    expect(interpreted.k.cpu.blocksSplit).toBe(0);
    expect(k.cpu.blocksSplit).toBe(1);
    // The loop's block (from label 1) holds XOR, MOV, XOR: compiled again, on the JavaScript tier.
    const head = blockAt(k, CODE + 7);
    expect(head.instrs.map((i) => (i.addr - CODE) >>> 0)).toEqual([7, 9, 14]);
    expect(head.split).toBe(true);
    expect(head.compiled).not.toBeNull();
    if (k.cpu.wasm !== null) expect(onWasm(k, head)).toBe(false);
    // The DIV starts a block of its own, interpreted (it faults at its first instruction: not cut again).
    const div = blockAt(k, CODE + 16);
    expect(div.instrs[0]!.addr >>> 0).toBe(CODE + 16);
    expect(div.compiled).toBeNull();
    expect(div.hits).toBe(-Infinity);
  });

  it('on the WebAssembly tier counts against the block the chain went on to, not the one the run loop entered', () => {
    // The loop's first block jumps to a second page (a block of its own), where the DIV faults: the two are
    // chained, and the run loop enters the first. The second is cut short; the first stays compiled.
    const k = new Kernel();
    if (k.cpu.wasm === null || k.cpu.jitTier !== 'wasm') return;
    k.cpu.jitThreshold = 0;
    const other = CODE + 0x1000;
    k.mem.write(CODE, assemble(`
        mov ecx, 200
        xor ebx, ebx
      1:
        inc ebx
        jmp ${other}
    `, { base: CODE }));
    k.mem.write(other, assemble(`
        xor esi, esi
        mov eax, 1000
        xor edx, edx
        div esi
        add ebx, eax
        dec ecx
        jnz ${CODE + 7}
        mov eax, ebx
        ret
    `, { base: other }));
    k.setTrapHandler(0, (kk) => {
      kk.cpu.regs[6] = 1;
    });
    const r = callGuest(k, CODE, [], 1_000_000);
    expect(r.returned).toBe(true);
    expect(r.eax).toBe(200 * 1001);
    expect(k.cpu.blocksSplit).toBe(1);
    const first = blockAt(k, CODE + 7);
    expect(first.jitFaults).toBe(0);
    expect(first.compiled).not.toBeNull();
    expect(onWasm(k, first)).toBe(true);
    const head = blockAt(k, other);
    expect(head.split).toBe(true);
    expect(head.instrs.length).toBe(3);
  });
});

describe('a block the run loop enters after each trap', () => {
  function afterTraps(op: string) {
    const k = new Kernel();
    k.cpu.jitThreshold = 4;
    k.mem.write(CODE, assemble(`
        mov ecx, 100
        xor ebx, ebx
      1:
        ${op}
        add ebx, 2
        dec ecx
        jnz 1b
        mov eax, ebx
        ret
    `, { base: CODE }));
    let traps = 0;
    k.setTrapHandler(3, () => {
      traps++;
    });
    const r = callGuest(k, CODE, [], 1_000_000);
    expect(r.returned).toBe(true);
    expect(r.eax).toBe(200);
    return { k, traps, after: blockAt(k, (CODE + 7 + (op === 'int3' ? 1 : 0)) >>> 0) };
  }

  it('is compiled on the JavaScript tier; the same block reached from the one before it, on the WebAssembly tier', () => {
    const trapped = afterTraps('int3');
    if (trapped.k.cpu.wasm === null || trapped.k.cpu.jitTier !== 'wasm') return;
    expect(trapped.traps).toBe(100);
    expect(trapped.after.prefersJs).toBe(true);
    expect(trapped.after.compiled).not.toBeNull();
    expect(onWasm(trapped.k, trapped.after)).toBe(false);
    // Without the trap the loop is one block, linked to itself: WebAssembly.
    const linked = afterTraps('nop');
    expect(linked.traps).toBe(0);
    const loopBlock = blockAt(linked.k, CODE + 7);
    expect(loopBlock.prefersJs).toBe(false);
    expect(onWasm(linked.k, loopBlock)).toBe(true);
  });
});
