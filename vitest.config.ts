import { defineConfig } from 'vitest/config';

/**
 * Three projects, all run by `vitest run` (`npm test`):
 *  - `default`: the whole suite, each block compiled on the default tier
 *    once it is warm (the way the CLI runs);
 *  - `cpu-compiled-wasm` and `cpu-compiled-js`: the instruction tests
 *    (test/cpu) again with every block compiled from its first execution
 *    (KMEMSIM_JIT_THRESHOLD=0, read by test/helpers/asm.ts) on the
 *    WebAssembly and on the JavaScript tier (KMEMSIM_JIT, read by
 *    src/cpu/wasm/state.ts), so every instruction's generated code is
 *    checked against the same expectations as the interpreter, flags and
 *    faults included; on the WebAssembly tier a block is promoted to its
 *    region at its function's second call (KMEMSIM_REGION_THRESHOLD, read
 *    by test/helpers/asm.ts), so the code runs as single blocks first and
 *    then in regions. test/cpu/snippet-tier.test.ts checks that each
 *    project really runs where it says.
 * `npx vitest run --project default` runs the suite alone.
 */
const shared = {
  testTimeout: 120_000,
  hookTimeout: 300_000,
  pool: 'forks' as const,
  setupFiles: ['test/setup/yield.ts'],
};
const compiledCpu = (tier: 'wasm' | 'js') => ({
  test: {
    ...shared,
    name: `cpu-compiled-${tier}`,
    include: ['test/cpu/**/*.test.ts'],
    env: { KMEMSIM_JIT: tier, KMEMSIM_JIT_THRESHOLD: '0', ...(tier === 'wasm' ? { KMEMSIM_REGION_THRESHOLD: '2' } : {}) },
  },
});

export default defineConfig({
  test: {
    ...shared,
    projects: [
      { test: { ...shared, name: 'default', include: ['test/**/*.test.ts', 'property-tests/**/*.test.ts'] } },
      compiledCpu('wasm'),
      compiledCpu('js'),
    ],
  },
});
