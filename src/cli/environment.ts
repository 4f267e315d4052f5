/**
 * The environment variables the `kmemsim` command reads itself, checked
 * before any command runs: a value it cannot use is a usage error (exit
 * status 2) with one line saying what it must be, never a silent default.
 *
 *  - KMEMSIM_JIT: the block compiler's tier, `wasm` (the default: unset or
 *    empty too, where the engine runs it) or `js` (src/cpu/wasm/state.ts
 *    parses it).
 */
import { parseJitTier } from '../cpu/wasm/state.js';

/** The message for the first variable of `env` kmemsim cannot use ("kmemsim: ..."), or null when all are usable. */
export function environmentError(env: NodeJS.ProcessEnv): string | null {
  const jit = env['KMEMSIM_JIT'];
  if (parseJitTier(jit) === null) return `kmemsim: KMEMSIM_JIT must be js or wasm, not ${JSON.stringify(jit)}`;
  return null;
}
