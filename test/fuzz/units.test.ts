/**
 * The fuzzer's pure parts: AFL's hit-count buckets and has_new_bits(),
 * the dictionary format, havoc's determinism and bounds, splicing, and
 * the CPU's block-entry edge counters on a hand-assembled loop.
 */
import { describe, expect, it } from 'vitest';
import { classifyCounts, countEdges, hasNewBits, MAP_SIZE, newVirginMap } from '../../src/fuzz/coverage.js';
import { parseDictionary, DictionaryError } from '../../src/fuzz/dictionary.js';
import { havoc, spliceInputs } from '../../src/fuzz/mutate.js';
import { Rng } from '../../src/fuzz/random.js';
import { join } from 'node:path';
import { autoDictionary } from '../../src/fuzz/auto-dictionary.js';
import { compileModule } from '../../src/cli/compile.js';
import { hasGcc, ROOT } from '../module/helpers.js';
import { fuzzerStats, plotLine, queueName, crashName, syncName, PLOT_HEADER } from '../../src/fuzz/afl-output.js';

describe('coverage', () => {
  it('classifies hit counts into AFL buckets', () => {
    const t = Uint8Array.from([0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 127, 128, 255]);
    classifyCounts(t);
    expect(Array.from(t)).toEqual([0, 1, 2, 4, 8, 8, 16, 16, 32, 32, 64, 64, 128, 128]);
  });
  it('has_new_bits: 2 for a new edge, 1 for a new bucket, 0 for nothing new', () => {
    const virgin = newVirginMap();
    const t = new Uint8Array(MAP_SIZE);
    t[5] = 1;
    expect(hasNewBits(virgin, t)).toBe(2);
    expect(hasNewBits(virgin, t)).toBe(0);
    t[5] = 2;
    expect(hasNewBits(virgin, t)).toBe(1);
    expect(countEdges(virgin)).toBe(1);
  });
});

describe('dictionary (AFL -x format)', () => {
  it('parses names, escapes and comments; skips levels above 0', () => {
    const d = parseDictionary('# c\nmagic="KMEM"\n"\\x00\\xffA\\"\\\\"\nx@1="skip"\nkw@0="ok"\n', 'd');
    expect(d.map((t) => Array.from(t))).toEqual([[75, 77, 69, 77], [0, 255, 65, 34, 92], [111, 107]]);
  });
  it('rejects malformed lines with FILE:LINE', () => {
    expect(() => parseDictionary('ok="a"\nbad line\n', 'x.dict')).toThrow(/x\.dict:2: not a dictionary line/);
    expect(() => parseDictionary('"\\q"', 'x.dict')).toThrow(DictionaryError);
    expect(() => parseDictionary('""', 'x.dict')).toThrow(/empty token/);
  });
});

describe('havoc', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const run = (seed: number): number[][] => {
      const rng = new Rng(seed);
      const out: number[][] = [];
      for (let i = 0; i < 50; i++) out.push(Array.from(havoc(Uint8Array.from([1, 2, 3, 4, 5, 6]), { rng, tokens: [Uint8Array.from([9, 9])], maxLength: 64 })));
      return out;
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });
  it('never exceeds maxLength, changes the input, and uses dictionary tokens', () => {
    const rng = new Rng(1);
    const token = Uint8Array.from([0xde, 0xad, 0xbe, 0xef]);
    let changed = 0, withToken = 0;
    for (let i = 0; i < 300; i++) {
      const src = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0]);
      const d = havoc(src, { rng, tokens: [token], maxLength: 16 });
      expect(d.length).toBeLessThanOrEqual(16);
      expect(Array.from(src)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
      if (d.length !== 8 || d.some((b) => b !== 0)) changed++;
      if (Buffer.from(d).includes(Buffer.from(token))) withToken++;
    }
    expect(changed).toBeGreaterThan(280);
    expect(withToken).toBeGreaterThan(10);
  });
  it('splices the head of one input with the tail of another', () => {
    const a = Uint8Array.from([1, 1, 1, 1, 1, 1]);
    const b = Uint8Array.from([2, 2, 2, 2, 2, 2, 2]);
    const s = spliceInputs(a, b, new Rng(3))!;
    expect(s.length).toBe(b.length);
    const at = s.indexOf(2);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(Array.from(s.subarray(0, at)).every((x) => x === 1)).toBe(true);
    expect(Array.from(s.subarray(at)).every((x) => x === 2)).toBe(true);
    expect(spliceInputs(a, a, new Rng(3))).toBeNull();
  });
});

