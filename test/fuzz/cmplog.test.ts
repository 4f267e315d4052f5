/**
 * The fuzzer's cmplog stage (src/fuzz/cmplog.ts, src/fuzz/input-to-state.ts):
 * the replacement logic on hand-made logs; the compare log of real runs
 * (CMP/SUB compiled and interpreted, under kmemcheck's single steps too;
 * memcmp's arguments; REPE CMPSB); and two targets whose bugs sit behind
 * compares havoc does not get through in a small fixed budget, which the
 * cmplog stage does (fixed seed: deterministic).
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { compileModule } from '../../src/cli/compile.js';
import { ModuleTarget, type TargetRunOptions } from '../../src/fuzz/target-module.js';
import { FUZZ_MEMORY_SIZE } from '../../src/cli/fuzz-command.js';
import { CompareLog, CompareLogInstrumentation } from '../../src/fuzz/cmplog.js';
import { CPU } from '../../src/cpu/cpu.js';
import { encode, inputToState, integerEncodings, narrowed } from '../../src/fuzz/input-to-state.js';
import { hasGcc, ROOT, NO_GCC, RUNTIME } from '../module/helpers.js';

const skip = !hasGcc ? NO_GCC : !existsSync(RUNTIME) ? `${RUNTIME} missing: run npm run build` : null;
if (skip) console.log(`test/fuzz/cmplog.test.ts: skipped: ${skip}`);

const bytes = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('input-to-state replacement', () => {
  it('encodes values little- and big-endian, and recognizes zero- and sign-extended fields', () => {
    expect(hex(encode(0x11223344, 4, false))).toBe('44332211');
    expect(hex(encode(0x11223344, 4, true))).toBe('11223344');
    expect(narrowed(0x41, 4, 1)).toBe(0x41);
    expect(narrowed(0xffffff85, 4, 1)).toBe(0x85); // MOVSX of 0x85
    expect(narrowed(0xff85, 2, 1)).toBe(0x85);
    expect(narrowed(0x1234, 4, 1)).toBeNull();
    expect(narrowed(0xffff8000, 4, 2)).toBe(0x8000);
    expect(narrowed(0x00008000, 4, 2)).toBe(0x8000);
    expect(narrowed(0x00018000, 4, 2)).toBeNull();
  });

  it('lists the as-is, byte-swapped, ±1 and narrowed encodings of a compare once each', () => {
    const e = integerEncodings(0x41, 0x5a, 4).map((x) => `${hex(x.pattern)}>${hex(x.replacement)}`);
    expect(e).toContain('41000000>5a000000'); // as is
    expect(e).toContain('00000041>0000005a'); // big-endian
    expect(e).toContain('41000000>5b000000'); // +1
    expect(e).toContain('41000000>59000000'); // -1
    expect(e).toContain('4100>5a00'); // a zero-extended u16
    expect(e).toContain('41>5a'); // a zero-extended byte
    expect(new Set(e).size).toBe(e.length);
    // A replacement that does not fit the narrow field is not tried there.
    expect(integerEncodings(0x41, 0x1234, 4).map((x) => hex(x.pattern))).not.toContain('41');
  });

  it('replaces every occurrence of either operand by the other, in both byte orders, and nothing else', () => {
    const input = bytes('ABCD\x01\x02\x03\x04xx\x04\x03\x02\x01');
    const log = { integers: [{ site: 1, size: 4 as const, left: 0x04030201, right: 0xdeadbeef }], strings: [] };
    const out = inputToState(input, log, { maxLength: 100 }).map((r) => `${r.pos}:${hex(r.data)}`);
    expect(out).toContain(`4:${hex(bytes('ABCD\xef\xbe\xad\xdexx\x04\x03\x02\x01'))}`); // little-endian at 4
    expect(out).toContain(`10:${hex(bytes('ABCD\x01\x02\x03\x04xx\xde\xad\xbe\xef'))}`); // big-endian at 10
    expect(out).toContain(`4:${hex(bytes('ABCD\xf0\xbe\xad\xdexx\x04\x03\x02\x01'))}`); // +1 (a < or > compare)
    // The other operand is not in the input: nothing in the other direction; every candidate differs from the input.
    for (const r of inputToState(input, log, { maxLength: 100 })) expect(hex(r.data)).not.toBe(hex(input));
    // Deterministic, bounded.
    expect(inputToState(input, log, { maxLength: 100 }).map((r) => hex(r.data))).toEqual(inputToState(input, log, { maxLength: 100 }).map((r) => hex(r.data)));
    expect(inputToState(input, log, { maxLength: 100, limit: 2 })).toHaveLength(2);
  });

  it('replaces a byte string found whole or as a prefix ending the input, growing it up to the length limit', () => {
    const log = { integers: [], strings: [{ site: 2, left: bytes('xyzwvuts'), right: bytes('KMEMSIM!') }] };
    expect(inputToState(bytes('K-xyzwvuts'), log, { maxLength: 100 }).map((r) => text(r.data))).toEqual(['K-KMEMSIM!']);
    // The routine read past a short input: the prefix that is there is replaced and the input grows.
    expect(inputToState(bytes('K-xyz'), log, { maxLength: 100 }).map((r) => text(r.data))).toContain('K-KMEMSIM!');
    expect(inputToState(bytes('K-xyz'), log, { maxLength: 8 })).toEqual([]);
  });
});

/**
 * A loop of compares, three times, then a REPE CMPSB of 8 bytes:
 *
 *   0x1000: mov ecx, 3
 *   0x1005: mov eax, [0x2000]
 *   0x100a: cmp eax, 0x11223344
 *   0x100f: cmp dword [0x2004], 0x55667788
 *   0x1019: mov bx, [0x2008]
 *   0x1020: cmp bx, 0x0102
 *   0x1025: cmp byte [0x200a], 0x7f
 *   0x102c: sub eax, edx
 *   0x102e: dec ecx
 *   0x102f: jnz 0x1005
 *   0x1031: mov esi, 0x2010
 *   0x1036: mov edi, 0x2020
 *   0x103b: mov ecx, 8
 *   0x1040: repe cmpsb
 *   0x1042: hlt
 */
