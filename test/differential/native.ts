/**
 * Running the generated i386 programs on the host CPU.
 *
 * The differential test is only meaningful against real x86 silicon, so the
 * probe refuses hosts that are not x86 (an arm64 box with qemu-user binfmt
 * would happily "run" the binaries, but then we would be testing qemu).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOW_BUF_ADDR, assembleAndLink } from './generator.js';

export interface NativeResult {
  stdout: Buffer;
  /** Exit status, or null when killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the program could not be started (ENOEXEC, EACCES…) or timed out. */
  error?: string;
}

const MAX_OUTPUT = 256 * 1024 * 1024;

/** Run a static executable natively and capture its raw stdout. */
export function runNative(exe: string, timeoutMs = 20_000): NativeResult {
  const r = spawnSync(exe, [], { maxBuffer: MAX_OUTPUT, timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  return {
    stdout: r.stdout ?? Buffer.alloc(0),
    status: r.status,
    signal: r.signal,
    ...(r.error ? { error: r.error.message } : {}),
  };
}

/** Asynchronous runNative, so many programs can run at once. */
export function runNativeAsync(exe: string, timeoutMs = 20_000): Promise<NativeResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const child = spawn(exe, [], { stdio: ['ignore', 'pipe', 'ignore'] });
    const timer = setTimeout(() => {
      error = `timed out after ${timeoutMs} ms`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (err) => {
      error = err.message;
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ stdout: Buffer.concat(chunks), status, signal, ...(error ? { error } : {}) });
    });
  });
}

function toolMissing(tool: string): string | null {
  const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
  if (r.error) return `\`${tool}\` is not available (${r.error.message}); install binutils`;
  return null;
}

let probeResult: { ok: boolean; why: string } | undefined;

/**
 * Can this host assemble, link and run static i386 executables on an x86
 * CPU? Assembles and runs a tiny program that writes "ok" and exits 42.
 * `why` says what is missing when `ok` is false.
 */
export function canRunNativeI386(): { ok: boolean; why: string } {
  if (probeResult) return probeResult;
  probeResult = probe();
  return probeResult;
}

function probe(): { ok: boolean; why: string } {
  if (process.platform !== 'linux') return { ok: false, why: `host OS is ${process.platform}, not Linux (the programs use the Linux i386 int $0x80 ABI)` };
  if (process.arch !== 'x64' && process.arch !== 'ia32') {
    return { ok: false, why: `host CPU is ${process.arch}, not x86: there is no real IA-32 CPU to compare kmemsim with` };
  }
  for (const tool of ['as', 'ld']) {
    const why = toolMissing(tool);
    if (why) return { ok: false, why };
  }
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-probe-'));
  try {
    const src = [
      '\t.text', '\t.globl _start', '_start:',
      '\tmovl $4, %eax', '\tmovl $1, %ebx', '\tmovl $msg, %ecx', '\tmovl $3, %edx', '\tint $0x80',
      '\tmovl $1, %eax', '\tmovl $42, %ebx', '\tint $0x80',
      '\t.data', 'msg:\t.ascii "ok\\n"', '',
    ].join('\n');
    let exe: string;
    try {
      exe = assembleAndLink(src, dir);
    } catch (err) {
      return { ok: false, why: `cannot assemble/link i386 code with \`as --32\` / \`ld -m elf_i386\`: ${(err as Error).message}` };
    }
    const r = runNative(exe, 10_000);
    if (r.error) return { ok: false, why: `cannot execute i386 binaries (kernel without IA32 emulation?): ${r.error}` };
    // A kernel that refuses the ELF with ENOEXEC (no IA32 emulation, or a sandbox such as gVisor) makes execvp
    // run it as a shell script: sh's exit status 2 and no output.
    if (r.status === 2 && r.stdout.length === 0) return { ok: false, why: 'this host cannot execute i386 binaries (exec format error: no IA32 emulation, or a sandbox)' };
    if (r.status !== 42 || r.stdout.toString() !== 'ok\n') {
      return { ok: false, why: `i386 probe program misbehaved: status ${r.status}, signal ${r.signal}, stdout ${JSON.stringify(r.stdout.toString())}` };
    }
    return { ok: true, why: 'host runs static i386 executables natively' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Can this host assemble and link i386 programs (`as --32`, `ld -m
 * elf_i386`), whether or not it can run them? Enough for comparing kmemsim
 * with itself (the block compiler's tiers against the interpreter).
 */
export function canAssembleI386(): { ok: boolean; why: string } {
  for (const tool of ['as', 'ld']) {
    const why = toolMissing(tool);
    if (why) return { ok: false, why };
  }
  return { ok: true, why: 'as and ld are installed' };
}

let lowProbe: { ok: boolean; why: string } | undefined;

/**
 * Can the host map the `.lowbuf` section at LOW_BUF_ADDR (below 64 KiB, for
 * 16-bit addressing)? Linux refuses mappings below vm.mmap_min_addr, which
 * many distributions set to 65536.
 */
export function canRunLowBuffer(): { ok: boolean; why: string } {
  if (lowProbe) return lowProbe;
  const base = canRunNativeI386();
  if (!base.ok) return (lowProbe = base);
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-probe-'));
  try {
    const src = [
      '\t.text', '\t.globl _start', '_start:',
      '\tmovl $4, %eax', '\tmovl $1, %ebx', '\tmovl $lowbuf, %ecx', '\tmovl $3, %edx', '\tint $0x80',
      '\tmovl $1, %eax', '\tmovl $0, %ebx', '\tint $0x80',
      '\t.section .lowbuf, "aw"', 'lowbuf:\t.ascii "ok\\n"', '',
    ].join('\n');
    const r = runNative(assembleAndLink(src, dir), 10_000);
    if (r.status === 0 && r.stdout.toString() === 'ok\n') return (lowProbe = { ok: true, why: 'low buffer can be mapped' });
    let minAddr = '?';
    try {
      minAddr = readFileSync('/proc/sys/vm/mmap_min_addr', 'utf8').trim();
    } catch { /* not Linux procfs */ }
    return (lowProbe = {
      ok: false,
      why: `cannot map a segment at 0x${LOW_BUF_ADDR.toString(16)} (vm.mmap_min_addr = ${minAddr}; status ${r.status}, signal ${r.signal}${r.error ? `, ${r.error}` : ''})`,
    });
  } catch (err) {
    return (lowProbe = { ok: false, why: (err as Error).message });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
