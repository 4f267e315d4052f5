/**
 * The block compiler (src/cpu/jit.ts) against the interpreter: the same
 * snippet run with every block compiled from its first execution
 * (jitThreshold 0) and never compiled (Infinity) must end in the same
 * registers, flags, memory, retired-instruction count and stop — including
 * when a fault, the budget or a code write lands inside a compiled loop.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { CPU } from '../../src/cpu/cpu.js';
import { compileBlock, retainedBlockCount } from '../../src/cpu/jit.js';
import { decodeAt } from '../../src/cpu/decoder.js';
import { runSnippet, readBytes, DATA, type SnippetOptions } from '../helpers/asm.js';

function both(src: string, opts: SnippetOptions = {}, setup?: (cpu: CPU) => void, regions = false) {
  const run = (threshold: number) =>
    runSnippet(src, (cpu) => {
      cpu.jitThreshold = threshold;
      cpu.jitRegions = regions;
      setup?.(cpu);
    }, opts);
  const a = run(Infinity);
  // Regions need their blocks decoded first: a low threshold rather than 0.
  const b = run(regions ? 2 : 0);
  const state = (r: ReturnType<typeof run>) => ({
    stop: r.stop,
    regs: Array.from(r.cpu.regs),
    eip: r.cpu.eip,
    eflags: r.cpu.getEflags(),
    icount: r.cpu.icount,
    data: readBytes(r.cpu, DATA, 64),
  });
  return { interpreted: state(a), compiled: state(b) };
}

describe('block compiler agrees with the interpreter', () => {
  it('a counted loop with memory, ALU, LEA, PUSH/POP and a call (the loop runs inside one compiled block)', () => {
    const { interpreted, compiled } = both(`
      mov ecx, 1000
      xor eax, eax
      mov ebx, ${DATA}
    1:
      add eax, ecx
      lea edx, [eax + ecx * 4 + 3]
      mov [ebx + 4], edx
      movzx esi, byte ptr [ebx + 4]
      push esi
      pop edi
      xor [ebx], edi
      cmp dword ptr [ebx + 4], 0x100
      dec ecx
      jnz 1b
      call 2f
      hlt
    2:
      inc eax
      ret
    `);
    expect(compiled).toEqual(interpreted);
    expect(interpreted.stop).toEqual({ kind: 'halted' });
  });

  it('a fault in the middle of a compiled loop is delivered at the faulting instruction with the same count', () => {
    // DIV by a counter that reaches zero on iteration 700: #DE with no IDT stops the machine.
    const { interpreted, compiled } = both(`
      mov ecx, 700
      mov ebx, ${DATA}
    1:
      mov eax, 1000
      xor edx, edx
      lea esi, [ecx - 1]
      div esi
      mov [ebx], eax
      dec ecx
      jmp 1b
    `);
    expect(compiled).toEqual(interpreted);
    expect(interpreted.stop).toMatchObject({ kind: 'fault', vector: 0 });
  });

  it('the budget ends a compiled loop after exactly the same instruction', () => {
    for (const budget of [1, 2, 7, 100, 1001, 4093]) {
      const { interpreted, compiled } = both(
        `
        xor eax, eax
      1:
        inc eax
        add ebx, eax
        jmp 1b
        `,
        { budget },
      );
      expect(compiled, `budget ${budget}`).toEqual(interpreted);
      expect(interpreted.icount).toBe(budget);
    }
  });

  it('code written by a compiled loop takes effect at once (self-modifying code)', () => {
    // The loop patches the immediate of the "mov eax, imm" it executes next time round.
    const { interpreted, compiled } = both(`
      mov ecx, 10
    1:
      mov eax, 0
    2:
      add ebx, eax
      mov dword ptr [1b + 1], ecx
      dec ecx
      jnz 1b
      hlt
    `);
    expect(compiled).toEqual(interpreted);
    // 0 + 10 + 9 + ... + 2 (the patch made on each pass is seen on the next).
    expect(interpreted.regs[3]).toBe(54);
  });

  it('compiles straight-line code with no template (every executor called directly)', () => {
    const bytes = Uint8Array.from([0x0f, 0xa2]); // cpuid
    const ins = decodeAt(bytes, 0x1000);
    expect(typeof compileBlock([ins])).toBe('function');
  });

  it('Jcc fused with the CMP/TEST/ADD before it takes the same branches as the lazy flags, for every condition', () => {
    const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
    const pairs = [[0, 0], [1, 2], [2, 1], [-1, 1], [1, -1], [0x7fffffff, -1], [-0x80000000, 1], [-0x80000000, -0x80000000], [5, 5], [-7, -7]];
    for (const cc of CC) {
      let body = `mov edi, ${DATA}\n`;
      pairs.forEach(([a, b], i) => {
        body += `
          xor edx, edx
          mov eax, ${a}
          mov ebx, ${b}
          cmp eax, ebx
          j${cc} 1f
          or edx, 1
        1:
          test eax, ebx
          j${cc} 2f
          or edx, 2
        2:
          add eax, ebx
          j${cc} 3f
          or edx, 4
        3:
          mov [edi + ${i * 4}], edx
        `;
      });
      const { interpreted, compiled } = both(`${body}\nhlt`);
      expect(compiled, `j${cc}`).toEqual(interpreted);
    }
  });
});

describe('inline templates (src/cpu/jit/templates.ts)', () => {
  it('8/16/32-bit ALU, TEST, INC/DEC, NEG/NOT, shifts, IMUL, MOVSX/MOVZX, SETcc, CMOVcc, PUSH/POP, LEAVE agree with the interpreter, flags included', () => {
    // Each group ends with PUSHFD (an executor: the flags kept in the block's locals must be written back first).
    const groups = [
      'add al, bl', 'sub bx, cx', 'xor ah, dl', 'and cx, 0x7ff0', 'or dl, 0x81', 'cmp al, 0x80', 'cmp bx, cx',
      'add byte ptr [edi + 1], bl', 'sub word ptr [edi + 2], cx', 'cmp dword ptr [edi + 4], eax', 'add dword ptr [edi + 4], 0x7fffffff',
      'test al, 0x80', 'test cx, bx', 'test dword ptr [edi + 4], esi',
      'inc al', 'dec bx', 'inc dword ptr [edi + 8]', 'dec byte ptr [edi + 9]', 'inc esi', 'dec esi',
      'neg eax', 'neg byte ptr [edi + 10]', 'not ebx', 'not word ptr [edi + 12]', 'neg cx',
      'shl eax, 1', 'shr ebx, 1', 'sar ecx, 1', 'shl eax, 7', 'shr dl, 3', 'sar bx, 5', 'shl byte ptr [edi + 13], 1', 'sar dword ptr [edi + 4], 31', 'shr word ptr [edi + 2], 15',
      'imul eax, ebx', 'imul ecx, dword ptr [edi + 4], 1000', 'imul edx, ecx, -3', 'imul esi, esi',
      'movsx eax, bl', 'movsx ebx, word ptr [edi + 2]', 'movzx ecx, byte ptr [edi + 1]', 'movzx edx, ax',
      'cmp eax, ebx\n setl cl\n setb byte ptr [edi + 14]\n setz ch\n seto dl\n setp dh\n setg byte ptr [edi + 15]',
      'add eax, ebx\n cmovo ecx, ebx\n cmovs edx, dword ptr [edi + 4]\n cmovc esi, eax\n cmova ebx, ecx',
      'inc eax\n setc cl\n setz dl\n cmovo esi, eax',
      'sub al, 1\n seta cl\n setle dl\n setns byte ptr [edi + 16]',
      'push eax\n push dword ptr [edi + 4]\n push 0x1234\n pop ebx\n pop ecx\n pop edx',
      'push ebp\n mov ebp, esp\n push eax\n push ebx\n leave',
      'mov al, byte ptr [edi + 3]\n mov word ptr [edi + 6], bx\n mov ah, dh\n mov cx, word ptr [edi + 8]\n mov byte ptr [edi + 17], 0x5a\n mov word ptr [edi + 18], 0x1234',
      'cdq\n cwde\n lea esi, [eax + ebx * 2 + 7]',
      'adc eax, ebx', 'sbb cl, dl', 'adc dword ptr [edi + 4], 5', 'sbb ebx, dword ptr [edi]', 'stc\n adc eax, 0', 'cmp eax, ebx\n sbb ecx, ecx',
      'add eax, ebx\n adc edx, ecx', 'sub al, bl\n sbb ah, 0x7f', 'inc eax\n adc ebx, eax', 'shl eax, 1\n adc byte ptr [edi + 1], 1',
      'push esi\n push edi\n lea esi, [edi + 4]\n add edi, 20\n movsd\n movsb\n std\n movsw\n stosb\n cld\n stosd\n stosw\n pop edi\n pop esi',
      'shld eax, ebx, 5', 'shrd dword ptr [edi + 4], ecx, 13', 'shrd esi, edx, 1', 'shld dword ptr [edi + 8], eax, 31', 'shld bx, cx, 3',
    ];
    const seeds = [[0, 0], [1, 2], [0x7f, 0x80], [-1, 1], [0x7fffffff, -0x80000000], [0x12345678, -0x789abcdf], [0x8000, 0xffff], [-0x80000000, -1]];
    let body = `mov edi, ${DATA + 64}\nmov ebp, ${DATA}\n`;
    seeds.forEach(([a, b], i) => {
      body += `mov eax, ${a}\nmov ebx, ${b}\nmov ecx, ${(a ^ 0x5555) | 0}\nmov edx, ${(b * 3) | 0}\nmov esi, ${(a - b) | 0}\n`;
      body += `mov dword ptr [edi], ${a}\nmov dword ptr [edi + 4], ${b}\nmov dword ptr [edi + 8], ${(a + b) | 0}\nmov dword ptr [edi + 12], ${(a * 7) | 0}\n`;
      groups.forEach((g) => {
        body += `${g}\npushfd\npop dword ptr [ebp]\nxor [ebp + 4], eax\nadd [ebp + 8], ebx\nadd [ebp + 12], ecx\nxor [ebp + 16], edx\nadd [ebp + 20], esi\nmov eax, [ebp]\nxor [ebp + 24], eax\n`;
        body += `mov eax, ${a ^ i}\n`;
      });
      body += 'mov eax, [edi]\nadd [ebp + 28], eax\nmov eax, [edi + 4]\nadd [ebp + 28], eax\nmov eax, [edi + 8]\nadd [ebp + 28], eax\nmov eax, [edi + 12]\nadd [ebp + 28], eax\nmov eax, [edi + 16]\nadd [ebp + 28], eax\n';
    });
    const { interpreted, compiled } = both(`${body}\nhlt`, { budget: 1_000_000 });
    expect(compiled).toEqual(interpreted);
    expect(interpreted.stop).toEqual({ kind: 'halted' });
  });

  it('a loop whose flags are only ever in the locals leaves the right EFLAGS at every exit (budget ends mid-loop)', () => {
    for (const budget of [3, 5, 8, 13, 1000, 1001, 1002]) {
      const { interpreted, compiled } = both(`
        mov ecx, 300
        mov esi, -5
      1:
        add esi, 3
        shl esi, 1
        sar esi, 1
        inc eax
        dec ecx
        jnz 1b
        hlt
      `, { budget });
      expect(compiled, `budget ${budget}`).toEqual(interpreted);
    }
  });
});

describe('instrumentation (src/cpu/jit/instrumentation.ts)', () => {
  it('is emitted at every inline read, write, ESP change and compare, and at executor calls', () => {
    const seen = { reads: 0, writes: 0, rmw: 0, stack: 0, esp: 0, cmp: 0, exec: 0, readBytes: 0, lastCmp: [0, 0] };
    const inst = {
      key: 'test-counters',
      bindings: { $seen: seen },
      read: (a: { size: number; rmw: boolean; stack: boolean; lin: string }) =>
        `$seen.reads++; $seen.readBytes += ${a.size};${a.rmw ? ' $seen.rmw++;' : ''}${a.stack ? ' $seen.stack++;' : ''}`,
      write: (a: { stack: boolean; value?: string }) => `$seen.writes++;${a.stack ? ' $seen.stack++;' : ''}`,
      stackPointer: () => '$seen.esp++;',
      compare: (c: { left: string; right: string }) => `$seen.cmp++; $seen.lastCmp = [${c.left}, ${c.right}];`,
      executor: () => '$seen.exec++;',
    };
    const r = runSnippet(`
        mov ecx, 100
        mov ebx, ${DATA}
      1:
        mov eax, [ebx]
        add dword ptr [ebx + 4], 3
        mov [ebx + 8], eax
        push eax
        pop edx
        movzx esi, byte ptr [ebx + 1]
        bswap edi
        cmp ecx, 7
        dec ecx
        jnz 1b
        hlt
    `, (cpu) => {
      cpu.jitThreshold = 0;
      cpu.setJitInstrumentation(inst);
    });
    expect(r.stop).toEqual({ kind: 'halted' });
    // Per iteration: reads [ebx], [ebx+4] (rmw), pop, byte [ebx+1]; writes [ebx+4] (rmw), [ebx+8], push.
    expect(seen.reads).toBe(400);
    expect(seen.readBytes).toBe(100 * (4 + 4 + 4 + 1));
    expect(seen.rmw).toBe(100);
    expect(seen.writes).toBe(300);
    expect(seen.stack).toBe(200);
    expect(seen.esp).toBe(200);
    expect(seen.cmp).toBe(100);
    expect(seen.lastCmp).toEqual([1, 7]);
    expect(seen.exec).toBe(101); // BSWAP each time round, and the HLT
    // Without instrumentation the same program runs with no hook (and the same result).
    const before = { ...seen };
    runSnippet('mov eax, [0x20000]\nhlt', (cpu) => { cpu.jitThreshold = 0; });
    expect(seen).toEqual(before);
  });
});

describe('registers kept in locals (src/cpu/jit.ts)', () => {
  it('are stored back when an executor in the middle of a block ends it (a REP MOVSB leaving EIP on itself)', () => {
    const { interpreted, compiled } = both(`
      mov edx, 3
    1:
      mov ebx, edx
      add ebx, 0x100
      mov esi, ${DATA}
      mov edi, ${DATA + 0x20000}
      mov ecx, 0x11000
      rep movsb
      add ebx, 7
      mov [${DATA} + 8], ebx
      dec edx
      jnz 1b
      hlt
    `);
    expect(compiled).toEqual(interpreted);
    expect(interpreted.regs[3]).toBe(0x108);
  });
});

describe('regions (CPU.jitRegions)', () => {
  it('a loop split over several blocks runs inside one compiled region with the interpreter\'s results, budget and faults included', () => {
    const src = `
      mov ecx, 2000
      mov ebx, ${DATA}
      xor eax, eax
    1:
      test ecx, 1
      jz 2f
      add eax, ecx
      jmp 3f
    2:
      sub eax, 3
      mov [ebx + 4], eax
    3:
      shl eax, 1
      shr eax, 1
      cmp ecx, 5
      jne 4f
      mov edx, 0
      div edx
    4:
      dec ecx
      jnz 1b
      hlt
    `;
    for (const budget of [100, 1001, 5003, 100000]) {
      const { interpreted, compiled } = both(src, { budget }, undefined, true);
      expect(compiled, `budget ${budget}`).toEqual(interpreted);
    }
  });
});

describe('compiled code shared between closures (jit.ts shareOptimizedCode)', () => {
  it('the same block compiled again starts with the optimized code V8 made for the first closure', () => {
    // V8's own view of a function (natives syntax, enabled for this process only): the bits of
    // %GetOptimizationStatus are stable across Node 18–22; 16 is "optimized".
    setFlagsFromString('--allow-natives-syntax');
    const natives = new Function('f', 'return { prepare: () => %PrepareFunctionForOptimization(f), optimize: () => %OptimizeFunctionOnNextCall(f), status: () => %GetOptimizationStatus(f) };') as (f: unknown) => { prepare(): void; optimize(): void; status(): number };
    const OPTIMIZED = 16;
    // A block of register-only instructions no other test compiles (its own factory): inc eax; add ebx, eax; xor ecx, ebx; nop.
    const bytes = [0x40, 0x01, 0xc3, 0x31, 0xd9, 0x90];
    const at = 0x7340;
    const instrs = [];
    for (let off = 0; off < bytes.length; ) {
      const ins = decodeAt(Uint8Array.from(bytes.slice(off)), at + off);
      instrs.push(ins);
      off = ins.next - at;
    }
    const { cpu } = runSnippet('hlt');
    const first = compileBlock(instrs)!;
    const v8First = natives(first);
    v8First.prepare();
    for (let i = 0; i < 3; i++) first(cpu, 100);
    v8First.optimize();
    first(cpu, 100);
    expect(v8First.status() & OPTIMIZED).toBe(OPTIMIZED);
    // A second closure of the same code (another run, another CPU): optimized from its first call.
    const second = compileBlock(instrs)!;
    expect(second).not.toBe(first);
    second(cpu, 100);
    expect(natives(second).status() & OPTIMIZED).toBe(OPTIMIZED);
    expect(cpu.eip).toBe(at + bytes.length);
  });
});

describe('optimized code kept for the next CPU (jit.ts retainOptimizedCode)', () => {
  it('a block compiled for a new CPU after the old one is gone and memory collected starts optimized', () => {
    setFlagsFromString('--allow-natives-syntax');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const natives = new Function('f', 'return { prepare: () => %PrepareFunctionForOptimization(f), optimize: () => %OptimizeFunctionOnNextCall(f), status: () => %GetOptimizationStatus(f) };') as (f: unknown) => { prepare(): void; optimize(): void; status(): number };
    const OPTIMIZED = 16;
    // Its own factory: dec eax; sub ebx, eax; or ecx, ebx; nop.
    const bytes = [0x48, 0x29, 0xc3, 0x09, 0xd9, 0x90];
    const at = 0x7380;
    const decode = (): ReturnType<typeof decodeAt>[] => {
      const out = [];
      for (let off = 0; off < bytes.length; ) {
        const ins = decodeAt(Uint8Array.from(bytes.slice(off)), at + off);
        out.push(ins);
        off = ins.next - at;
      }
      return out;
    };
    const { cpu } = runSnippet('hlt');
    // The old machine: its block optimized, then every reference to it dropped.
    (() => {
      const first = compileBlock(decode(), { owner: {} })!;
      const v8 = natives(first);
      v8.prepare();
      for (let i = 0; i < 3; i++) first(cpu, 100);
      v8.optimize();
      first(cpu, 100);
      expect(v8.status() & OPTIMIZED).toBe(OPTIMIZED);
    })();
    gc();
    gc();
    // The next machine decodes and compiles the same code: V8's optimized code is still there.
    const second = compileBlock(decode(), { owner: {} })!;
    second(cpu, 100);
    expect(natives(second).status() & OPTIMIZED).toBe(OPTIMIZED);
  });

  it('a CPU that compiles the same block again and again keeps one closure of it, not one per compile', () => {
    const bytes = [0x41, 0x01, 0xcb, 0x90]; // inc ecx; add ebx, ecx; nop
    const at = 0x73c0;
    const instrs = [];
    for (let off = 0; off < bytes.length; ) {
      const ins = decodeAt(Uint8Array.from(bytes.slice(off)), at + off);
      instrs.push(ins);
      off = ins.next - at;
    }
    const owner = {};
    compileBlock(instrs, { owner });
    const kept = retainedBlockCount();
    for (let i = 0; i < 1000; i++) compileBlock(instrs, { owner });
    expect(retainedBlockCount()).toBe(kept);
  });
});

describe('block functions cheap for V8 (jit.ts: one epilogue, one exception handler)', () => {
  // A block as decodeBlock makes it (each instruction continues at the next).
  const decodeBytes = (bytes: number[], at: number) => {
    const out = [];
    for (let off = 0; off < bytes.length; ) {
      const ins = decodeAt(Uint8Array.from(bytes.slice(off)), at + off);
      ins.cont = ins.next;
      out.push(ins);
      off = ins.next - at;
    }
    return out;
  };

  it('a block optimized before its conditional exit was ever taken stays optimized when the exit is taken', () => {
    setFlagsFromString('--allow-natives-syntax');
    const natives = new Function('f', 'return { prepare: () => %PrepareFunctionForOptimization(f), optimize: () => %OptimizeFunctionOnNextCall(f), status: () => %GetOptimizationStatus(f) };') as (f: unknown) => { prepare(): void; optimize(): void; status(): number };
    const OPTIMIZED = 16;
    // Its own factory: cmp eax, 5; je +1; inc ebx; add ecx, ebx; nop.
    const at = 0x7400;
    const block = compileBlock(decodeBytes([0x83, 0xf8, 0x05, 0x74, 0x01, 0x43, 0x01, 0xd9, 0x90], at))!;
    const { cpu } = runSnippet('hlt');
    cpu.regs[0] = 0;
    const v8 = natives(block);
    v8.prepare();
    for (let i = 0; i < 3; i++) block(cpu, 100);
    v8.optimize();
    expect(block(cpu, 100)).toBe(5);
    expect(v8.status() & OPTIMIZED).toBe(OPTIMIZED);
    expect(cpu.eip).toBe(at + 9);
    // The exit V8 has never seen taken: it only sets the epilogue's locals, so nothing lacks type feedback.
    cpu.regs[0] = 5;
    const ebx = cpu.regs[3];
    expect(block(cpu, 100)).toBe(2);
    expect(cpu.eip).toBe(at + 6);
    expect(cpu.regs[3]).toBe(ebx);
    expect(cpu.getEflags() & 0x40).toBe(0x40); // ZF from the CMP, written back by the epilogue
    expect(v8.status() & OPTIMIZED).toBe(OPTIMIZED);
  });

  it('exits and slow paths store no registers or flags: the epilogue and the handler do, once each', () => {
    // push ebp; mov ebp, esp; mov eax, [ebp+8]; add [eax], ecx; cmp eax, 3; jne +2; inc ebx; pop ebp; ret
    const at = 0x7440;
    const src = String(compileBlock(decodeBytes([0x55, 0x89, 0xe5, 0x8b, 0x45, 0x08, 0x01, 0x08, 0x83, 0xf8, 0x03, 0x75, 0x01, 0x43, 0x5d, 0xc3], at))!);
    for (const r of [0, 3, 4, 5]) expect(src.split(`R[${r}] = r${r};`).length - 1, `stores of register ${r}`).toBe(2);
    expect(src.split('cpu.lfKind =').length - 1).toBe(2);
    expect(src.split('return ').length - 1).toBe(1);
    // Nothing branches back: no loop for V8 to build.
    expect(src).not.toContain('for (;;)');
  });
});