const COMPARES = [
  0xb9, 0x03, 0x00, 0x00, 0x00, 0xa1, 0x00, 0x20, 0x00, 0x00, 0x3d, 0x44, 0x33, 0x22, 0x11,
  0x81, 0x3d, 0x04, 0x20, 0x00, 0x00, 0x88, 0x77, 0x66, 0x55, 0x66, 0x8b, 0x1d, 0x08, 0x20, 0x00, 0x00,
  0x66, 0x81, 0xfb, 0x02, 0x01, 0x80, 0x3d, 0x0a, 0x20, 0x00, 0x00, 0x7f, 0x29, 0xd0, 0x49, 0x75, 0xd4,
  0xbe, 0x10, 0x20, 0x00, 0x00, 0xbf, 0x20, 0x20, 0x00, 0x00, 0xb9, 0x08, 0x00, 0x00, 0x00, 0xf3, 0xa6, 0xf4,
];

describe('the compare-logging instrumentation on the CPU', () => {
  const run = (jit: number, step: boolean): CompareLog => {
    const cpu = new CPU({ memorySize: 1 << 20 });
    cpu.writePhys(0x1000, Uint8Array.from(COMPARES));
    cpu.writePhys(0x2000, Uint8Array.from([0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4, 0x34, 0x12, 0x80]));
    cpu.writePhys(0x2010, bytes('abcdefgh'));
    cpu.writePhys(0x2020, bytes('KMEMSIM!'));
    cpu.eip = 0x1000;
    cpu.regs[4] = 0x80000;
    cpu.regs[2] = 7;
    cpu.jitThreshold = jit;
    const log = new CompareLog();
    cpu.setJitInstrumentation(new CompareLogInstrumentation(log, [], 'regparm'));
    if (step) for (let i = 0; i < 40 && cpu.stopReason === null; i++) cpu.step();
    else cpu.run(1000);
    expect(cpu.stopReason?.kind).toBe('halted');
    return log;
  };

  it('logs CMP/SUB of sizes 1, 2 and 4 and REPE CMPSB\'s strings, the same compiled, interpreted and single-stepped', () => {
    const compiled = run(0, false);
    expect(compiled.integers.map(({ site, size, left, right }) => [site, size, left, right])).toEqual([
      [0x100a, 4, 0xddccbbaa, 0x11223344],
      [0x100f, 4, 0x04030201, 0x55667788],
      [0x1020, 2, 0x1234, 0x0102],
      [0x1025, 1, 0x80, 0x7f],
      [0x102c, 4, 0xddccbbaa, 7],
    ]);
    expect(compiled.strings.map((p) => [p.site, text(p.left), text(p.right)])).toEqual([[0x1040, 'abcdefgh', 'KMEMSIM!']]);
    // Three rounds of the loop, one pair per site (deduplicated); every compare counted.
    expect(compiled.seen).toBe(16);
    for (const [jit, step] of [[Infinity, false], [0, true]] as const) {
      const other = run(jit, step);
      expect(other.integers).toEqual(compiled.integers);
      expect(other.strings).toEqual(compiled.strings);
    }
  });
});

