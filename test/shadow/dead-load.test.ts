/**
 * The dead-load rule (src/shadow/dead-load.ts), shared by `--stack precise`
 * and `--stack cpl1`: a load of never-written stack bytes into a register
 * that the straight-line code after it overwrites before any read is not
 * reported; a load whose value is (or may be) used still is. Unit cases on
 * byte sequences, then test/modules/dead-load.S under both checkers.
 */
import { describe, expect, it } from 'vitest';
import { decodeAt } from '../../src/cpu/decoder.js';
import { isDeadLoad, loadDestination } from '../../src/shadow/dead-load.js';
import { runChecked } from '../../src/harness/checked-run.js';
import { assembled, hasAs, NO_AS, runtimeObject } from '../module/helpers.js';

/** Is the first instruction of `bytes` a dead load? */
function dead(...bytes: number[]): boolean {
  const code = new Uint8Array([...bytes, ...new Array(16).fill(0x90)]);
  return isDeadLoad(decodeAt(code, 0x1000), { fetch: (a) => { const b = code[a - 0x1000]; if (b === undefined) throw new RangeError('end'); return b; } });
}

describe('isDeadLoad on instruction sequences', () => {
  it('knows the pure 32-bit loads and their destinations', () => {
    expect(loadDestination(decodeAt(new Uint8Array([0x58])))).toBe(0); // pop %eax
    expect(loadDestination(decodeAt(new Uint8Array([0x59])))).toBe(1); // pop %ecx
    expect(loadDestination(decodeAt(new Uint8Array([0x5c])))).toBe(-1); // pop %esp
    expect(loadDestination(decodeAt(new Uint8Array([0x8f, 0xc2])))).toBe(2); // pop %edx (8F /0)
    expect(loadDestination(decodeAt(new Uint8Array([0x8b, 0x54, 0x24, 0x04])))).toBe(2); // mov 4(%esp),%edx
    expect(loadDestination(decodeAt(new Uint8Array([0x0f, 0xb6, 0x04, 0x24])))).toBe(0); // movzbl (%esp),%eax
    expect(loadDestination(decodeAt(new Uint8Array([0x66, 0x8b, 0x04, 0x24])))).toBe(-1); // mov (%esp),%ax: partial
    expect(loadDestination(decodeAt(new Uint8Array([0x03, 0x04, 0x24])))).toBe(-1); // add (%esp),%eax: not a pure load
  });

  it('dead: overwritten before any read', () => {
    expect(dead(0x58, 0xb8, 7, 0, 0, 0)).toBe(true); // pop %eax; mov $7,%eax
    expect(dead(0x58, 0x31, 0xc0)).toBe(true); // pop %eax; xor %eax,%eax
    expect(dead(0x58, 0x29, 0xc0)).toBe(true); // pop %eax; sub %eax,%eax
    expect(dead(0x5a, 0x89, 0xc2)).toBe(true); // pop %edx; mov %eax,%edx
    expect(dead(0x5a, 0x8d, 0x53, 0x04)).toBe(true); // pop %edx; lea 4(%ebx),%edx
    expect(dead(0x5a, 0x5b, 0x5a)).toBe(true); // pop %edx; pop %ebx; pop %edx
    expect(dead(0x59, 0xc3)).toBe(true); // pop %ecx; ret: ECX is dead at a RET
    expect(dead(0x59, 0x5b, 0xc2, 4, 0)).toBe(true); // pop %ecx; pop %ebx; ret $4
    expect(dead(0x5a, 0x01, 0xd9, 0x90, 0xba, 1, 0, 0, 0)).toBe(true); // pop %edx; add %ebx,%ecx; nop; mov $1,%edx
  });

  it('live: read first, or a control transfer reached, or something the rule does not know', () => {
    expect(dead(0x5a, 0x01, 0xd0)).toBe(false); // pop %edx; add %edx,%eax
    expect(dead(0x58, 0xc3)).toBe(false); // pop %eax; ret: EAX may be the return value
    expect(dead(0x5a, 0xc3)).toBe(false); // pop %edx; ret: EDX too (64-bit values)
    expect(dead(0x5b, 0xc3)).toBe(false); // pop %ebx; ret: the caller's register
    expect(dead(0x5a, 0xe8, 0, 0, 0, 0)).toBe(false); // pop %edx; call: may be an argument
    expect(dead(0x58, 0x74, 0x02, 0x31, 0xc0)).toBe(false); // pop %eax; je: a branch ends the scan
    expect(dead(0x5a, 0x8b, 0x02)).toBe(false); // pop %edx; mov (%edx),%eax: the address uses it
    expect(dead(0x5a, 0x88, 0xf0)).toBe(false); // pop %edx; mov %dh,%al: its high byte is read
    expect(dead(0x5a, 0x66, 0xba, 1, 0)).toBe(false); // pop %edx; mov $1,%dx: a partial write keeps the rest
    expect(dead(0x59, 0xd3, 0xe0, 0x31, 0xc9)).toBe(false); // pop %ecx; shl %cl,%eax: the count is read
    expect(dead(0x5a, 0x0f, 0xa2, 0x31, 0xd2)).toBe(false); // pop %edx; cpuid: not classified → used
    expect(dead(0x03, 0x04, 0x24, 0x31, 0xc0)).toBe(false); // add (%esp),%eax: not a pure load
  });
});

if (!hasAs) console.log(`test/shadow/dead-load.test.ts: ${NO_AS}`);

describe.skipIf(!hasAs)('test/modules/dead-load.S: the same rule in both stack checkers', () => {
  for (const stack of ['precise', 'cpl1'] as const) {
    it(`--stack ${stack}: the live loads are reported, the dead ones are not`, () => {
      const r = runChecked(assembled('dead-load'), { name: 'dead-load.o', runtime: runtimeObject(), stack });
      expect(r.error).toBeNull();
      expect(r.run!.exitCode).toBe(0);
      const found = r.findings.map((f) => `${f.function}+0x${f.offset!.toString(16)} ${f.access} ${f.size}`);
      expect(found).toEqual(['live_used+0x3 read 4', 'live_at_ret+0x3 read 4', 'live_call_argument+0x3 read 4']);
      const rules = r.checkers.stack as { deadLoads: number };
      expect(rules.deadLoads).toBe(5); // the four dead_* functions, dead_overwritten twice (live_call_argument calls it)
    });
  }
});
