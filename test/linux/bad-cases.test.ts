/**
 * Guests that misbehave get what Linux gives them, and kmemsim ends with a
 * clear stop, never a JavaScript stack trace: the OOM killer for a guest that
 * fills the simulated memory, the instruction budget for a fork bomb, a
 * deadlock report when every task waits for ever, ENOEXEC (and a message) for
 * a dynamically linked program, 127/126 from the command line.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, buildProgram, gccM32Missing } from './harness.js';
import { runUserProgram } from '../../src/kernel/process.js';

const missing = gccM32Missing();
if (missing) console.warn(`test/linux/bad-cases.test.ts skipped: ${missing}`);

describe.skipIf(missing !== null)('misbehaving guests', () => {
  const exe = buildProgram('bad-cases', mkdtempSync(join(tmpdir(), 'kmemsim-bad-')));
  const bytes = new Uint8Array(readFileSync(exe));
  const run = (args: string[], maxInstructions = 400_000_000) => {
    const diags: string[] = [];
    const r = runUserProgram(bytes, { argv: [exe, ...args], maxInstructions, onDiagnostic: (l) => diags.push(l), memorySize: 32 << 20 });
    return { ...r, diags, out: Buffer.from(r.stdout).toString() };
  };

  it('a guest that fills the simulated memory is killed by the OOM killer (SIGKILL: 137)', () => {
    const r = run(['oom']);
    expect(r.exitCode).toBe(137);
    expect(r.diags.join('\n')).toMatch(/out of memory: killed process 1/);
  });

  it('a fork bomb runs into --max-instructions (124), counted over every process', () => {
    const r = run(['forkbomb'], 8_000_000);
    expect(r.stop.kind).toBe('budget');
    expect(r.exitCode).toBe(124);
    expect(r.instructions).toBeGreaterThanOrEqual(8_000_000);
  }, 60_000);

  it('a process that waits for ever is reported as a deadlock (125), alone or waiting for a child that does', () => {
    for (const mode of ['deadlock', 'waitchild-deadlock']) {
      const r = run([mode]);
      expect(r.stop.kind).toBe('fault');
      expect(r.stop.kind === 'fault' && r.stop.message).toMatch(/^deadlock/);
      expect(r.exitCode).toBe(125);
    }
  });

  it('execve of a dynamically linked program fails with ENOEXEC and says why', () => {
    // A dynamically linked i386 program (gcc -m32 without -static).
    const dir = mkdtempSync(join(tmpdir(), 'kmemsim-dyn-'));
    const dyn = join(dir, 'dyn');
    writeFileSync(join(dir, 'dyn.c'), 'int main(void) { return 0; }\n');
    if (spawnSync('gcc', ['-m32', '-o', dyn, join(dir, 'dyn.c')]).status !== 0) return;
    const r = run(['exec-dynamic', dyn]);
    expect(r.out).toBe(`execv ${dyn}: errno 8\n`);
    expect(r.diags.join('\n')).toMatch(/dynamically linked/);
  });

  it('kmemsim run --root: the program path is a guest path; one outside the root does not exist (127)', () => {
    const root = mkdtempSync(join(tmpdir(), 'kmemsim-rootcli-'));
    mkdirSync(join(root, 'bin'));
    writeFileSync(join(root, 'bin/prog'), bytes);
    const cli = (args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/kmemsim.js'), 'run', ...args], { encoding: 'utf8' });
    if (!existsSync(join(ROOT, 'dist/cli/main.js'))) return;
    const ok = cli(['--root', root, '/bin/prog']);
    expect(ok.status).toBe(1); // the program's own "no mode" status
    const out = cli(['--root', root, `/../..${exe}`]);
    expect(out.status).toBe(127);
    expect(out.stderr).toMatch(/no such file/);
    expect(cli(['--root', join(root, 'nope'), '/bin/prog']).status).toBe(2);
  });
});
