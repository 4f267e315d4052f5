/**
 * The processor state the WebAssembly tier reads and writes, laid out in the
 * `WebAssembly.Memory` that holds guest RAM (PhysicalMemory), just past the
 * RAM: generated code reaches RAM, registers and TLBs with plain loads and
 * stores at constant offsets. The CPU's `regs` and TLB arrays are views on
 * this area (so executors and the JavaScript tier see the same state), while
 * the lazy-flag fields, EFLAGS and EIP stay JavaScript fields of the CPU and
 * are copied into the slots below only around a call into WebAssembly
 * (wasm/tier.ts).
 */

/** Byte offsets inside the state area (relative to its base, the RAM size). */
export const REGS = 0; // 8 × i32, SDM register order
export const EIP = 32;
export const FLAGS = 36;
export const LAZY_MASK = 40;
export const LF_KIND = 44;
export const LF_DST = 48;
export const LF_SRC = 52;
export const LF_RES = 56;
export const LF_SIZE = 60;
export const LF_CIN = 64;
/** 1 while CPU.breakLoop is set by something the generated code called. */
export const BREAK = 68;
/** The table index of the block being run (stored before each block is entered or chained to): the gate's fault point (wasm/tier.ts). */
export const CUR = 72;
/** The table generation of the block the run loop entered: a chain stays in its table (wasm/codegen.ts chainBody). */
export const GEN = 76;

export const TLB_ENTRIES = 1 << 20;
const TLB_BYTES = TLB_ENTRIES * 4;
/** The four TLB arrays (CPU.tlbRSup, tlbWSup, tlbRUsr, tlbWUsr), each 2^20 i32 entries; W = R + TLB_W. */
export const TLB_R_SUP = 4096;
export const TLB_W = TLB_BYTES;
export const TLB_R_USR = TLB_R_SUP + 2 * TLB_BYTES;

/**
 * The chaining cache (wasm/tier.ts): which compiled block starts at a linear
 * EIP, direct-mapped, CACHE_ENTRIES entries of 16 bytes (EIP, table index,
 * instruction count, table generation); valid for one CPU.codeEpoch.
 */
export const CACHE = TLB_R_USR + 2 * TLB_BYTES;
export const CACHE_BITS = 11;
export const CACHE_ENTRIES = 1 << CACHE_BITS;

/** Size of the state area: 4 KiB of slots, the four TLBs and the cache, rounded to WebAssembly pages. */
export const STATE_BYTES = TLB_R_SUP + 4 * TLB_BYTES + 61440;
export const WASM_PAGE = 65536;

/**
 * The block compiler's tier for new machines: 'js' (JavaScript functions,
 * jit.ts) or 'wasm' (WebAssembly, wasm/tier.ts). A machine made while it is
 * 'wasm' keeps its RAM and this state area in a WebAssembly.Memory. Read
 * once from the environment variable KMEMSIM_JIT (`js` or `wasm`; unset: `wasm`), so a test
 * run or a benchmark can pick the tier without code; setDefaultJitTier
 * overrides it.
 */
export type JitTier = 'js' | 'wasm';
/** wasmTierSupported's answer, once asked (declared before defaultTier, whose initializer asks). */
let supported: boolean | undefined;
let defaultTier: JitTier = readEnvTier();

function readEnvTier(): JitTier {
  const env = typeof process !== 'undefined' ? process.env?.KMEMSIM_JIT : undefined;
  // A value parseJitTier refuses is the default tier here (the CLI refuses it).
  return parseJitTier(env) ?? parseJitTier(undefined)!;
}

/**
 * A value of KMEMSIM_JIT as a tier: `js` is 'js'; unset or empty, and `wasm`, are 'wasm' (or 'js' where
 * the engine lacks WebAssembly or its tail calls: the tier is the default since it runs guest code
 * faster steady and no slower cold, bench/run.mjs); anything else is null — the CLI refuses it as a usage error (src/cli/environment.ts).
 */
export function parseJitTier(value: string | undefined): JitTier | null {
  if (value === 'js') return 'js';
  if (value === undefined || value === '' || value === 'wasm') return wasmTierSupported() ? 'wasm' : 'js';
  return null;
}
export function defaultJitTier(): JitTier {
  return defaultTier;
}
/** 'wasm' where the engine cannot run the tier's code is 'js' (see wasmTierSupported). */
export function setDefaultJitTier(tier: JitTier): void {
  defaultTier = tier === 'wasm' && !wasmTierSupported() ? 'js' : tier;
}

/**
 * The engine runs the tier's code: WebAssembly with tail calls (return_call,
 * which chained blocks use; on by default since Node 20's V8 11.3). A
 * module of one function `return_call 0` must validate.
 */
export function wasmTierSupported(): boolean {
  if (supported === undefined) {
    const tail = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 0x0a, 6, 1, 4, 0, 0x12, 0, 0x0b];
    supported = typeof WebAssembly === 'object' && WebAssembly.validate(new Uint8Array(tail));
  }
  return supported;
}