describe.skipIf(!hasGcc)('automatic dictionary', () => {
  it('takes the 2- and 4-byte constants compared with from the module code, little-endian', () => {
    const { object } = compileModule(join(ROOT, 'examples/fuzz/padding.c'));
    const hexes = autoDictionary(object).map((t) => Buffer.from(t).toString('hex'));
    expect(hexes).toContain('4b4d454d'); // "KMEM" (cmp ..., 0x4d454d4b)
    expect(hexes.every((h) => h.length === 4 || h.length === 8)).toBe(true);
    expect(autoDictionary(new Uint8Array([1, 2, 3]))).toEqual([]);
  });
});

describe('AFL++ output formats', () => {
  it('names queue entries and crashes as afl-fuzz does', () => {
    expect(queueName(3, { src: 1, splicedWith: null, rep: 4 }, 120, 77, true)).toBe('id:000003,src:000001,time:120,execs:77,op:havoc,rep:4,+cov');
    expect(crashName(0, 6, { src: 2, splicedWith: 5, rep: 2 }, 9, 10)).toBe('id:000000,sig:06,src:000002+000005,time:9,execs:10,op:splice,rep:2');
    expect(syncName(7, 'afl-main', 12)).toBe('id:000007,sync:afl-main,src:000012');
  });
  it('writes fuzzer_stats keys afl-whatsup reads and plot_data rows matching the header', () => {
    const s = {
      startTime: 1_000_000, now: 1_010_000, lastFind: 1_005_000, lastCrash: 0, lastHang: 0, execs: 500, execsSinceCrash: 500,
      cyclesDone: 2, cyclesWithoutFinds: 0, currentEntry: 1, corpusCount: 4, corpusFound: 3, corpusImported: 0, maxDepth: 3,
      edges: 42, crashes: 1, hangs: 0, timeoutInstructions: 1000, commandLine: 'kmemsim fuzz x.c', target: 'x.c', targetMode: 'kmemsim kernel module',
      cmplogMs: 3_000, syncMs: 1_000,
    };
    const text = fuzzerStats(s, '1.0');
    for (const k of ['start_time', 'last_update', 'run_time', 'fuzzer_pid', 'cycles_done', 'execs_done', 'execs_per_sec', 'corpus_count', 'saved_crashes', 'saved_hangs', 'last_find', 'edges_found']) {
      expect(text).toMatch(new RegExp(`^${k} +: `, 'm'));
    }
    expect(text).toMatch(/^execs_per_sec +: 50\.00$/m);
    expect(text).toMatch(/^run_time +: 10$/m);
    // AFL++ 4's split of run_time.
    expect(text).toMatch(/^cmplog_time +: 3$/m);
    expect(text).toMatch(/^sync_time +: 1$/m);
    expect(text).toMatch(/^fuzz_time +: 6$/m);
    expect(plotLine(s).split(',').length).toBe(PLOT_HEADER.split(',').length);
  });
});

