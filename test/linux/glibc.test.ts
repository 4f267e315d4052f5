/**
 * Static glibc programs (gcc -m32 -static) run natively and under kmemsim:
 * stdout, stderr and exit status must be identical (test/linux/programs/).
 * Where the host cannot execute i386 binaries (a kernel without IA32
 * emulation, a sandbox such as gVisor) they run in kmemsim alone, checked
 * for their exit status and the lines each test names.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildProgram, differential, gccM32Missing, nativeI386Missing, runKmemsimIn, type RunSpec } from './harness.js';

const missing = gccM32Missing();
if (missing) console.warn(`test/linux/glibc.test.ts skipped: ${missing}`);
const noNative = missing === null ? nativeI386Missing() : null;
if (noNative) console.warn(`test/linux/glibc.test.ts: kmemsim alone (no native comparison): ${noNative}`);

/** Run `spec` natively and in kmemsim and compare; without native, kmemsim alone. Both must exit with `status`. */
function compared(spec: RunSpec, status: number): ReturnType<typeof runKmemsimIn> {
  if (noNative) {
    const kmemsim = runKmemsimIn(mkdtempSync(join(tmpdir(), 'kmemsim-glibc-k-')), spec);
    expect(kmemsim.status, kmemsim.stderr).toBe(status);
    return kmemsim;
  }
  const { native, kmemsim } = differential(spec);
  expect(native.status).toBe(status);
  expect(kmemsim).toEqual(native);
  return kmemsim;
}

describe.skipIf(missing !== null)('static glibc programs: native vs kmemsim', () => {
  const out = mkdtempSync(join(tmpdir(), 'kmemsim-glibc-'));
  const exe = (n: string): string => buildProgram(n, out);

  it('start-up: auxv (AT_HWCAP = CPUID.1:EDX, AT_PLATFORM, AT_EXECFN, ids), TLS through %gs, /proc/self/exe, uname', () => {
    const kmemsim = compared({ exe: exe('startup'), args: ['one'] }, 0);
    expect(kmemsim.stdout).toContain('tls 6');
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-glibc-h-'));
    expect(runKmemsimIn(dir, { exe: exe('startup'), args: [], env: ['CHECK_HWCAP=1'] }).stdout).toContain('hwcap matches cpuid: 1');
  });

  it('stdio and file I/O: fopen, lseek, pread, fstat, mkdir, rename, symlink, readlink, readdir, pipe, dup2, stderr', () => {
    compared({ exe: exe('stdio-files'), args: ['.'] }, 0);
  });

  it('qsort, bsearch, setjmp/longjmp, getenv, malloc and mmap-sized blocks, printf of integers', () => {
    const kmemsim = compared({ exe: exe('algorithms'), args: [], env: ['KMEMSIM_TEST_VAR=set-by-test'] }, 7);
    expect(kmemsim.stdout).toContain('getenv set-by-test');
  });

  it('processes and signals: fork/wait statuses, a pipe between processes (writer blocks on a full pipe), execve, kill, a segfaulting child, SIGCHLD, raise, a handled SIGSEGV (siglongjmp, then a handler that returns), blocked signals', () => {
    const kmemsim = compared({ exe: exe('processes'), args: [] }, 0);
    expect(kmemsim.stdout).toContain('segv handler returned, store retried: 7 count 2');
  });

  it('x87 state per task: two processes preempted mid-computation with values live in x87 registers, fork copying the parent\'s FPU state', () => {
    const kmemsim = compared({ exe: exe('fpu-tasks'), args: [] }, 0);
    expect(kmemsim.stdout).toContain('status 0');
  });

  it('the first unknown system call is only reported with --verbose, and returns -ENOSYS (rseq) without harm', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-glibc-v-'));
    const r = runKmemsimIn(dir, { exe: exe('algorithms'), args: [] });
    expect(r.status).toBe(7);
    expect(r.stderr).toBe('');
  });
});
