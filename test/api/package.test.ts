/**
 * The package as a TypeScript user gets it: a temporary project whose
 * node_modules/kmemsim is a symlink to this checkout imports 'kmemsim' by
 * its name, tsc type-checks it against the built declarations
 * (package.json `exports` → dist/api/index.d.ts) and node runs it. The
 * consumer is the README's example (section "Embedding"), so the README's
 * code is what is checked and run, and its output must have the shape the
 * README shows. A consumer with a type error (an unknown register name)
 * must fail to compile: the types are real, not `any`. (skipLibCheck: the
 * declarations themselves were checked when tsc emitted them; checking
 * them again here would take half a minute on a loaded machine.)
 *
 * Needs the built package (dist/, `npm run build`), the example programs
 * and gcc -m32 (the example compiles a module): skips with a message
 * otherwise.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSC = join(ROOT, 'node_modules/typescript/bin/tsc');
const ENTRY = join(ROOT, 'dist/api/index.d.ts');
const built = existsSync(ENTRY) && existsSync(join(ROOT, 'build/examples/primes-O2'));
const haveGcc = spawnSync('gcc', ['-m32', '-E', '-x', 'c', '/dev/null'], { encoding: 'utf8' }).status === 0;
const skip = !built || !haveGcc;
if (skip) console.warn(`skipping the package consumer test: ${!built ? 'dist/api or build/examples is not built (npm run build)' : 'gcc -m32 is not available'}`);

/** The README's embedding example: the first ```ts block of the section, and the ``` block after it (its output). */
export function readmeExample(): { code: string; output: string } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf("### Embedding: `import { Machine } from 'kmemsim'`");
  if (at < 0) throw new Error('README.md has no section "Embedding: `import { Machine } from \'kmemsim\'`"');
  const section = readme.slice(at);
  const code = /```ts\n([\s\S]*?)```/.exec(section);
  if (!code) throw new Error('the README\'s embedding section has no ```ts example');
  const rest = section.slice(code.index + code[0].length);
  const output = /```(?:text)?\n([\s\S]*?)```/.exec(rest);
  if (!output) throw new Error('the README\'s embedding section does not show the example\'s output');
  return { code: code[1]!, output: output[1]! };
}

/** Newest modification time of the .ts files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, f.name);
    t = Math.max(t, f.isDirectory() ? newest(p) : f.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return t;
}

describe.skipIf(skip)("a TypeScript consumer of 'kmemsim'", () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmemsim-consumer-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function project(files: Record<string, string>): { status: number | null; out: string } {
    mkdirSync(join(dir, 'node_modules'), { recursive: true });
    if (!existsSync(join(dir, 'node_modules/kmemsim'))) symlinkSync(ROOT, join(dir, 'node_modules/kmemsim'), 'dir');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'out',
        types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')], skipLibCheck: true,
      },
      files: Object.keys(files),
    }));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const r = spawnSync(process.execPath, [TSC, '-p', dir], { cwd: dir, encoding: 'utf8' });
    return { status: r.status, out: r.stdout + r.stderr };
  }

  it('the built declarations are up to date with src/api (npm run build)', () => {
    expect(statSync(join(ROOT, 'dist/api/machine.d.ts')).mtimeMs).toBeGreaterThanOrEqual(newest(join(ROOT, 'src/api')));
  });

  it("type-checks and runs the README's example through the package name; rejects a consumer with a type error", () => {
    const { code, output } = readmeExample();
    expect(code).toContain("from 'kmemsim'");
    // One tsc run for both (tsc is the slow part): errors in bad.ts only, example.ts still emitted.
    const c = project({
      'example.ts': code,
      'bad.ts': "import { Machine } from 'kmemsim';\nconst m = Machine.load('x');\nm.reg('xax');\nm.onMemory('execute', undefined, () => {});\n",
    });
    // The types are real, not any: an unknown register name and access type are errors.
    expect(c.out.trim().split('\n').map((l) => l.replace(/:.*$/, ''))).toEqual(['bad.ts(3,7)', 'bad.ts(4,12)']);
    expect(c.out).toMatch(/error TS2345: Argument of type '"xax"' is not assignable to parameter of type 'RegisterName'/);
    // Run from the clone's root: the example names build/examples/... and examples/... as the README's commands do.
    const r = spawnSync(process.execPath, [join(dir, 'out/example.js')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // The counts depend on the compiler that built the examples: the shape is the README's, numbers apart.
    const shape = (s: string): string[] => s.trim().split('\n').map((l) => l.replace(/\d+/g, 'N'));
    expect(shape(r.stdout)).toEqual(shape(output));
  });
});