describe('status output', () => {
  it('on a terminal: one line rewritten in place, cleared before other messages, ended with a newline', async () => {
    const { statusPrinter } = await import('../../src/cli/fuzz-command.js');
    const raw: string[] = [];
    const lines: string[] = [];
    const p = statusPrinter({ statusTty: true, errRaw: (t: string) => void raw.push(t), err: (l: string) => void lines.push(l) } as never);
    p.status('kmemsim fuzz: 1s, 10 execs');
    p.status('kmemsim fuzz: 2s, 20 execs');
    p.line('kmemsim fuzz: crash: x');
    p.status('kmemsim fuzz: 3s, 30 execs');
    p.end();
    expect(raw).toEqual(['\rkmemsim fuzz: 1s, 10 execs\x1b[K', '\rkmemsim fuzz: 2s, 20 execs\x1b[K', '\r\x1b[K', '\rkmemsim fuzz: 3s, 30 execs\x1b[K', '\n']);
    expect(lines).toEqual(['kmemsim fuzz: crash: x']);
  });
  it('not on a terminal: every status is a plain line', async () => {
    const { statusPrinter } = await import('../../src/cli/fuzz-command.js');
    const lines: string[] = [];
    const p = statusPrinter({ statusTty: false, errRaw: () => { throw new Error('no raw output'); }, err: (l: string) => void lines.push(l) } as never);
    p.status('a');
    p.line('b');
    p.end();
    expect(lines).toEqual(['a', 'b']);
  });
});

describe('AFL deterministic stages (-D)', () => {
  it('could_be_bitflip / could_be_arith / could_be_interest as in afl-fuzz', async () => {
    const { couldBeBitflip, couldBeArith, couldBeInterest } = await import('../../src/fuzz/deterministic.js');
    for (const x of [0, 1, 3, 0xf0, 0x0f << 9, 0xff, 0xff00, 0xffff, 0xffff0000, 0xffffffff]) expect(couldBeBitflip(x), x.toString(16)).toBe(true);
    for (const x of [5, 0x0f << 1 | 1, 0xff << 4, 0x101]) expect(couldBeBitflip(x), x.toString(16)).toBe(false);
    expect(couldBeArith(0x10, 0x15, 1)).toBe(true);
    expect(couldBeArith(0x10, 0x80, 1)).toBe(false);
    expect(couldBeArith(0x00ff, 0x0100, 2)).toBe(true); // +1 with a carry
    expect(couldBeArith(0xff00, 0x0001, 2)).toBe(true); // big-endian +1
    expect(couldBeInterest(0x0000, 0x0064, 2, true)).toBe(true); // interesting_8's 100 in the low byte
    expect(couldBeInterest(0x1234, 0x5678, 2, true)).toBe(false);
  });
  it('generates AFL\'s stages in order, with their names, without repeating what an earlier stage made', async () => {
    const { deterministicStages } = await import('../../src/fuzz/deterministic.js');
    const input = Uint8Array.from([0x41, 0x00, 0xff]);
    const all = [...deterministicStages(input, [Uint8Array.from([0x4b, 0x4d])], 16)];
    const count = (p: RegExp): number => all.filter((c) => p.test(c.op)).length;
    expect(count(/^flip1,/)).toBe(24);
    expect(count(/^flip2,/)).toBe(23);
    expect(count(/^flip4,/)).toBe(21);
    expect(count(/^flip8,/)).toBe(3);
    expect(count(/^flip16,/)).toBe(2);
    expect(count(/^flip32,/)).toBe(0);
    expect(count(/^ext_UO,/)).toBe(2);
    expect(count(/^ext_UI,/)).toBe(4);
    expect(all[0]).toEqual({ data: Uint8Array.from([0xc1, 0x00, 0xff]), op: 'flip1,pos:0' });
    const order = all.map((c) => c.op.split(',')[0]!).filter((s, i, a) => a.indexOf(s) === i);
    expect(order).toEqual(['flip1', 'flip2', 'flip4', 'flip8', 'flip16', 'arith8', 'arith16', 'int8', 'int16', 'ext_UO', 'ext_UI']);
    // arith8 and int8 never redo a bit or byte flip's result.
    const flips = new Set(all.filter((c) => c.op.startsWith('flip')).map((c) => Buffer.from(c.data).toString('hex')));
    for (const c of all.filter((c) => /^(arith8|int8),/.test(c.op))) expect(flips.has(Buffer.from(c.data).toString('hex')), c.op).toBe(false);
    expect(all.find((c) => c.op === 'arith8,pos:1,val:+3')).toBeUndefined(); // 0 ^ 3 is a two-bit flip
    expect(all.find((c) => c.op === 'arith8,pos:1,val:+5')!.data).toEqual(Uint8Array.from([0x41, 0x05, 0xff]));
  });
});
