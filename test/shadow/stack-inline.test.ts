/**
 * The stack oracle's liveness compiled into the blocks (src/shadow/stack.ts
 * espChangedCode, emitted by src/shadow/instrument.ts at the block
 * compiler's stackPointer site): generated programs of PUSH, POP, CALL,
 * RET, LEAVE, ADD/SUB/LEA to ESP (aligned and not), PUSHFD and ENTER
 * (left to their executors: ESP told at the next checked instruction), stores and loads
 * around ESP (below it too: reads of dead bytes), run in a hot loop once
 * interpreted (the interpreter's hook: ESP seen before every instruction)
 * and once compiled from the first execution. Both must leave the same
 * shadow on every stack byte, the same origin on every stack dword, the
 * same findings (address, EIP, size, state) and the same kill count — and
 * the compiled run must have done its liveness updates inline (espMoved,
 * the oracle's call, is not called for them).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PreciseStack } from '../../src/shadow/stack-precise.js';
import { CheckInstrumentation } from '../../src/shadow/instrument.js';
import { machine } from './fixture.js';

/** A random body (ESP moves tracked so it stays within the frame and ends where it started). */
const op = fc.oneof(
  fc.record({ k: fc.constant('push' as const), r: fc.constantFrom('eax', 'edx', 'ebx', 'esi', 'edi') }),
  fc.record({ k: fc.constant('pushi' as const), v: fc.integer({ min: -1000, max: 100000 }) }),
  fc.record({ k: fc.constant('pop' as const), r: fc.constantFrom('eax', 'edx', 'ebx', 'esi', 'edi') }),
  fc.record({ k: fc.constant('sub' as const), n: fc.integer({ min: 1, max: 24 }) }),
  fc.record({ k: fc.constant('add' as const), n: fc.integer({ min: 1, max: 24 }) }),
  fc.record({ k: fc.constant('lea' as const), n: fc.integer({ min: -20, max: 20 }) }),
  fc.record({ k: fc.constant('store' as const), n: fc.integer({ min: 0, max: 40 }), byte: fc.boolean() }),
  fc.record({ k: fc.constant('load' as const), n: fc.integer({ min: -24, max: 40 }) }),
  fc.record({ k: fc.constant('call' as const) }),
  // Left to its executor (no inline ESP update): the next checked instruction tells the oracle.
  fc.record({ k: fc.constant('pushf' as const) }),
  fc.record({ k: fc.constant('enter' as const), n: fc.integer({ min: 0, max: 16 }) }),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

function program(ops: Op[], esp: number): string {
  // ESP is loaded by the program (a MOV compiled inline): both runs attribute the first frame to the same instruction.
  const lines = [`  mov esp, ${esp}`, '  mov ecx, 80', '  mov eax, 7', '2:'];
  let depth = 0; // bytes below the loop's starting ESP
  for (const o of ops) {
    switch (o.k) {
      case 'push': lines.push(`  push ${o.r}`); depth += 4; break;
      case 'pushi': lines.push(`  push ${o.v}`); depth += 4; break;
      case 'pop': if (depth >= 4) { lines.push(`  pop ${o.r}`); depth -= 4; } break;
      case 'sub': lines.push(`  sub esp, ${o.n}`); depth += o.n; break;
      case 'add': if (depth >= o.n) { lines.push(`  add esp, ${o.n}`); depth -= o.n; } break;
      case 'lea': if (depth - o.n >= 0) { lines.push(`  lea esp, [esp${o.n >= 0 ? '+' : ''}${o.n}]`); depth -= o.n; } break;
      case 'store': if (o.n + 4 <= depth) lines.push(o.byte ? `  mov byte ptr [esp+${o.n}], al` : `  mov [esp+${o.n}], eax`); break;
      case 'load': if (o.n + 4 <= depth + 64) lines.push(`  mov edx, [esp${o.n >= 0 ? '+' : ''}${o.n}]`); break;
      case 'call': lines.push('  call 3f'); break;
      // Followed by a store, so the move is seen at the instruction right after it in both runs (origins).
      case 'pushf': lines.push('  pushfd', '  mov [esp], eax'); depth += 4; break;
      case 'enter': lines.push(`  enter ${o.n}, 0`, '  mov [esp], eax', '  leave'); break;
    }
  }
  if (depth > 0) lines.push(`  add esp, ${depth}`);
  lines.push('  dec ecx', '  jnz 2b', '  hlt',
    // A function with a frame: ENTER's work by hand, a local written and one read, LEAVE, RET.
    '3: push ebp', '  mov ebp, esp', '  sub esp, 12', '  mov [esp+4], eax', '  mov edx, [esp+8]', '  leave', '  ret');
  return lines.join('\n');
}

interface Outcome {
  shadow: number[];
  origins: (number | null)[];
  findings: { address: number; eip: number; size: number; state: number }[];
  kills: number;
  regs: number[];
  espMovedCalls: number;
}

function runOnce(ops: Op[], compiled: boolean): Outcome {
  const m = machine({ kmemcheck: false, dataPages: 3 });
  const cpu = m.k.cpu;
  cpu.jitThreshold = compiled ? 0 : Infinity;
  const low = m.data[0]!, high = (m.data[2]! + 4096) >>> 0;
  const s = PreciseStack.attach(m.k, { low, high });
  let espMovedCalls = 0;
  const espMoved = s.espMoved.bind(s);
  s.espMoved = (esp: number, eip?: number): void => {
    espMovedCalls++;
    espMoved(esp, eip);
  };
  expect(m.run(program(ops, high - 2048), { regs: { ebp: high - 64 } })).toEqual({ kind: 'halted' });
  const shadow: number[] = [];
  const origins: (number | null)[] = [];
  for (let a = low; a < high; a++) shadow.push(s.stateAt(a));
  for (let a = low; a < high; a += 4) origins.push(s.originOf(a));
  const findings = s.recall().map((e) => ({ address: e.address, eip: e.eip, size: e.size, state: e.state }));
  const out = { shadow, origins, findings, kills: s.stats.kills, regs: Array.from(cpu.regs), espMovedCalls };
  s.detach();
  expect(CheckInstrumentation.of(m.k).attached).toBe(false);
  return out;
}

describe('the stack oracle\'s liveness compiled into the blocks', () => {
  it('gives the interpreted run\'s shadow, origins, findings and kills on generated stack programs', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 4, maxLength: 24 }), (ops) => {
        const interpreted = runOnce(ops, false);
        const compiled = runOnce(ops, true);
        expect(compiled.regs).toEqual(interpreted.regs);
        expect(compiled.findings).toEqual(interpreted.findings);
        expect(compiled.shadow).toEqual(interpreted.shadow);
        expect(compiled.origins).toEqual(interpreted.origins);
        expect(compiled.kills).toEqual(interpreted.kills);
        // The compiled run moved ESP through the inline code: the oracle's call only for the moves of
        // PUSHFD and ENTER (80 trips round the loop) and a few more (the first ESP, the end of the run),
        // not once per PUSH, POP, CALL, RET, LEAVE, ADD, SUB or LEA.
        const executorMoves = ops.filter((o) => o.k === 'pushf' || o.k === 'enter').length;
        expect(compiled.espMovedCalls).toBeLessThanOrEqual(80 * executorMoves + 4);
      }),
      { numRuns: 15, seed: 20261203 },
    );
  });

  it('a word popped in a compiled loop is dead: reading it back from below ESP is a finding (and only then)', () => {
    const src = (popped: boolean): string => `mov ecx, 300
1: push ecx
  ${popped ? 'pop eax' : 'mov eax, [esp]'}
  ${popped ? '' : 'add esp, 4'}
  dec ecx
  jnz 1b
  sub esp, 4
  mov edx, [esp]
  hlt`;
    for (const popped of [true, false]) {
      const m = machine({ kmemcheck: false });
      m.k.cpu.jitThreshold = 0;
      const top = (m.data[1]! + 4096) >>> 0;
      const s = PreciseStack.attach(m.k, { low: m.data[1]!, high: top });
      expect(m.run(src(popped), { regs: { esp: top - 64 } })).toEqual({ kind: 'halted' });
      const errs = s.recall();
      // POP (or ADD ESP, 4) kills its word inline; a word never popped stays initialized.
      expect(errs.map((e) => e.address)).toEqual([top - 68]);
      expect(s.stats.kills).toBeGreaterThanOrEqual(300);
    }
  });

  it('an unaligned ESP: a POP kills its four bytes through the general path', () => {
    const m = machine({ kmemcheck: false });
    m.k.cpu.jitThreshold = 0;
    const top = (m.data[1]! + 4096) >>> 0;
    const s = PreciseStack.attach(m.k, { low: m.data[1]!, high: top });
    const src = `sub esp, 2
  mov ecx, 100
1: push ecx
  pop eax
  dec ecx
  jnz 1b
  mov edx, [esp-4]
  hlt`;
    expect(m.run(src, { regs: { esp: top - 64 } })).toEqual({ kind: 'halted' });
    const errs = s.recall();
    expect(errs.map((e) => e.address)).toEqual([top - 70]);
  });
});
