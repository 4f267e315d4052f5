/**
 * `--access-size debugreg` (src/watch/debugreg.ts): DR0–DR3 learn the size
 * of every access class an i686 has — 1, 2, 4 in one pass, 6/8 and larger
 * ones in more passes with the instruction undone in between — and the
 * program's results are those of a plain run; the guest's own debug
 * registers come back, and while its DR7 enables breakpoints the strategy
 * decodes instead; what the breakpoints cannot see (a MOVS destination) is
 * counted as wrong.
 */
import { describe, expect, it } from 'vitest';
import { DebugRegisterProbe } from '../../src/watch/debugreg.js';
import { decodeAccesses } from '../../src/shadow/access.js';
import { PageHidingService, type HiddenFault, type PageHidingClient } from '../../src/kernel/page-hiding.js';
import { architecturalState, machine, type Machine } from '../shadow/fixture.js';

class Recorder implements PageHidingClient {
  readonly name = 'rec';
  readonly seen: [number, number, number, boolean][] = [];
  onFault(f: HiddenFault): void {
    for (let i = 0; i < f.accesses.count; i++) this.seen.push([f.accesses.addr[i]! >>> 0, f.accesses.size[i]!, f.accesses.kind[i]!, f.late]);
  }
}

function probed(): { m: Machine; rec: Recorder; probe: DebugRegisterProbe } {
  const m = machine({ kmemcheck: false });
  const svc = PageHidingService.of(m.k);
  svc.setAccessDecoder(decodeAccesses);
  const rec = new Recorder();
  svc.register(rec);
  svc.hidePage(m.data[0]!, rec);
  const probe = new DebugRegisterProbe();
  svc.setAccessProbe(probe);
  return { m, rec, probe };
}

const CASES: [string, number][] = [
  ['mov al, byte ptr [D + 16]', 1],
  ['mov word ptr [D + 16], 7', 2],
  ['mov eax, dword ptr [D + 16]', 4],
  ['sgdt [D + 16]', 6],
  ['cmpxchg8b qword ptr [D + 16]', 8],
  ['fld tbyte ptr [D + 16]', 10],
  ['fnstenv [D + 16]', 28],
  ['fnsave [D + 16]', 108],
];

describe('--access-size debugreg', () => {
  for (const [ins, size] of CASES) {
    it(`${ins}: learns ${size} bytes; results as without it`, () => {
      const ref = machine({ kmemcheck: false });
      ref.run(`fninit\n${ins}\nhlt`);
      const { m, rec, probe } = probed();
      expect(m.run(`fninit\n${ins}\nhlt`)).toEqual({ kind: 'halted' });
      expect(rec.seen).toEqual([[m.data[0]! + 16, size, expect.any(Number), true]]);
      expect(probe.counters.wrong + probe.counters.unknown).toBe(0);
      if (size <= 4) expect(probe.counters.passes).toBe(1);
      else expect(probe.counters.passes).toBeGreaterThan(1);
      const a = architecturalState(m.k);
      const b = architecturalState(ref.k);
      expect({ ...a, icount: 0, eip: a.eip - m.code }).toEqual({ ...b, icount: 0, eip: b.eip - ref.code });
      expect(Array.from(m.k.cpu.dr.subarray(0, 4))).toEqual([0, 0, 0, 0]);
      expect(m.k.cpu.dr[7]! & 0xff).toBe(0);
    });
  }

  it('decodes instead while the guest has breakpoints enabled (refused, said once); MOVS to an unhidden page is counted wrong', () => {
    const { m, rec, probe } = probed();
    const said: string[] = [];
    probe.onRefused = (w) => said.push(w);
    m.k.cpu.writeDebugRegister(0, 0x1234);
    m.k.cpu.writeDebugRegister(7, 0x1);
    m.run('mov eax, [D + 16]\nmov eax, [D + 20]\nhlt');
    expect(probe.counters.refused).toBe(2);
    expect(said).toHaveLength(1);
    expect(rec.seen.map((s) => s[3])).toEqual([false, false]);
    m.k.cpu.writeDebugRegister(7, 0);
    rec.seen.length = 0;
    m.run('cld\nmov esi, D + 16\nmov edi, D2\nmovsd\nhlt');
    expect(rec.seen).toEqual([[m.data[0]! + 16, 4, 1, true]]);
    expect(probe.counters.wrong).toBe(1);
  });
});
