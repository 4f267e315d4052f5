/**
 * The personality's calls probed from a static glibc program under kmemsim:
 * memory (mmap, mremap, munmap, private file mappings, /proc/self/maps),
 * devices and /proc, TLS slots, the virtual clock, EPIPE, deterministic
 * randomness, --root confinement and --read-only.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram, gccM32Missing } from './harness.js';
import { runUserProgram } from '../../src/kernel/process.js';

const missing = gccM32Missing();
if (missing) console.warn(`test/linux/kernel-apis.test.ts skipped: ${missing}`);

describe.skipIf(missing !== null)('Linux personality probes', () => {
  const out = mkdtempSync(join(tmpdir(), 'kmemsim-apis-'));
  const exe = buildProgram('kernel-apis', out);
  const bytes = new Uint8Array(readFileSync(exe));
  const run = (args: string[], extra: Parameters<typeof runUserProgram>[1] extends infer O ? Partial<O> : never = {}) => {
    const r = runUserProgram(bytes, { argv: [exe, ...args], maxInstructions: 500_000_000, ...extra });
    return { ...r, out: Buffer.from(r.stdout).toString(), err: Buffer.from(r.stderr).toString() };
  };

  it('memory, devices, /proc, TLS, clock and pipes behave as on Linux', () => {
    const r = run([]);
    expect(r.err).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.out).toContain('mmap zeroed 1\n');
    expect(r.out).toContain('mremap keeps data 1\n');
    expect(r.out).toContain('munmap: 0 errno 0\n');
    expect(r.out).toContain('mprotect unmapped: -1 errno 12\n'); // ENOMEM
    expect(r.out).toContain('file mapping is ELF 1\n');
    expect(r.out).toContain('maps has heap 1 stack 1 file-mapping 1\n');
    expect(r.out).toContain('dev/zero 1\n');
    expect(r.out).toContain('cpuinfo vendor 1 flags-line 1\n');
    expect(r.out).toContain('fd1 -> pipe:\n');
    expect(r.out).toContain('isatty on a pipe: 0 errno 25\n'); // TCGETS → ENOTTY
    expect(r.out).toContain('get_thread_area(7) 0 empty 1\n');
    expect(r.out).toContain('set_thread_area(12): -1 errno 22\n'); // only entries 6–8
    expect(r.out).toContain('gs selector 0x33\n'); // GDT entry 6, RPL 3
    expect(r.out).toContain('slept >= 2.5 s of virtual time 1\n');
    expect(r.out).toContain(`time ${Math.floor(1207267200 / 86400)}\n`);
    expect(r.out).toContain('write to closed pipe: -1 errno 32\n'); // EPIPE (SIGPIPE ignored)
  });

  it('is deterministic: getrandom and /dev/urandom give the same bytes on every run', () => {
    const a = run([]).out.match(/random .*/)![0];
    const b = run([]).out.match(/random .*/)![0];
    expect(a).toBe(b);
    expect(a).not.toBe('random 00000000 00000000');
  });

  it('a write to a read-only private file mapping is a fault with SIGSEGV named; abort() ends with 128+SIGABRT', () => {
    const segv = run(['segv']);
    expect(segv.stop.kind).toBe('fault');
    expect(segv.stop.kind === 'fault' && segv.stop.message).toMatch(/SIGSEGV.*protection violation/);
    expect(run(['abort']).exitCode).toBe(134);
  });

  it('--root confines every path: "..", absolute and relative links, /proc/self/root', () => {
    const base = mkdtempSync(join(tmpdir(), 'kmemsim-root-'));
    const root = join(base, 'root');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(base, 'outside.txt'), 'SECRET\n');
    writeFileSync(join(root, 'inside.txt'), 'inside\n');
    symlinkSync('/../../outside.txt', join(root, 'abs-link'));
    symlinkSync('../outside.txt', join(root, 'rel-link'));
    symlinkSync(base, join(root, 'dir-link'));
    const r = run(['confine'], { root, cwd: '/' });
    expect(r.out).not.toContain('SECRET');
    expect(r.out).toBe([
      "open inside.txt: 'inside'", "open /inside.txt: 'inside'", 'open ../outside.txt: errno 2', 'open /../../outside.txt: errno 2',
      'open abs-link: errno 2', 'open rel-link: errno 2', 'open /proc/self/root/../outside.txt: errno 2',
      'open dir-link/../outside.txt: errno 2', 'cwd after chdir(/..) /', '',
    ].join('\n'));
  });

  it('--read-only refuses writes to host files with EROFS and still reads them', () => {
    const root = mkdtempSync(join(tmpdir(), 'kmemsim-ro-'));
    writeFileSync(join(root, 'inside.txt'), 'inside\n');
    const r = run(['readonly'], { root, cwd: '/', readOnly: true });
    expect(r.out).toBe([
      'create: -1 errno 30', 'write-open: -1 errno 30', 'mkdir: -1 errno 30', 'unlink: -1 errno 30', 'read-open ok: 1', 'dev/null write: 1', '',
    ].join('\n'));
    expect(existsSync(join(root, 'new.txt'))).toBe(false);
    expect(existsSync(join(root, 'inside.txt'))).toBe(true);
  });
});