describe.skipIf(skip !== null)('compare logging in runs', () => {
  const target = (name: string, heap: 'kmemcheck' | 'inline' | null, stack: 'precise' | null = null): ModuleTarget => {
    const c = compileModule(join(ROOT, `test/fuzz/targets/${name}`));
    const run: TargetRunOptions = { name, heap, stack, maxInstructions: 1e9, memorySize: FUZZ_MEMORY_SIZE };
    return new ModuleTarget(c.object, run, 1_000_000);
  };

  for (const heap of [null, 'kmemcheck'] as const) {
    it(`logs the 32-bit magic compare (${heap ?? 'no checker'}), the same on every run; normal executions log nothing`, () => {
      const t = target('magic-length.c', heap);
      const input = bytes('\x11\x22\x33\x44\x05\x00abc');
      const logs: string[] = [];
      let last = new CompareLog();
      for (let i = 0; i < 4; i++) {
        last = new CompareLog();
        const e = t.execute(input, null, last);
        expect(e.outcome).toBe('ok');
        logs.push(JSON.stringify(last.integers.map(({ size, left, right }) => [size, left, right])));
      }
      expect(last.integers.some((p) => p.size === 4 && (p.left === 0x44332211 || p.right === 0x44332211)), logs[0]).toBe(true);
      expect(new Set(logs).size, logs.join('\n')).toBe(1);
      // The logging variant is removed after a cmplog run: a normal execution (its loop compiled by now) adds nothing to the last log.
      const seen = last.seen;
      for (let i = 0; i < 4; i++) t.execute(input, null);
      expect(last.seen).toBe(seen);
    });
  }

  it('a cmplog run leaves nothing behind: a normal execution after it runs as before it (edges, instructions, outcome)', () => {
    const t = target('magic-length.c', 'kmemcheck');
    const input = bytes('\x11\x22\x33\x44\x03\x00abc');
    const observe = (): string => {
      const edges = new Uint8Array(1 << 16);
      const e = t.execute(input, edges);
      return JSON.stringify([e.outcome, e.signature, e.instructions, Buffer.from(edges).toString('base64')]);
    };
    const before = observe();
    t.execute(input, null, new CompareLog());
    expect(observe()).toBe(before);
  });

  it('logs the magic replaced: the length compare next (2 bytes, against size - 6)', () => {
    const t = target('magic-length.c', 'kmemcheck');
    const log0 = new CompareLog();
    t.execute(bytes('\x11\x22\x33\x44\x05\x00abc'), null, log0);
    const magic = log0.integers.find((p) => p.left === 0x44332211)!;
    const log = new CompareLog();
    t.execute(Uint8Array.from([...encode(magic.right, 4, false), 0x09, 0x00, 0x61, 0x62, 0x63]), null, log);
    expect(log.integers.some((p) => (p.left & 0xffff) === 9 && (p.right & 0xffff) === 3 || (p.left & 0xffff) === 3 && (p.right & 0xffff) === 9)).toBe(true);
  });

  it('is added to the precise checkers\' instrumentation, which keeps checking during and after the cmplog run', () => {
    const t = target('magic-length.c', 'inline', 'precise');
    const log0 = new CompareLog();
    expect(t.execute(bytes('\x11\x22\x33\x44\x03\x00abc'), null, log0).outcome).toBe('ok');
    const magic = log0.integers.find((p) => p.left === 0x44332211);
    expect(magic, JSON.stringify(log0.integers)).toBeDefined();
    const bug = Uint8Array.from([...encode(magic!.right, 4, false), 0x03, 0x00, 0x61, 0x62, 0x63]);
    const logged = t.execute(bug, null, new CompareLog());
    expect(logged.signature).toMatch(/^uninitialized heap read in emit\+0x/);
    const plain = t.execute(bug, null);
    expect(plain.signature).toBe(logged.signature);
  });

  it('logs memcmp\'s two buffers at its entry (rtn cmplog), whoever calls it', () => {
    const t = target('memcmp-key.c', 'kmemcheck');
    const log = new CompareLog();
    t.execute(bytes('KAabcdefgh'), null, log);
    expect(log.strings.map((p) => [text(p.left), text(p.right)])).toContainEqual(['abcdefgh', 'KMEMSIM!']);
  });
});

