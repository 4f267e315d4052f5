/**
 * `kmemsim fuzz PROGRAM`: user-program targets. A program on the project's
 * runtime reading stdin (build/fuzz/tlv) and a glibc program reading the
 * file `@@` names (gcc -m32 -static, when gcc-multilib works) each have
 * their planted bug found as a fatal signal, saved with AFL's sig: field
 * and replayed by `kmemsim run`; the snapshot restored per input runs every
 * input as a fresh load does.
 */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { ProgramTarget } from '../../src/fuzz/target-program.js';
import { havoc } from '../../src/fuzz/mutate.js';
import { Rng } from '../../src/fuzz/random.js';
import { readDictionary } from '../../src/fuzz/dictionary.js';
import { MAP_SIZE } from '../../src/fuzz/coverage.js';
import { ROOT } from '../module/helpers.js';
import { gccM32Missing } from '../linux/harness.js';

const TLV = join(ROOT, 'build/fuzz/tlv');
const PROGS = join(ROOT, 'examples/fuzz/programs');
const noTlv = existsSync(TLV) ? null : `${TLV} missing: run npm run build (needs gcc)`;
if (noTlv) console.log(`test/fuzz/programs.test.ts: tlv skipped: ${noTlv}`);
const noM32 = gccM32Missing();
if (noM32) console.log(`test/fuzz/programs.test.ts: glibc target skipped: ${noM32}`);

async function kmemsim(args: string[], stdin = new Uint8Array(0)): Promise<{ status: number; stderr: string; stdout: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const status = await main(args, { stdout: (b) => void out.push(Buffer.from(b)), stderr: (b) => void err.push(Buffer.from(b)), stdin: () => stdin });
  return { status, stdout: Buffer.concat(out).toString('latin1'), stderr: Buffer.concat(err).toString('latin1') };
}
const tmp = (): string => mkdtempSync(join(tmpdir(), 'kmemsim-fuzz-prog-'));
const ids = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('id:') && !/\.(json|txt)$/.test(n)).sort() : []);

