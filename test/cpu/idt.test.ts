/**
 * "No IDT" versus an empty IDT: a bare CPU that never ran LIDT stops at its
 * first exception with a message; after an explicit LIDT with limit 0 the
 * SDM's rules apply: INT3 → #GP (vector beyond the limit) → #DF → triple fault.
 */
import { describe, expect, it } from 'vitest';
import { runSnippet, DATA } from '../helpers/asm.js';

describe('IDT limit 0', () => {
  it('without LIDT the first exception stops the machine (no IDT installed)', () => {
    const { stop } = runSnippet('int3\nhlt');
    expect(stop).toMatchObject({ kind: 'fault', vector: 3 });
  });
  it('after LIDT with limit 0, INT3 escalates to a triple fault', () => {
    const { stop } = runSnippet(
      `mov word ptr [${DATA}], 0\nmov dword ptr [${DATA + 2}], 0\nlidt [${DATA}]\nint3\nhlt`,
      (cpu) => {
        cpu.cr0 |= 1;
      },
    );
    expect(stop).toMatchObject({ kind: 'triple-fault' });
    if (stop?.kind === 'triple-fault') expect(stop.chain.map((c) => c.vector)).toEqual([3, 13, 8, 13]);
  });
});