async function kmemsim(args: string[]): Promise<{ status: number; stderr: string }> {
  const err: Buffer[] = [];
  const status = await main(args, { stdout: () => {}, stderr: (b) => void err.push(Buffer.from(b)), stdin: () => new Uint8Array(0) });
  return { status, stderr: Buffer.concat(err).toString('latin1') };
}
const ids = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('id:') && !/\.(json|txt)$/.test(n)).sort() : []);

describe.skipIf(skip !== null)('kmemsim fuzz: the cmplog stage finds what havoc does not', () => {
  const cases = [
    { name: 'magic-length.c', signature: /uninitialized heap read in emit\+0x/ },
    { name: 'memcmp-key.c', signature: /uninitialized heap read in emit\+0x/ },
  ];
  for (const c of cases) {
    it(`${c.name}: found with cmplog (seed 1, 400 executions), not with --no-cmplog; cmplog in fuzzer_stats and the status line`, async () => {
      const args = ['fuzz', join(ROOT, 'test/fuzz/targets', c.name), '--kmemcheck', '--seed', '1', '--runs', '400'];
      const off = mkdtempSync(join(tmpdir(), 'kmemsim-cmplog-'));
      const a = await kmemsim([...args, '-o', off, '--no-cmplog']);
      expect(a.status, a.stderr).toBe(0);
      expect(ids(join(off, 'default/crashes'))).toEqual([]);
      expect(a.stderr).not.toMatch(/cmplog/);
      const on = mkdtempSync(join(tmpdir(), 'kmemsim-cmplog-'));
      const b = await kmemsim([...args, '-o', on]);
      expect(b.status, b.stderr).toBe(99);
      expect(b.stderr).toMatch(c.signature);
      expect(b.stderr).toMatch(/cmplog \d+\/\d+/);
      const crashes = ids(join(on, 'default/crashes'));
      expect(crashes).toHaveLength(1);
      // Found by the input-to-state stage, or by havoc from an entry it found.
      const queue = ids(join(on, 'default/queue'));
      expect(queue.some((n) => /,op:its,pos:\d+/.test(n)), queue.join('\n')).toBe(true);
      const stats = readFileSync(join(on, 'default/fuzzer_stats'), 'utf8');
      expect(stats).toMatch(/^cmplog_time +: \d+$/m);
      // Deterministic: the same seed finds the same crash.
      const again = mkdtempSync(join(tmpdir(), 'kmemsim-cmplog-'));
      await kmemsim([...args, '-o', again]);
      expect(ids(join(again, 'default/crashes')).map((n) => n.replace(/time:\d+,/, ''))).toEqual(crashes.map((n) => n.replace(/time:\d+,/, '')));
      expect(ids(join(again, 'default/queue')).map((n) => n.replace(/time:\d+,/, ''))).toEqual(queue.map((n) => n.replace(/time:\d+,/, '')));
    });
  }
});
