/**
 * Test helper: assemble GNU assembler source into raw IA-32 bytes and run
 * small snippets on a bare CPU.
 *
 * `assemble(src)` runs `as --32` and `ld -m elf_i386 -Ttext=<base>
 * --oformat binary`, so labels resolve to absolute addresses at `base`
 * (default 0x1000, where `runSnippet` loads code). Results are cached per
 * (syntax, base, source) in memory and in `os.tmpdir()/kmemsim-asm-cache`,
 * so a re-run of the suite spawns no assembler at all.
 *
 * Syntax: Intel (`.intel_syntax noprefix`) by default; pass
 * `{ syntax: 'att' }` (or use `assembleAtt`) for AT&T.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CPU } from '../../src/cpu/cpu.js';
import type { StopReason } from '../../src/cpu/stop.js';
import { ARITH, flagsToString } from '../../src/cpu/flags.js';

export interface AsmOptions {
  /** Address the first byte is linked at (default 0x1000). */
  base?: number;
  /** 'intel' (default, `.intel_syntax noprefix`) or 'att'. */
  syntax?: 'intel' | 'att';
}

/** Where runSnippet loads code and points ESP. */
export const CODE_BASE = 0x1000;
export const STACK_TOP = 0x80000;
/** A scratch data area, well away from code and stack (its own pages). */
export const DATA = 0x20000;

const CACHE_DIR = join(tmpdir(), 'kmemsim-asm-cache');
const memCache = new Map<string, Uint8Array>();

