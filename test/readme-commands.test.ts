/**
 * The README's commands, as a newcomer copies them: every line of every
 * ```sh block (backslash continuations joined) runs from the clone's root
 * through sh, with `kmemsim` on PATH as `npm link` puts it there (a
 * symlink to bin/kmemsim.js; `npx kmemsim` lines run the same way) —
 * except the set-up's own `npm ...` lines. None may fail as a command
 * that cannot work: usage error (2), not executable or not a kmemsim
 * input (126), no such file or command (127), or a JavaScript stack trace.
 * Statuses the README documents for the example (1, 33, 35, 99, 124) are
 * fine. Each has a time budget; a command still running at the end of it
 * (`compare bench/modules --runs 3`) has got past its arguments and files,
 * and passes when it has printed no error by then.
 */
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasGcc, ROOT } from './module/helpers.js';

const BUDGET_MS = 20_000;

/**
 * `sh -c line` from the root, stopped after BUDGET_MS. Asynchronous, so that
 * the test worker keeps answering vitest while a command runs.
 */
function run(line: string, env: NodeJS.ProcessEnv): Promise<{ status: number | null; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', line], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    child.stderr.setEncoding('utf8').on('data', (d: string) => void (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
    }, BUDGET_MS);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr, timedOut });
    });
  });
}

/** The commands of the README's ```sh blocks, with the heading each is under. */
export function readmeCommands(markdown: string): { section: string; command: string }[] {
  const out: { section: string; command: string }[] = [];
  let section = '';
  let inSh = false;
  let pending = '';
  for (const line of markdown.split('\n')) {
    if (!inSh && /^#+ /.test(line)) section = line.replace(/^#+ /, '');
    if (/^```/.test(line)) {
      inSh = !inSh && line.trim() === '```sh';
      continue;
    }
    if (!inSh) continue;
    const joined = pending + line;
    if (joined.endsWith('\\')) {
      pending = joined.slice(0, -1);
      continue;
    }
    pending = '';
    if (joined.trim() && !/^\s*npm /.test(joined)) out.push({ section, command: joined.trim().replace(/^npx kmemsim\b/, 'kmemsim') });
  }
  return out;
}

const built = existsSync(join(ROOT, 'dist/cli/main.js')) && existsSync(join(ROOT, 'build/examples'));
const skip = !hasGcc ? 'gcc not found: the README commands need the built guests' : !built ? 'dist/ or build/ missing: run `npm install` (or `npm run build`)' : null;
if (skip) console.log(`test/readme-commands.test.ts: skipped: ${skip}`);

describe.skipIf(skip !== null)('README commands', () => {
  const commands = readmeCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  const shim = mkdtempSync(join(tmpdir(), 'kmemsim-readme-'));
  symlinkSync(join(ROOT, 'bin/kmemsim.js'), join(shim, 'kmemsim'));
  const env = { ...process.env, PATH: `${shim}:${process.env['PATH'] ?? ''}` };

  it('finds the commands of Use, the modules, kmemcheck, stack, compare and boot sections', () => {
    const sections = new Set(commands.map((c) => c.section));
    for (const s of ['Use', 'Kernel modules', 'Comparing the strategies: `kmemsim compare`', 'Booting a kernel: `kmemsim boot`']) expect(sections).toContain(s);
    expect(commands.length).toBeGreaterThan(15);
  });

  // Commands that need what only some machines have: i386 glibc (gcc-multilib) and busybox
  // (scripts/fetch-busybox.sh, which .ci/run runs as root). They skip, saying why, without it.
  const m32 = spawnSync('sh', ['-c', "printf 'int main(void){return 0;}' | gcc -m32 -static -x c - -o /dev/null"]).status === 0;
  const busybox = existsSync(join(ROOT, 'build/busybox-i386/bin/busybox'));
  const needs = (command: string): string | null =>
    /gcc -m32 -static/.test(command) && !m32 ? 'gcc -m32 -static does not work here (gcc-multilib)'
      : /busybox/.test(command) && !busybox ? 'build/busybox-i386 missing (scripts/fetch-busybox.sh)'
        : null;

  for (const { section, command } of commands) {
    const why = needs(command);
    if (why) console.log(`test/readme-commands.test.ts: skipped \`${command}\`: ${why}`);
    it.skipIf(why !== null)(`${section}: ${command}`, async () => {
      // exec: the budget's signal must reach kmemsim itself (dash does not exec a lone command on its own).
      const line = /[;&|]/.test(command.replace(/\s+#.*$/, '')) ? command : `exec ${command}`;
      const r = await run(line, env);
      expect(r.stderr, 'a JavaScript stack trace').not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);
      expect(r.stderr).not.toMatch(/Run 'kmemsim --help' for usage|command not found|No such file|cannot read/);
      if (r.timedOut) return; // still running, no error so far
      expect([2, 126, 127], `exit status ${r.status}\n${r.stderr}`).not.toContain(r.status);
    }, BUDGET_MS + 10_000);
  }
});
