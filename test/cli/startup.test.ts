/**
 * Start-up (README "Start-up"): the bundle bin/kmemsim.js runs loads, for
 * every command, only what every command needs; the checkers (src/shadow,
 * src/rings, src/ftrace, src/harness but its light modes.ts) and compare's reports are chunks
 * reached only through dynamic import(), so `kmemsim run prog` never
 * parses them.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../module/helpers.js';

const BUNDLE = join(ROOT, 'dist/bundle');
const built = existsSync(join(BUNDLE, 'main.js'));
if (!built) console.log('test/cli/startup.test.ts: skipped: dist/bundle/ is not built (npm run build)');

/** The dist/ modules a bundle file holds (esbuild heads each with a `// dist/...js` comment). */
const modulesIn = (text: string): string[] => [...text.matchAll(/^\/\/ (dist\/\S+\.js)$/gm)].map((m) => m[1]!);

/** The files reached from `file` through static imports, itself included. */
function staticClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(join(BUNDLE, file), 'utf8');
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s*"\.\/([^"]+)"/gms)) staticClosure(m[1]!, seen);
  for (const m of text.matchAll(/^import\s*"\.\/([^"]+)"/gm)) staticClosure(m[1]!, seen);
  return seen;
}

describe.skipIf(!built)('the bundled CLI', () => {
  it('loads no checker and no compare code before a command asks for it', () => {
    const eager = [...staticClosure('main.js')].flatMap((f) => modulesIn(readFileSync(join(BUNDLE, f), 'utf8')));
    expect(eager).toContain('dist/cpu/cpu.js');
    expect(eager).toContain('dist/kernel/process.js');
    const lazy = eager.filter((m) => (/^dist\/(shadow|rings|ftrace|harness|report)\//.test(m) && m !== 'dist/harness/modes.js') || m === 'dist/cli/check-command.js' || m === 'dist/cli/compare-command.js');
    expect(lazy).toEqual([]);
  });

  it('the lazy chunks exist and main.js imports them dynamically', () => {
    const main = readFileSync(join(BUNDLE, 'main.js'), 'utf8');
    const dynamic = [...main.matchAll(/import\("\.\/([^"]+)"\)/g)].map((m) => m[1]!);
    const reached = dynamic.flatMap((f) => [...staticClosure(f)]).flatMap((f) => modulesIn(readFileSync(join(BUNDLE, f), 'utf8')));
    expect(reached).toContain('dist/cli/check-command.js');
    expect(reached).toContain('dist/harness/checked-run.js');
    expect(reached).toContain('dist/shadow/kmemcheck.js');
    expect(reached).toContain('dist/cli/compare-command.js');
  });
});
