/**
 * Issue 16, items 1, 2, 4, 5, 7, 8, 9: bad input to `kmemsim run`, `boot`
 * and `disasm` gets a clear one-line message and a documented status. Runs
 * the command line in-process (main() of src/cli/main.ts with captured
 * stdout/stderr, src/fuzz/self.ts's runCaptured).
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCaptured, Rng, type Outcome } from '../../src/fuzz/self.js';
import { parseCount, parseSize, UsageError } from '../../src/cli/options.js';
import { decodeOne } from '../../src/cpu/decoder.js';
import { guestMemorySize, MAX_MEMORY_SIZE } from '../../src/kernel/process.js';
import { parseElf32 } from '../../src/elf/elf32.js';
import { compileModule } from '../../src/cli/compile.js';
import { canRunNativeI386, runNative } from '../differential/native.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const GUESTS = join(ROOT, 'test/robustness/guests');
const LIB = join(ROOT, 'build/lib/user-O2');
const HELLO = join(ROOT, 'build/examples/hello-O2');
const hasGcc = !spawnSync(process.env['CC'] || 'gcc', ['--version']).error;
const haveGuests = hasGcc && existsSync(LIB) && existsSync(HELLO);
if (!haveGuests) console.log('test/robustness/loader.test.ts: gcc or the built example guests (npm run build) missing: the tests that run guests are skipped');
const native = canRunNativeI386();
if (!native.ok) console.log(`test/robustness/loader.test.ts: native comparison skipped: ${native.why}`);

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kmemsim-loader-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A guest from test/robustness/guests, built like the examples (freestanding, examples/lib). */
function guest(name: string): string {
  const out = join(dir, name);
  if (!existsSync(out)) {
    execFileSync(process.env['CC'] || 'gcc', [
      '-m32', '-march=i686', '-mno-mmx', '-mno-sse', '-mno-sse2', '-ffreestanding', '-fno-builtin', '-fno-pic', '-fno-pie',
      '-fno-stack-protector', '-fcf-protection=none', '-g', '-std=gnu11', '-I', join(ROOT, 'examples/lib'), '-O2',
      '-nostdlib', '-static', '-no-pie', '-Wl,--build-id=none', join(GUESTS, `${name}.c`),
      ...readdirSync(LIB).map((f) => join(LIB, f)), '-o', out,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  return out;
}

function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** stderr has exactly one line, and it is kmemsim's, matching `re`. */
function oneLine(o: Outcome, re: RegExp): void {
  const lines = o.stderr.split('\n').filter((l) => l !== '');
  expect(lines, o.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^kmemsim: /);
  expect(lines[0]).toMatch(re);
}

const u32 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint32(o, true);
const setU32 = (b: Uint8Array, o: number, v: number): void => new DataView(b.buffer, b.byteOffset).setUint32(o, v >>> 0, true);
const u16 = (b: Uint8Array, o: number): number => new DataView(b.buffer, b.byteOffset).getUint16(o, true);

describe('item 1: dynamically linked programs', () => {
  it.skipIf(!hasGcc)('a dynamically linked i386 program (PIE or not) is 126 with a clear message, with or without checkers', async () => {
    const src = file('dyn.c', Buffer.from('int puts(const char *);\nint main(void) { puts("hi"); return 0; }\n'));
    for (const flags of [[], ['-no-pie']]) {
      const exe = join(dir, `dyn${flags.join('')}`);
      const r = spawnSync('gcc', ['-m32', ...flags, src, '-o', exe]);
      if (r.status !== 0) {
        console.log('test/robustness/loader.test.ts: gcc -m32 cannot link a dynamic program here (no 32-bit libc): dynamic case skipped');
        return;
      }
      for (const checker of [[], ['--kmemcheck']]) {
        const o = await runCaptured(['run', exe, ...checker]);
        expect(o.status).toBe(126);
        oneLine(o, /cannot run .*: dynamically linked program \(interpreter \/lib\/ld-linux\.so\.2\); kmemsim runs static executables only/);
      }
    }
  });

  it.skipIf(!haveGuests)('an empty PT_INTERP string is named as such', async () => {
    const b = new Uint8Array(readFileSync(HELLO));
    // Turn the PT_GNU_STACK entry (or the last one) into a PT_INTERP naming "" (one NUL byte of the ELF header's padding).
    const phoff = u32(b, 28);
    const n = u16(b, 44);
    let i = n - 1;
    for (let k = 0; k < n; k++) if (u32(b, phoff + k * 32) === 0x6474e551) i = k;
    const o = phoff + i * 32;
    setU32(b, o, 3);
    setU32(b, o + 4, 9); // e_ident[9]: padding, 0
    setU32(b, o + 16, 1);
    setU32(b, o + 20, 1);
    const r = await runCaptured(['run', file('empty-interp', b)]);
    expect(r.status).toBe(126);
    oneLine(r, /dynamically linked program \(with an empty PT_INTERP path\)/);
  });
});

describe('item 2: guest memory follows the program, --memory', () => {
  it.skipIf(!haveGuests)('a 100 MiB .bss runs as natively; --memory below its need is 126 with the numbers', async () => {
    const exe = guest('bigbss');
    const o = await runCaptured(['run', exe]);
    expect(o.stderr).toBe('');
    expect(o.stdout).toBe('bss 100 MiB, sum 3\n');
    expect(o.status).toBe(0);
    if (native.ok) expect(runNative(exe).stdout.toString()).toBe(o.stdout);
    const small = await runCaptured(['run', exe, '--memory', '64M']);
    expect(small.status).toBe(126);
    oneLine(small, /the program needs 10[0-9] MiB of guest memory to load \(its segments, \.bss included\), more than --memory 64 MiB/);
    expect((await runCaptured(['run', exe, '--memory', '256M'])).status).toBe(0);
    expect((await runCaptured(['run', exe, '--memory', '1G'])).status).toBe(0);
  });

  it.skipIf(!haveGuests)('a .bss past the 1 GiB limit is 126 with the numbers', async () => {
    const b = new Uint8Array(readFileSync(guest('bigbss')));
    const phoff = u32(b, 28);
    for (let k = 0; k < u16(b, 44); k++) {
      const o = phoff + k * 32;
      if (u32(b, o) === 1 && u32(b, o + 24) & 2) setU32(b, o + 20, 0x60000000); // the RW segment: 1.5 GiB
    }
    const r = await runCaptured(['run', file('hugebss', b)]);
    expect(r.status).toBe(126);
    oneLine(r, /needs 153[0-9] MiB of guest memory .*more than kmemsim's limit of 1024 MiB/);
  });

  it('sizes memory from the footprint: 64 MiB while that leaves half free, else need + 64 MiB, at most 1 GiB', () => {
    const elf = (memsz: number): ReturnType<typeof parseElf32> => {
      const b = new Uint8Array(0x1000);
      b.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1]);
      const dv = new DataView(b.buffer);
      dv.setUint16(16, 2, true); dv.setUint16(18, 3, true); dv.setUint32(20, 1, true); dv.setUint32(24, 0x08048000, true);
      dv.setUint32(28, 52, true); dv.setUint16(40, 52, true); dv.setUint16(42, 32, true); dv.setUint16(44, 1, true);
      dv.setUint32(52, 1, true); dv.setUint32(60, 0x08048000, true); dv.setUint32(68, 0x1000, true); dv.setUint32(72, memsz, true); dv.setUint32(76, 7, true);
      return parseElf32(b);
    };
    expect(guestMemorySize(elf(0x1000))).toBe(64 << 20);
    expect(guestMemorySize(elf(30 << 20))).toBe(64 << 20);
    expect(guestMemorySize(elf(40 << 20))).toBe(108 << 20);
    expect(guestMemorySize(elf(100 << 20))).toBe(168 << 20);
    expect(guestMemorySize(elf(980 << 20))).toBe(MAX_MEMORY_SIZE);
    expect(guestMemorySize(elf(0x1000), 8 << 20)).toBe(8 << 20);
    expect(() => guestMemorySize(elf(1100 << 20))).toThrow(/more than kmemsim's limit of 1024 MiB/);
  });

  it.skipIf(!haveGuests)('a guest filling its address space with brk and mmap2 gets the old break and -ENOMEM as on Linux; a stack that cannot grow is SIGSEGV; touching more pages than RAM is the OOM killer\'s SIGKILL (137)', async () => {
    const exe = guest('fillmem');
    const o = await runCaptured(['run', exe, '--memory', '64M']);
    expect(o.stderr).toBe('');
    expect(o.stdout).toMatch(/^brk stopped after \d+ MiB \(returned the old break\), mmap2 after \d+ MiB with -12\n$/);
    expect(o.status).toBe(0);
    const again = await runCaptured(['run', exe, '--memory', '64M']);
    expect(again).toEqual(o);
    const stack = await runCaptured(['run', exe, '--memory', '64M', '--', 'stack']);
    expect(stack.status).toBe(128 + 11);
    expect(stack.stderr).toMatch(/SIGSEGV: #PF page fault/);
    expect(stack.stderr).not.toMatch(/internal error/);
    const touch = await runCaptured(['run', exe, '--memory', '64M', '--', 'touch']);
    expect(touch.status).toBe(128 + 9);
    expect(touch.stderr).toMatch(/out of memory: killed process 1 \(simulated RAM is 64 MiB; see --memory\)/);
    expect(touch.stderr).not.toMatch(/internal error/);
  });

  it('--memory is a size: 256M, 1G, 512 (MiB); bad values are usage errors', async () => {
    expect(parseSize('256M', '--memory', { min: 0, max: 2 ** 40 })).toBe(256 << 20);
    expect(parseSize('1G', '--memory', { min: 0, max: 2 ** 40 })).toBe(1 << 30);
    expect(parseSize('512', '--memory', { min: 0, max: 2 ** 40 })).toBe(512 << 20);
    expect(parseSize('65536K', '--memory', { min: 0, max: 2 ** 40 })).toBe(64 << 20);
    expect(parseSize('128MiB', '--memory', { min: 0, max: 2 ** 40 })).toBe(128 << 20);
    for (const bad of ['', 'abc', '-1', '1.5K', '1T', '12Q']) {
      expect(() => parseSize(bad, '--memory', { min: 0, max: 2 ** 40 }), bad).toThrow(UsageError);
    }
    for (const bad of ['abc', '0', '2G', '']) {
      const o = await runCaptured(['run', HELLO, '--memory', bad]);
      expect(o.status, bad).toBe(2);
      expect(o.stderr).toMatch(/^kmemsim: --memory/);
    }
  });
});

describe('item 4: --max-instructions is a count, one parser for every command', () => {
  it('parses plain numbers, 1e9 and K/M/G/T suffixes; rejects the rest', () => {
    expect(parseCount('1000', 'n')).toBe(1000);
    expect(parseCount('1e9', 'n')).toBe(1e9);
    expect(parseCount('10M', 'n')).toBe(10_000_000);
    expect(parseCount('2.5G', 'n')).toBe(2_500_000_000);
    expect(parseCount('1t', 'n')).toBe(1e12);
    expect(parseCount('0', 'n')).toBe(0);
    for (const bad of ['', ' ', 'abc', '-1', '1.5', '0x10', '1e', '10MB', 'Infinity', 'NaN', '1e400']) {
      expect(() => parseCount(bad, 'n'), JSON.stringify(bad)).toThrow(UsageError);
    }
    expect(() => parseCount('300', '--error-exitcode', { max: 255 })).toThrow(/from 0 to 255/);
  });

  it('run, boot and compare refuse non-numbers, negatives and "" with status 2; accept 1e9 and 10M', async () => {
    const kernel = join(ROOT, 'build/kernels/hello.elf');
    for (const bad of ['abc', '-1', '', '1.5']) {
      for (const argv of [['run', HELLO], ['boot', kernel], ['compare', join(ROOT, 'examples/stack/uninit-arg.c')]]) {
        const o = await runCaptured([...argv, '--max-instructions', bad]);
        expect(o.status, `${argv[0]} ${JSON.stringify(bad)}`).toBe(2);
        expect(o.stderr).toMatch(/^kmemsim: --max-instructions/);
      }
    }
    if (existsSync(HELLO)) {
      expect((await runCaptured(['run', HELLO, '--max-instructions', '1e9'])).status).toBe(0);
      expect((await runCaptured(['run', HELLO, '--max-instructions', '10M'])).status).toBe(0);
      const tiny = await runCaptured(['run', HELLO, '--max-instructions', '10']);
      expect(tiny.status).toBe(124);
      expect(tiny.stderr).toMatch(/budget exhausted after 10 instructions/);
    }
    if (existsSync(kernel)) expect((await runCaptured(['boot', kernel, '--max-instructions', '1M'])).status).toBe(33);
  });
});

describe('item 5: one input reader, regular files only, bounded', () => {
  it('refuses /dev/zero, a FIFO, a directory and a 1 GiB sparse file at once, for run, boot and disasm', async () => {
    const fifo = join(dir, 'fifo');
    spawnSync('mkfifo', [fifo]);
    const sparse = join(dir, 'sparse');
    writeFileSync(sparse, '');
    spawnSync('truncate', ['-s', '1G', sparse]);
    const cases: [string, RegExp][] = [
      ['/dev/zero', /a character device, not a regular file/],
      [dir, /a directory, not a regular file|is a directory/],
      [sparse, /1 GiB is larger than the 256 MiB input limit/],
    ];
    if (existsSync(fifo)) cases.push([fifo, /a FIFO, not a regular file/]);
    const before = process.memoryUsage().rss;
    const t0 = Date.now();
    for (const [path, why] of cases) {
      for (const cmd of ['run', 'boot', 'disasm']) {
        const o = await runCaptured([cmd, path]);
        expect(o.status, `${cmd} ${path}`).toBe(126);
        oneLine(o, new RegExp(`^kmemsim: cannot read ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${why.source}`));
      }
    }
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 2 ** 20);
    const missing = await runCaptured(['run', join(dir, 'no-such-file')]);
    expect(missing.status).toBe(127);
    oneLine(missing, /no such file/);
  });
});

describe('item 7: the same file gets the same status whatever the flags', () => {
  it.skipIf(!haveGuests)('a corrupted e_type is 126 with and without --kmemcheck or --stack', async () => {
    for (const type of [0x1234, 4, 0]) {
      const b = new Uint8Array(readFileSync(HELLO));
      b[16] = type & 0xff;
      b[17] = type >> 8;
      const p = file(`etype-${type}`, b);
      const plain = await runCaptured(['run', p]);
      expect(plain.status).toBe(126);
      for (const flags of [['--kmemcheck'], ['--stack', 'precise'], ['--kmemcheck', '--report-json', join(dir, 'r.json')]]) {
        expect(await runCaptured(['run', p, ...flags])).toEqual(plain);
      }
    }
    // A valid program with checker flags stays a usage error: the checkers are for modules.
    expect((await runCaptured(['run', HELLO, '--kmemcheck'])).status).toBe(2);
  });
});

describe('item 8: executables load from program headers only', () => {
  /** Mutate only what a loader does not need: the section header table, e_sh* fields, .symtab/.strtab/debug contents. */
  function sectionDamage(orig: Uint8Array, rng: Rng): Uint8Array {
    const b = new Uint8Array(orig);
    const shoff = u32(b, 32);
    const shnum = u16(b, 48);
    const regions: [number, number][] = [[32, 4], [46, 6], [shoff, shnum * 40]];
    for (let i = 0; i < shnum; i++) {
      const o = shoff + i * 40;
      const type = u32(b, o + 4);
      const off = u32(b, o + 16);
      const size = u32(b, o + 20);
      // SHT_SYMTAB, SHT_STRTAB and non-alloc PROGBITS (.debug_*, .comment): nothing the loader maps.
      if ((type === 2 || type === 3 || (type === 1 && !(u32(b, o + 8) & 2))) && off + size <= b.length) regions.push([off, size]);
    }
    for (let k = 1 + rng.below(4); k > 0; k--) {
      const [start, len] = rng.pick(regions);
      if (len <= 0) continue;
      const at = start + rng.below(len);
      if (rng.below(2)) b[at] = rng.below(256);
      else if (at + 4 <= b.length) setU32(b, at, rng.pick([0, 0xffffffff, 0x7fffffff, rng.next()]));
    }
    return b;
  }

  it.skipIf(!haveGuests || !native.ok)('mutants that run natively run in kmemsim with the same output and status', async () => {
    const progs = ['hello-O2', 'strings-Os'].map((n) => join(ROOT, 'build/examples', n)).filter(existsSync);
    const rng = new Rng(8);
    let compared = 0;
    let warned = 0;
    for (let i = 0; i < 40; i++) {
      const orig = new Uint8Array(readFileSync(progs[i % progs.length]!));
      const p = file(`shdamage-${i}`, sectionDamage(orig, rng));
      chmodSync(p, 0o755);
      const nat = runNative(p);
      if (nat.error || nat.status === null) continue;
      const o = await runCaptured(['run', p]);
      expect(o.status, `mutant ${i}: ${o.stderr}`).toBe(nat.status);
      expect(o.stdout).toBe(nat.stdout.toString('latin1'));
      const lines = o.stderr.split('\n').filter((l) => l !== '');
      expect(lines.length).toBeLessThanOrEqual(1);
      if (lines.length) {
        expect(lines[0]).toMatch(/^kmemsim: warning: .*: section headers ignored \(.+\); no symbols$/);
        warned++;
      }
      compared++;
    }
    expect(compared).toBeGreaterThan(32);
    expect(warned).toBeGreaterThan(8);
  });

  it.skipIf(!haveGuests)('disasm of an executable without usable section headers lists its executable segments, with the warning', async () => {
    const b = new Uint8Array(readFileSync(HELLO));
    setU32(b, 32, 0x7ffffff0); // e_shoff past the end of the file
    const o = await runCaptured(['disasm', file('noshdr', b)]);
    expect(o.status).toBe(0);
    expect(o.stdout).toMatch(/^Disassembly of segment \d+ \(PT_LOAD, executable\):\n\s+8049000:/m);
    oneLine(o, /^kmemsim: warning: .*noshdr: section headers ignored \(truncated: section header/);
    const run = await runCaptured(['run', file('noshdr', b)]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^Hello from a static i386 guest!/);
  });

  it.skipIf(!hasGcc)('a module needs its section headers: damaged ones are a clear 126, with and without checkers', async () => {
    const obj = new Uint8Array(compileModule(join(ROOT, 'examples/kmemcheck/kzalloc.c')).object);
    setU32(obj, 32, 0x7ffffff0);
    const p = file('badmod.o', obj);
    for (const flags of [[], ['--kmemcheck'], ['--stack', 'cpl1']]) {
      const o = await runCaptured(['run', p, ...flags]);
      expect(o.status).toBe(126);
      expect(o.stderr).toMatch(/^kmemsim: cannot load module badmod\.o: truncated: section header/m);
    }
    const d = await runCaptured(['disasm', p]);
    expect(d.status).toBe(126);
  });
});

describe('item 8 for modules: damaged debug info degrades file:line with one warning', () => {
  it.skipIf(!hasGcc)('a module whose .debug_line is damaged still loads and reports, without file:line, warning once', async () => {
    const obj = new Uint8Array(compileModule(join(ROOT, 'examples/kmemcheck/uninit-kmalloc.c')).object);
    const line = parseElf32(obj).sectionByName('.debug_line')!;
    expect(line).not.toBeNull();
    obj[line.offset + 4] = 99; // the first unit's version: no DWARF has 99
    const p = file('badline.o', obj);
    const o = await runCaptured(['run', p, '--kmemcheck']);
    expect(o.status).toBe(99);
    const warnings = o.stderr.split('\n').filter((l) => l.startsWith('kmemsim: warning:'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^kmemsim: warning: badline\.o: \.debug_line ignored \(.+\); no file:line$/);
    expect(o.stderr).toMatch(/EIP is at read_config\+0x0\/0x[0-9a-f]+\n/);
    expect(o.stderr).not.toMatch(/uninit-kmalloc\.c:\d+/);
  });
});

describe('item 9: messages', () => {
  it.skipIf(!haveGuests)('an unsupported SSE instruction is one line naming it once: ADDPS, its bytes, where, why', async () => {
    const o = await runCaptured(['run', guest('sse')]);
    expect(o.status).toBe(125);
    expect(o.stdout).toBe('before\n');
    oneLine(o, /^kmemsim: unsupported instruction ADDPS \(0F 58 C1\) at 0x[0-9a-f]{8}: an MMX\/SSE instruction; kmemsim models an i686 without MMX\/SSE$/);
  });

  it('names the MMX/SSE forms by mandatory prefix and the x87 register forms', () => {
    const name = (bytes: number[]): string => {
      const info = decodeOne(Uint8Array.from([...bytes, 0, 0, 0, 0, 0, 0]), 0);
      return info.text.split(' ')[0]!;
    };
    expect(name([0x0f, 0x58, 0xc1])).toBe('addps');
    expect(name([0x66, 0x0f, 0x58, 0xc1])).toBe('addpd');
    expect(name([0xf3, 0x0f, 0x58, 0xc1])).toBe('addss');
    expect(name([0xf2, 0x0f, 0x58, 0xc1])).toBe('addsd');
    expect(name([0x66, 0x0f, 0xef, 0xc0])).toBe('pxor');
    expect(name([0x0f, 0x73, 0xd0, 0x01])).toBe('psrlq');
    expect(name([0xde, 0xeb])).toBe('fsubp');
    expect(name([0xde, 0xe3])).toBe('fsubrp');
    expect(name([0xd9, 0xe0])).toBe('fchs');
    expect(name([0xde, 0xd9])).toBe('fcompp');
  });

  it.skipIf(!hasGcc)('--report-json "" is a usage error; an unwritable report path is 2 before anything runs', async () => {
    const mod = join(ROOT, 'examples/kmemcheck/uninit-kmalloc.c');
    const empty = await runCaptured(['run', mod, '--kmemcheck', '--report-json', '']);
    expect(empty.status).toBe(2);
    expect(empty.stderr).toMatch(/^kmemsim: --report-json needs a file name/);
    const bad = await runCaptured(['run', mod, '--kmemcheck', '--report-json', join(dir, 'no/such/dir/r.json')]);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
    oneLine(bad, /^kmemsim: cannot write .*no\/such\/dir\/r\.json: ENOENT/);
    const ok = await runCaptured(['run', mod, '--kmemcheck', '--report-json', join(dir, 'r.json')]);
    expect(ok.status).toBe(99);
    expect(JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8')).exit.status).toBe(99);
  });
});