/** Assemble GNU `as` source to flat binary linked at `opts.base`. */
export function assemble(src: string, opts: AsmOptions = {}): Uint8Array {
  const base = opts.base ?? CODE_BASE;
  const syntax = opts.syntax ?? 'intel';
  const full = (syntax === 'intel' ? '.intel_syntax noprefix\n' : '.att_syntax prefix\n') + '.code32\n.text\n' + src + '\n';
  const key = createHash('sha256').update(`v1\0${base}\0${full}`).digest('hex');
  const hit = memCache.get(key);
  if (hit) return hit;
  const cached = join(CACHE_DIR, `${key}.bin`);
  if (existsSync(cached)) {
    const bytes = new Uint8Array(readFileSync(cached));
    memCache.set(key, bytes);
    return bytes;
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-asm-'));
  try {
    const s = join(dir, 'a.s');
    const o = join(dir, 'a.o');
    const bin = join(dir, 'a.bin');
    writeFileSync(s, full);
    try {
      execFileSync('as', ['--32', '-o', o, s], { stdio: ['ignore', 'pipe', 'pipe'] });
      execFileSync('ld', ['-m', 'elf_i386', '-N', '-e', '0', `-Ttext=0x${base.toString(16)}`, '--oformat', 'binary', '-o', bin, o], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { stderr?: Buffer };
      throw new Error(`assembly failed:\n${err.stderr?.toString() ?? String(e)}\n--- source ---\n${full}`);
    }
    const bytes = new Uint8Array(readFileSync(bin));
    // Atomic publish: parallel test workers may assemble the same source.
    const tmp = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, cached);
    memCache.set(key, bytes);
    return bytes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** AT&T-syntax convenience wrapper. */
export function assembleAtt(src: string, opts: Omit<AsmOptions, 'syntax'> = {}): Uint8Array {
  return assemble(src, { ...opts, syntax: 'att' });
}

export interface SnippetResult {
  cpu: CPU;
  stop: StopReason | null;
}

export type Setup = (cpu: CPU) => void;

export interface SnippetOptions extends AsmOptions {
  /** Instruction budget (default 100000). */
  budget?: number;
}

/**
 * KMEMSIM_JIT_THRESHOLD (a number) sets the snippets' block-compile
 * threshold, so the instruction tests can run compiled:
 * `KMEMSIM_JIT_THRESHOLD=0 npx vitest run test/cpu` runs them through the
 * default (WebAssembly) tier, with `KMEMSIM_JIT=js` through the JavaScript
 * one. The test projects cpu-compiled-wasm and cpu-compiled-js
 * (vitest.config.ts) do both on every `npm test`. KMEMSIM_REGION_THRESHOLD
 * sets the WebAssembly tier's regionThreshold, so they can run through
 * promoted regions too (`KMEMSIM_REGION_THRESHOLD=2`).
 */
function snippetJit(cpu: CPU): void {
  const t = process.env.KMEMSIM_JIT_THRESHOLD;
  if (t !== undefined && t !== '') cpu.jitThreshold = Number(t);
  const r = process.env.KMEMSIM_REGION_THRESHOLD;
  if (r !== undefined && r !== '' && cpu.wasm !== null) cpu.wasm.regionThreshold = Number(r);
}

/**
 * Assemble `src` at 0x1000 and run it on a flat CPU (paging off, CPL 0,
 * no IDT, 1 MiB RAM, ESP = 0x80000). `setup` runs after the code is
 * loaded, before execution. End snippets with `hlt`.
 */
export function runSnippet(src: string, setup?: Setup, opts: SnippetOptions = {}): SnippetResult {
  const base = opts.base ?? CODE_BASE;
  const code = assemble(src, { ...opts, base });
  const cpu = new CPU({ memorySize: 1 << 20 });
  cpu.writePhys(base, code);
  cpu.eip = base;
  cpu.regs[4] = STACK_TOP;
  snippetJit(cpu);
  setup?.(cpu);
  const stop = cpu.run(opts.budget ?? 100000);
  return { cpu, stop };
}

/** Run raw bytes (for encodings `as` will not produce). */
export function runBytes(bytes: number[] | Uint8Array, setup?: Setup, budget = 100000): SnippetResult {
  const cpu = new CPU({ memorySize: 1 << 20 });
  cpu.writePhys(CODE_BASE, bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes));
  cpu.eip = CODE_BASE;
  cpu.regs[4] = STACK_TOP;
  snippetJit(cpu);
  setup?.(cpu);
  const stop = cpu.run(budget);
  return { cpu, stop };
}

// ---- register / flag conveniences -----------------------------------------------

const REG_INDEX = { eax: 0, ecx: 1, edx: 2, ebx: 3, esp: 4, ebp: 5, esi: 6, edi: 7 } as const;
export type Reg32 = keyof typeof REG_INDEX;

/** Unsigned value of a 32-bit register. */
export function reg(cpu: CPU, r: Reg32): number {
  return cpu.regs[REG_INDEX[r]]! >>> 0;
}
export function setReg(cpu: CPU, r: Reg32, v: number): void {
  cpu.regs[REG_INDEX[r]] = v | 0;
}
/** Setup that loads registers (and optionally EFLAGS status bits). */
export function regs(values: Partial<Record<Reg32, number>>, eflags?: number, mask = ARITH): Setup {
  return (cpu) => {
    for (const [k, v] of Object.entries(values)) setReg(cpu, k as Reg32, v as number);
    if (eflags !== undefined) cpu.setEflags(eflags, mask);
  };
}

/** The selected EFLAGS bits as a readable string ("OF SF PF"), for clear failure messages. */
export function flagStr(cpu: CPU, mask = ARITH): string {
  return flagsToString(cpu.getEflags() & mask);
}
export function flagNames(value: number, mask = ARITH): string {
  return flagsToString(value & mask);
}

/** Format stop reasons for messages. */
export function stopStr(stop: StopReason | null): string {
  return JSON.stringify(stop);
}

const FLAG_BITS: Record<string, number> = {
  CF: 1 << 0, PF: 1 << 2, AF: 1 << 4, ZF: 1 << 6, SF: 1 << 7, TF: 1 << 8, IF: 1 << 9, DF: 1 << 10, OF: 1 << 11,
};
/** Parse "OF SF AF PF" into a flag mask ('' or '-' is 0). */
export function F(names: string): number {
  let m = 0;
  for (const n of names.split(/[\s|,]+/)) {
    if (!n || n === '-') continue;
    const b = FLAG_BITS[n.toUpperCase()];
    if (b === undefined) throw new Error(`unknown flag ${n}`);
    m |= b;
  }
  return m;
}

/** Run `src` followed by `hlt`; throws with the stop reason if the snippet did not halt. */
export function runHalted(src: string, setup?: Setup, opts: SnippetOptions = {}): CPU {
  const { cpu, stop } = runSnippet(`${src}\nhlt`, setup, opts);
  if (stop?.kind !== 'halted') throw new Error(`snippet did not halt: ${stopStr(stop)}\n${src}\n${cpu.dumpRegisters()}`);
  return cpu;
}

/** Bytes of guest memory at a linear address. */
export function readBytes(cpu: CPU, lin: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => cpu.read8(lin + i));
}
export function writeBytes(cpu: CPU, lin: number, bytes: number[]): void {
  bytes.forEach((b, i) => cpu.write8(lin + i, b));
}

/** Unsigned dword of guest memory (cpu.read32 returns a signed int32). */
export function rd32(cpu: CPU, lin: number): number {
  return cpu.read32(lin) >>> 0;
}
