/**
 * `kmemsim fuzz` on examples/fuzz: each planted bug is found with a fixed
 * seed and a small budget, only through its checker; the crash replays
 * with `kmemsim run --input` to the same report; the same seed gives the
 * same queue and crashes; the clean target gives nothing; bad targets and
 * output directories give one-line errors with their documented statuses;
 * afl-whatsup reads the output directory when afl++ is installed.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { hasGcc, ROOT, NO_GCC, RUNTIME } from '../module/helpers.js';

const skip = !hasGcc ? NO_GCC : !existsSync(RUNTIME) ? `${RUNTIME} missing: run npm run build` : null;
if (skip) console.log(`test/fuzz/examples.test.ts: skipped: ${skip}`);

const EX = join(ROOT, 'examples/fuzz');

async function kmemsim(args: string[]): Promise<{ status: number; stderr: string; stdout: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const status = await main(args, { stdout: (b) => void out.push(Buffer.from(b)), stderr: (b) => void err.push(Buffer.from(b)), stdin: () => new Uint8Array(0) });
  return { status, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1') };
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'kmemsim-fuzz-test-'));
const ids = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('id:') && !/\.(json|txt)$/.test(n)).sort() : []);

describe.skipIf(skip !== null)('kmemsim fuzz: examples/fuzz', () => {
  const KMEMCHECK = ['--kmemcheck'];
  const cases: { name: string; checker: string[]; args: string[]; signature: RegExp; kind: string; region: string }[] = [
    { name: 'record-type', checker: KMEMCHECK, args: ['-x', join(EX, 'record-type.dict')], signature: /uninitialized heap read in emit\+0x/, kind: 'uninitialized', region: 'heap' },
    { name: 'padding', checker: KMEMCHECK, args: ['-x', join(EX, 'padding.dict')], signature: /uninitialized heap read in serialize\+0x/, kind: 'uninitialized', region: 'heap' },
    { name: 'use-after-free', checker: KMEMCHECK, args: ['-x', join(EX, 'use-after-free.dict'), '-i', join(EX, 'use-after-free.seeds')], signature: /freed heap read in LLVMFuzzerTestOneInput\+0x/, kind: 'freed', region: 'heap' },
    { name: 'stack-sum', checker: ['--stack', 'precise'], args: ['-x', join(EX, 'stack-sum.dict')], signature: /uninitialized stack read in average_of\+0x/, kind: 'uninitialized', region: 'stack' },
  ];
  for (const c of cases) {
    it(`finds the planted bug of ${c.name}.c with ${c.checker.join(' ')}, and the crash replays to the same report`, async () => {
      const out = tmp();
      const r = await kmemsim(['fuzz', join(EX, `${c.name}.c`), ...c.checker, '-o', out, '--seed', '1', '--runs', '600', ...c.args]);
      expect(r.status, r.stderr).toBe(99);
      expect(r.stderr).toMatch(c.signature);
      const crashes = join(out, 'default/crashes');
      const found = ids(crashes);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/^id:000000,sig:06,src:\d{6}/);
      const path = join(crashes, found[0]!);
      const json = JSON.parse(readFileSync(`${path}.json`, 'utf8'));
      expect(json.findings[0].kind).toBe(c.kind);
      expect(json.findings[0].region).toBe(c.region);
      expect(json.exit.status).toBe(99);
      const text = readFileSync(`${path}.txt`, 'utf8');
      expect(text).toMatch(/WARNING: kmemcheck: Caught/);
      expect(ids(join(out, 'default/queue')).length).toBeGreaterThan(0);
      // Replay: the same report, the same status.
      const replay = await kmemsim(['run', join(EX, `${c.name}.c`), ...c.checker, '--input', path]);
      expect(replay.status).toBe(99);
      expect(replay.stderr).toBe(text);
      // Without the checker the bug is invisible: the input runs clean.
      const plain = await kmemsim(['run', join(EX, `${c.name}.c`), '--input', path]);
      expect(plain.status, plain.stderr).toBe(0);
    });
  }

  // The "Done when": `kmemsim fuzz examples/fuzz/X.c --kmemcheck -o out` from an empty seed directory,
  // without the examples' dictionaries and seeds (the automatic dictionary and cmplog stand in for them).
  for (const c of cases) {
    const runs = c.name === 'use-after-free' ? '4000' : '300';
    it(`finds the bug of ${c.name}.c from an empty seed directory, without a dictionary (${runs} executions)`, async () => {
      const dir = tmp();
      mkdirSync(join(dir, 'in'));
      const r = await kmemsim(['fuzz', join(EX, `${c.name}.c`), ...c.checker, '-i', join(dir, 'in'), '-o', join(dir, 'out'), '--seed', '1', '--runs', runs]);
      expect(r.status, r.stderr).toBe(99);
      expect(r.stderr).toMatch(c.signature);
      expect(ids(join(dir, 'out/default/queue'))[0]).toBe('id:000000,time:0,execs:0,orig:generated');
    });
  }

  it('kmemsim tmin minimizes a crash keeping its signature', async () => {
    const dir = tmp();
    // A crash with junk around the one record that matters.
    writeFileSync(join(dir, 'crash'), Buffer.from('xyA\x01qqB\x07zzzzzzzz', 'latin1'));
    const r = await kmemsim(['tmin', join(EX, 'record-type.c'), join(dir, 'crash'), join(dir, 'min'), '--kmemcheck']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/keeping crash: uninitialized heap read in emit\+0x/);
    // The minimum: a type 'B' record (2 bytes), its value byte normalized to '0'.
    expect(readFileSync(join(dir, 'min'), 'latin1')).toBe('B0');
    const replay = await kmemsim(['run', join(EX, 'record-type.c'), '--kmemcheck', '--input', join(dir, 'min')]);
    expect(replay.status).toBe(99);
    writeFileSync(join(dir, 'fine'), 'AA');
    const none = await kmemsim(['tmin', join(EX, 'record-type.c'), join(dir, 'fine'), join(dir, 'min2'), '--kmemcheck']);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/does not crash record-type\.c with these checkers/);
  });

  it('kmemsim cmin keeps the smallest input per edge tuple and leaves crashes out', async () => {
    const dir = tmp();
    mkdirSync(join(dir, 'in'));
    const files: Record<string, string> = {
      a: 'A1', // one type-A record
      b: 'A2', // the same path as a: dropped
      c: 'A1A2A3', // three records: new loop-count buckets, kept
      d: 'A1A2A3A4', // four records: kept or not as its hit-count buckets decide (not asserted)
      e: 'B1', // crashes: left out
      f: 'zz', // no record: kept (a path of its own)
    };
    for (const [n, v] of Object.entries(files)) writeFileSync(join(dir, 'in', n), v);
    const r = await kmemsim(['cmin', join(EX, 'record-type.c'), join(dir, 'in'), join(dir, 'out'), '--kmemcheck']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/6 -> \d+ inputs \(1 crashing or hanging left out\)/);
    const kept = readdirSync(join(dir, 'out')).sort();
    expect(kept).toContain('a');
    expect(kept).toContain('f');
    expect(kept).not.toContain('b');
    expect(kept).not.toContain('e');
    const again = await kmemsim(['cmin', join(EX, 'record-type.c'), join(dir, 'in'), join(dir, 'out')]);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/is not empty/);
  });

  it('--max-time ends a run that has no other limit', async () => {
    const out = tmp();
    const t0 = Date.now();
    const r = await kmemsim(['fuzz', join(EX, 'clean.c'), '-o', out, '--max-time', '1']);
    expect(r.status, r.stderr).toBe(0);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(Number(/^execs_done +: (\d+)$/m.exec(readFileSync(join(out, 'default/fuzzer_stats'), 'utf8'))![1])).toBeGreaterThan(1);
  });

  it('finds the 32-bit magic of padding.c through the automatic dictionary or cmplog, not with havoc alone', async () => {
    const auto = await kmemsim(['fuzz', join(EX, 'padding.c'), '--kmemcheck', '--no-cmplog', '-o', tmp(), '--seed', '1', '--runs', '300']);
    expect(auto.status, auto.stderr).toBe(99);
    expect(auto.stderr).toMatch(/uninitialized heap read in serialize\+0x/);
    const cmplog = await kmemsim(['fuzz', join(EX, 'padding.c'), '--kmemcheck', '--no-auto-dict', '-o', tmp(), '--seed', '1', '--runs', '300']);
    expect(cmplog.status, cmplog.stderr).toBe(99);
    expect(cmplog.stderr).toMatch(/uninitialized heap read in serialize\+0x/);
    const none = await kmemsim(['fuzz', join(EX, 'padding.c'), '--kmemcheck', '--no-auto-dict', '--no-cmplog', '-o', tmp(), '--seed', '1', '--runs', '300']);
    expect(none.status, none.stderr).toBe(0);
  });

  it('finds nothing in the clean target with kmemcheck and the precise stack checker', async () => {
    const out = tmp();
    const r = await kmemsim(['fuzz', join(EX, 'clean.c'), '--kmemcheck', '--stack', 'precise', '-o', out, '--seed', '3', '--runs', '40']);
    expect(r.status, r.stderr).toBe(0);
    expect(ids(join(out, 'default/crashes'))).toEqual([]);
    const stats = readFileSync(join(out, 'default/fuzzer_stats'), 'utf8');
    expect(stats).toMatch(/^execs_done +: 40$/m);
    expect(Number(/^edges_found +: (\d+)$/m.exec(stats)![1])).toBeGreaterThan(5);
    expect(ids(join(out, 'default/queue')).length).toBeGreaterThan(1);
  });

  it('is deterministic: the same seed gives the same queue and crashes', async () => {
    const run = async (): Promise<string[]> => {
      const out = tmp();
      const r = await kmemsim(['fuzz', join(EX, 'record-type.c'), '--kmemcheck', '-o', out, '--seed', '9', '--runs', '40', '--keep-going']);
      expect([0, 99]).toContain(r.status);
      const files: string[] = [];
      for (const sub of ['queue', 'crashes']) {
        for (const n of ids(join(out, 'default', sub))) {
          // time: is wall-clock; everything else is determined by the seed.
          files.push(`${sub}/${n.replace(/,time:\d+/, '')}=${readFileSync(join(out, 'default', sub, n)).toString('hex')}`);
        }
      }
      return files;
    };
    const a = await run();
    expect(a.length).toBeGreaterThan(2);
    expect(await run()).toEqual(a);
  });

  it('-D runs AFL\'s deterministic stages on each entry before havoc (named op:flip1,pos:N, ...), deterministically', async () => {
    const run = async (): Promise<string[]> => {
      const out = tmp();
      const r = await kmemsim(['fuzz', join(EX, 'clean.c'), '--kmemcheck', '-D', '-o', out, '--seed', '3', '--runs', '120', '--no-auto-dict', '--no-cmplog']);
      expect([0, 99]).toContain(r.status);
      return ids(join(out, 'default/queue')).map((n) => n.replace(/,time:\d+/, ''));
    };
    const a = await run();
    expect(a.slice(1).length).toBeGreaterThan(0);
    // The generated seed (4 bytes) has 32 + 31 + 29 walking flips before the byte flips: every find in 120 runs is a deterministic one.
    for (const n of a.slice(1)) expect(n).toMatch(/,op:(flip(1|2|4|8|16|32)|arith(8|16|32)|int(8|16|32)),pos:\d+/);
    expect(await run()).toEqual(a);
  });

  it('resuming with -i - remembers the crash signatures: the same bug is not saved again', async () => {
    const out = tmp();
    const args = ['fuzz', join(EX, 'record-type.c'), '--kmemcheck', '-x', join(EX, 'record-type.dict'), '-o', out, '--keep-going'];
    const first = await kmemsim([...args, '--seed', '1', '--runs', '300']);
    expect(first.status, first.stderr).toBe(99);
    const crashes = ids(join(out, 'default/crashes'));
    expect(crashes).toHaveLength(1);
    const recorded = JSON.parse(readFileSync(join(out, 'default/.crash_signatures'), 'utf8'));
    expect(recorded[crashes[0]!]).toMatch(/^uninitialized heap read in emit\+0x/);
    const again = await kmemsim([...args, '-i', '-', '--seed', '2', '--runs', '600']);
    expect(again.stderr).not.toMatch(/crash: /);
    expect(ids(join(out, 'default/crashes'))).toEqual(crashes);
    // A crash directory from before the signatures were recorded: its crashes are run once to learn them.
    rmSync(join(out, 'default/.crash_signatures'));
    const old = await kmemsim([...args, '-i', '-', '--seed', '3', '--runs', '300']);
    expect(old.stderr).not.toMatch(/crash: /);
    expect(ids(join(out, 'default/crashes'))).toEqual(crashes);
  });

  it('saves a hang when LLVMFuzzerTestOneInput exceeds --timeout-instructions', async () => {
    const dir = tmp();
    const src = join(dir, 'hang.c');
    writeFileSync(src, '#include <kmemsim/kernel.h>\nint spin;\nint LLVMFuzzerTestOneInput(const u8 *d, size_t n)\n{\n\tif (n && d[0] == \'H\')\n\t\tfor (;;)\n\t\t\tspin++;\n\treturn 0;\n}\n');
    mkdirSync(join(dir, 'in'));
    writeFileSync(join(dir, 'in/h'), 'H');
    const r = await kmemsim(['fuzz', src, '-i', join(dir, 'in'), '-o', join(dir, 'out'), '--runs', '3', '--timeout-instructions', '20000']);
    expect(r.status, r.stderr).toBe(99);
    expect(ids(join(dir, 'out/default/hangs'))).toHaveLength(1);
  });

  it('refuses bad targets and output directories with one-line errors', async () => {
    const dir = tmp();
    const noEntry = await kmemsim(['fuzz', join(ROOT, 'examples/kmemcheck/uninit-kmalloc.c'), '-o', join(dir, 'a')]);
    expect(noEntry.status).toBe(126);
    expect(noEntry.stderr).toMatch(/^kmemsim: uninit-kmalloc\.c defines no LLVMFuzzerTestOneInput/m);
    expect(existsSync(join(dir, 'a'))).toBe(false);

    const bad = join(dir, 'init-oops.c');
    writeFileSync(bad, '#include <kmemsim/kernel.h>\nint init_module(void) { return *(volatile int *)0; }\nint LLVMFuzzerTestOneInput(const u8 *d, size_t n) { return 0; }\n');
    const oops = await kmemsim(['fuzz', bad, '-o', join(dir, 'b')]);
    expect(oops.status).toBe(125);
    expect(oops.stderr).toMatch(/init_module crashed before fuzzing could start/);

    const missing = await kmemsim(['fuzz', join(dir, 'nope.c'), '-o', join(dir, 'c')]);
    expect(missing.status).toBe(127);

    const notDir = join(dir, 'file');
    writeFileSync(notDir, 'x');
    const seeds = await kmemsim(['fuzz', join(EX, 'clean.c'), '-i', notDir, '-o', join(dir, 'd'), '--runs', '1']);
    expect(seeds.status).toBe(2);
    expect(seeds.stderr).toMatch(/cannot read seed directory .*: not a directory/);

    const out = join(dir, 'e');
    expect((await kmemsim(['fuzz', join(EX, 'clean.c'), '-o', out, '--runs', '2'])).status).toBe(0);
    const again = await kmemsim(['fuzz', join(EX, 'clean.c'), '-o', out, '--runs', '2']);
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/holds an earlier run: resume it with -i -/);
    const resumed = await kmemsim(['fuzz', join(EX, 'clean.c'), '-i', '-', '-o', out, '--runs', '4']);
    expect(resumed.status, resumed.stderr).toBe(0);
    const replayNoEntry = await kmemsim(['run', join(ROOT, 'examples/kmemcheck/uninit-kmalloc.c'), '--input', notDir]);
    expect(replayNoEntry.status).toBe(126);
    expect(replayNoEntry.stderr).toMatch(/defines no LLVMFuzzerTestOneInput.*--input has nothing to go to/);
    const replayMissing = await kmemsim(['run', join(EX, 'clean.c'), '--input', join(dir, 'no-such-input')]);
    expect(replayMissing.status).toBe(127);
    expect(replayMissing.stderr).toMatch(/^kmemsim: cannot read input .*: no such file$/m);
    for (const r of [noEntry, oops, missing, seeds, again, replayNoEntry, replayMissing]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  const whatsup = !spawnSync('afl-whatsup', ['-h']).error;
  if (!whatsup) console.log('test/fuzz/examples.test.ts: afl-whatsup check skipped: afl-whatsup not found (Debian package afl++; .ci/run installs it as root)');
  it.skipIf(!whatsup)('afl-whatsup reads the output directory', async () => {
    const out = tmp();
    await kmemsim(['fuzz', join(EX, 'padding.c'), '--kmemcheck', '-x', join(EX, 'padding.dict'), '-o', out, '--seed', '1', '--runs', '300']);
    const r = spawnSync('afl-whatsup', ['-d', out], { encoding: 'utf8', env: { ...process.env, TERM: 'dumb' } });
    expect(r.stdout).toMatch(/padding\.c/);
    expect(r.stdout).toMatch(/Crashes saved : 1/);
  });
});

const builtCli = existsSync(join(ROOT, 'dist/cli/main.js'));
describe.skipIf(skip !== null || !builtCli)('kmemsim fuzz: interrupted', () => {
  // SIGINT is what Ctrl-C sends; the run is stopped wherever it is (havoc, cmplog, sync).
  for (const signal of ['SIGTERM', 'SIGINT'] as const) it(`${signal} ends the run after the current input; the output directory is consistent and resumes with -i -`, async () => {
    const out = tmp();
    const child = spawn(process.execPath, [join(ROOT, 'bin/kmemsim.js'), 'fuzz', join(EX, 'clean.c'), '--kmemcheck', '-o', out, '--status-interval', '1'], { cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    // Wait for the first status line: the run is under way.
    for (let i = 0; i < 300 && !/kmemsim fuzz: \d+s, /.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill(signal);
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/interrupted; the output directory is consistent/);
    const queue = readdirSync(join(out, 'default/queue'));
    expect(queue.filter((n) => n.startsWith('.'))).toEqual([]);
    const stats = readFileSync(join(out, 'default/fuzzer_stats'), 'utf8');
    const done = Number(/^execs_done +: (\d+)$/m.exec(stats)![1]);
    expect(done).toBeGreaterThan(0);
    const resumed = await kmemsim(['fuzz', join(EX, 'clean.c'), '--kmemcheck', '-i', '-', '-o', out, '--runs', String(queue.length + 3)]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(ids(join(out, 'default/queue')).slice(0, queue.length)).toEqual(queue.sort());
  }, 60_000);
});
