/**
 * Static glibc programs (gcc -m32 -static) run natively and under kmemsim:
 * stdout, stderr and exit status must be identical (test/linux/programs/).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram, differential, gccM32Missing, runKmemsimIn } from './harness.js';

const missing = gccM32Missing();
if (missing) console.warn(`test/linux/glibc.test.ts skipped: ${missing}`);

describe.skipIf(missing !== null)('static glibc programs: native vs kmemsim', () => {
  const out = mkdtempSync(join(tmpdir(), 'kmemsim-glibc-'));
  const exe = (n: string): string => buildProgram(n, out);

  it('start-up: auxv (AT_HWCAP = CPUID.1:EDX, AT_PLATFORM, AT_EXECFN, ids), TLS through %gs, /proc/self/exe, uname', () => {
    const { native, kmemsim } = differential({ exe: exe('startup'), args: ['one'] });
    expect(native.status).toBe(0);
    expect(kmemsim).toEqual(native);
    expect(kmemsim.stdout).toContain('tls 6');
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-glibc-h-'));
    expect(runKmemsimIn(dir, { exe: exe('startup'), args: [], env: ['CHECK_HWCAP=1'] }).stdout).toContain('hwcap matches cpuid: 1');
  });

  it('stdio and file I/O: fopen, lseek, pread, fstat, mkdir, rename, symlink, readlink, readdir, pipe, dup2, stderr', () => {
    const { native, kmemsim } = differential({ exe: exe('stdio-files'), args: ['.'] });
    expect(native.status).toBe(0);
    expect(kmemsim).toEqual(native);
  });

  it('qsort, bsearch, setjmp/longjmp, getenv, malloc and mmap-sized blocks, printf of integers', () => {
    const { native, kmemsim } = differential({ exe: exe('algorithms'), args: [], env: ['KMEMSIM_TEST_VAR=set-by-test'] });
    expect(native.status).toBe(7);
    expect(kmemsim).toEqual(native);
    expect(kmemsim.stdout).toContain('getenv set-by-test');
  });

  it('processes and signals: fork/wait statuses, a pipe between processes (writer blocks on a full pipe), execve, kill, a segfaulting child, SIGCHLD, raise, a handled SIGSEGV (siglongjmp, then a handler that returns), blocked signals', () => {
    const { native, kmemsim } = differential({ exe: exe('processes'), args: [] });
    expect(native.status).toBe(0);
    expect(kmemsim).toEqual(native);
    expect(kmemsim.stdout).toContain('segv handler returned, store retried: 7 count 2');
  });

  it('x87 state per task: two processes preempted mid-computation with values live in x87 registers, fork copying the parent\'s FPU state', () => {
    const { native, kmemsim } = differential({ exe: exe('fpu-tasks'), args: [] });
    expect(native.status).toBe(0);
    expect(kmemsim).toEqual(native);
    expect(kmemsim.stdout).toContain('status 0');
  });

  it('the first unknown system call is only reported with --verbose, and returns -ENOSYS (rseq) without harm', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-glibc-v-'));
    const r = runKmemsimIn(dir, { exe: exe('algorithms'), args: [] });
    expect(r.status).toBe(7);
    expect(r.stderr).toBe('');
  });
});
