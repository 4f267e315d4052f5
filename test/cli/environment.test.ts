/**
 * The environment variables the CLI reads (src/cli/environment.ts): a
 * KMEMSIM_JIT it cannot use is a usage error (2) with one line, before any
 * command runs; `js`, `wasm`, empty or unset run as usual.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { kmemsim } from '../helpers/cli.js';
import { ROOT } from '../module/helpers.js';
import { parseJitTier, wasmTierSupported } from '../../src/cpu/wasm/state.js';
import { environmentError } from '../../src/cli/environment.js';

const HELLO = join(ROOT, 'build/examples/hello-O2');
const saved = process.env['KMEMSIM_JIT'];

afterEach(() => {
  if (saved === undefined) delete process.env['KMEMSIM_JIT'];
  else process.env['KMEMSIM_JIT'] = saved;
});

describe('KMEMSIM_JIT', () => {
  it('parses js, wasm, empty and unset; refuses anything else', () => {
    // Unset and empty are the default, the WebAssembly tier where the engine runs it (Node 20: yes).
    const dflt = wasmTierSupported() ? 'wasm' : 'js';
    expect(parseJitTier(undefined)).toBe(dflt);
    expect(parseJitTier('')).toBe(dflt);
    expect(parseJitTier('js')).toBe('js');
    expect(parseJitTier('wasm')).toBe(dflt);
    for (const v of ['x', 'WASM', 'Js', ' wasm', 'wasm ', '1']) expect(parseJitTier(v), v).toBe(null);
    expect(environmentError({ KMEMSIM_JIT: 'wasm' })).toBe(null);
    expect(environmentError({})).toBe(null);
    expect(environmentError({ KMEMSIM_JIT: 'a"b' })).toBe('kmemsim: KMEMSIM_JIT must be js or wasm, not "a\\"b"');
  });

  it('an unknown value is a usage error (2), one line on stderr, for every command (--help too)', async () => {
    process.env['KMEMSIM_JIT'] = 'x';
    for (const args of [['run', HELLO], ['disasm', HELLO], ['--help']]) {
      const r = await kmemsim(args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toBe('kmemsim: KMEMSIM_JIT must be js or wasm, not "x"\n');
      expect(r.stdout).toBe('');
    }
  });

  it.skipIf(!existsSync(HELLO))('js, wasm and empty run the program as when it is unset', async () => {
    // The guest sees the environment: its count of strings is the one line that may differ.
    const run = async () => {
      const r = await kmemsim(['run', HELLO, '--', 'a', 'b']);
      return { ...r, stdout: r.stdout.replace(/^\d+ environment strings$/m, 'N environment strings') };
    };
    delete process.env['KMEMSIM_JIT'];
    const plain = await run();
    expect(plain.status).toBe(2);
    expect(plain.stdout).not.toBe('');
    for (const v of ['js', 'wasm', '']) {
      process.env['KMEMSIM_JIT'] = v;
      expect(await run(), v).toEqual(plain);
    }
  });
});