function glibcIni(): string {
  const out = join(tmp(), 'glibc-ini');
  const r = spawnSync('gcc', ['-m32', '-static', '-O2', join(PROGS, 'glibc-ini.c'), '-o', out], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return out;
}

/** Fresh load per input and snapshot restore per input give the same executions. */
function sameAsFresh(program: string, argv: string[], dict: string, seeds: Uint8Array[], inputFile: string | null): void {
  const bytes = new Uint8Array(readFileSync(program));
  const opts = { argv: [program, ...argv], env: ['PATH=/bin'], inputFile, timeout: 5_000_000 };
  const fresh = new ProgramTarget(bytes, { ...opts, snapshot: false });
  const snap = new ProgramTarget(bytes, opts);
  const rng = new Rng(3);
  const tokens = readDictionary(dict);
  const list = [...seeds];
  while (list.length < 16) list.push(havoc(list[rng.below(list.length)]!, { rng, tokens, maxLength: 512 }));
  for (const d of list) {
    const ea = new Uint8Array(MAP_SIZE);
    const eb = new Uint8Array(MAP_SIZE);
    const a = fresh.execute(d, ea);
    const b = snap.execute(d, eb);
    const view = (e: typeof a, edges: Uint8Array): unknown => ({
      outcome: e.outcome, signature: e.signature, signal: e.signal, instructions: e.instructions, message: e.program.message,
      stdout: Buffer.from(e.program.stdout).toString('latin1'), stderr: Buffer.from(e.program.stderr).toString('latin1'),
      edges: Buffer.from(edges).toString('base64'),
    });
    expect(view(b, eb), Buffer.from(d).toString('latin1')).toEqual(view(a, ea));
  }
  expect(snap.snapshot!.lastRestore.copiedPages).toBeLessThan(256);
}

describe.skipIf(noTlv !== null)('kmemsim fuzz: a program on the project runtime reading stdin', () => {
  it('finds the SIGSEGV of tlv, saves it as sig:11 with its reports, and kmemsim run replays it (139)', async () => {
    const out = tmp();
    const r = await kmemsim(['fuzz', TLV, '-x', join(PROGS, 'tlv.dict'), '-o', out, '--seed', '1', '--runs', '3000']);
    expect(r.status, r.stderr).toBe(99);
    expect(r.stderr).toMatch(/crash: .* \(SIGSEGV at \w+\+0x/);
    const found = ids(join(out, 'default/crashes'));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^id:000000,sig:11,src:\d{6}/);
    const path = join(out, 'default/crashes', found[0]!);
    expect(readFileSync(`${path}.txt`, 'utf8')).toMatch(/killed by SIGSEGV at/);
    const json = JSON.parse(readFileSync(`${path}.json`, 'utf8'));
    expect(json.exit).toMatchObject({ status: 139, signal: 11 });
    const replay = await kmemsim(['run', TLV], new Uint8Array(readFileSync(path)));
    expect(replay.status).toBe(139);
  });

  it('restoring the snapshot runs every input as a fresh load does', () => {
    sameAsFresh(TLV, [], join(PROGS, 'tlv.dict'), [new Uint8Array(Buffer.from('TLV1S\x03\x01ABP\x01\x01'))], null);
  });

  const KEYWORD = join(ROOT, 'build/fuzz/keyword');
  it.skipIf(!existsSync(KEYWORD))('cmplog logs a program\'s strncmp/strcmp arguments (cdecl): keyword\'s crash found in 1000 executions, not with --no-cmplog', async () => {
    const off = await kmemsim(['fuzz', KEYWORD, '-o', tmp(), '--seed', '1', '--runs', '1000', '--no-cmplog']);
    expect(off.status, off.stderr).toBe(0);
    const out = tmp();
    const on = await kmemsim(['fuzz', KEYWORD, '-o', out, '--seed', '1', '--runs', '1000']);
    expect(on.status, on.stderr).toBe(99);
    expect(on.stderr).toMatch(/crash: .*,op:its,pos:\d+ \(SIGSEGV at main\+0x/);
    const key = ids(join(out, 'default/queue')).map((n) => readFileSync(join(out, 'default/queue', n), 'latin1'));
    expect(key.some((d) => d.startsWith('OPEN-SES'))).toBe(true);
  });

  it('refuses checker options for a program (they check kernel modules): 2', async () => {
    const r = await kmemsim(['fuzz', TLV, '--kmemcheck', '-o', tmp(), '--runs', '1']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^kmemsim: --kmemcheck and --stack check kernel modules; .* is a program/m);
  });
});

describe.skipIf(noM32 !== null)('kmemsim fuzz: a glibc program reading the file @@ names', () => {
  it('finds the failed assert of glibc-ini (SIGABRT, sig:06); tmin keeps its signature', async () => {
    const prog = glibcIni();
    const out = tmp();
    const r = await kmemsim(['fuzz', prog, '-i', join(PROGS, 'glibc-ini.seeds'), '-x', join(PROGS, 'glibc-ini.dict'), '-o', out, '--seed', '1', '--runs', '600', '--', '@@']);
    expect(r.status, r.stderr).toBe(99);
    const found = ids(join(out, 'default/crashes'));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^id:000000,sig:06,/);
    const path = join(out, 'default/crashes', found[0]!);
    expect(readFileSync(`${path}.txt`, 'utf8')).toMatch(/Assertion `n < sizeof\(section\)' failed[\s\S]*killed by SIGABRT/);
    expect(existsSync(join(out, 'default/.cur_input'))).toBe(true);
    const replay = await kmemsim(['run', prog, '--', path]);
    expect(replay.status).toBe(134);
    const min = join(tmp(), 'min');
    const t = await kmemsim(['tmin', prog, path, min, '--', '@@']);
    expect(t.status, t.stderr).toBe(0);
    expect(readFileSync(min).length).toBeLessThan(readFileSync(path).length);
    expect((await kmemsim(['run', prog, '--', min])).status).toBe(134);
  });

  it('restoring the snapshot runs every input as a fresh load does', () => {
    const prog = glibcIni();
    sameAsFresh(prog, ['@@'], join(PROGS, 'glibc-ini.dict'), [new Uint8Array(readFileSync(join(PROGS, 'glibc-ini.seeds/basic.ini')))], join(tmp(), '.cur_input'));
  });
});
