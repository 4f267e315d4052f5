/**
 * Running `kmemsim run ... --gdb 0` as a child process (the built CLI: the
 * stopped guest blocks its thread, so it cannot run inside the test's own)
 * and talking to it: the port it printed, the add-symbol-file commands,
 * gdb-multiarch in batch mode, or a raw socket.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { builtCliState, ROOT } from '../module/helpers.js';

export const GDB = 'gdb-multiarch';
export const hasGdb = !spawnSync(GDB, ['--version']).error;

/** Why the gdb tests cannot run (null: they can). */
export function gdbSkip(needGdb: boolean): string | null {
  const built = builtCliState(['src/cli/main.ts', 'src/gdb/stub.ts', 'src/gdb/session.ts', 'src/gdb/connection.ts', 'src/gdb/packets.ts', 'src/gdb/registers.ts', 'src/harness/checked-run.ts', 'src/cli/check-command.ts', 'src/cli/boot-command.ts', 'src/gdb/machine-view.ts', 'src/gdb/step-loop.ts', 'src/cpu/run-driver.ts']);
  if (built) return built;
  if (needGdb && !hasGdb) return `${GDB} not found (Debian: apt-get install gdb-multiarch; .ci/run installs it as root)`;
  return null;
}

export interface KmemsimChild {
  child: ChildProcess;
  port: number;
  /** The add-symbol-file commands it printed (modules). */
  symbolCommands: string[];
  stderr(): string;
  stdout(): string;
  /** Its exit status, once it exits. */
  exited: Promise<number | null>;
}

/** Start `kmemsim run --gdb 0 ARGS` (or `kmemsim COMMAND...`, e.g. `boot --gdb 0 -S`) and wait until it listens. */
export async function startKmemsim(args: string[], command: string[] = ['run', '--gdb', '0']): Promise<KmemsimChild> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/kmemsim.js'), ...command, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  child.stdout!.on('data', (d: Buffer) => void (out += d.toString('latin1')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`kmemsim did not listen: ${err}`)), 30_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString('latin1');
      const m = /(?:waiting for gdb|listening) on 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', () => reject(new Error(`kmemsim exited before listening: ${err}`)));
  });
  const symbolCommands = err.split('\n').filter((l) => l.trim().startsWith('add-symbol-file')).map((l) => l.trim());
  return { child, port, symbolCommands, stderr: () => err, stdout: () => out, exited };
}

/** gdb-multiarch -batch with these commands after connecting (and loading the module's symbols). */
export async function runGdb(k: KmemsimChild, commands: string[], file?: string): Promise<string> {
  const ex = ['set architecture i386', `target remote 127.0.0.1:${k.port}`, ...k.symbolCommands, ...commands];
  const args = ['-batch', '-nx', ...(file ? [file] : []), ...ex.flatMap((c) => ['-ex', c])];
  const gdb = spawn(GDB, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  gdb.stdout.on('data', (d: Buffer) => void (text += d.toString('utf8')));
  gdb.stderr.on('data', (d: Buffer) => void (text += d.toString('utf8')));
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      gdb.kill('SIGKILL');
      resolve();
    }, 60_000);
    gdb.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return text;
}

/** Wait for the child to exit (killing it after `ms`). */
export async function finished(k: KmemsimChild, ms = 30_000): Promise<number | null> {
  const timer = setTimeout(() => k.child.kill('SIGKILL'), ms);
  const code = await k.exited;
  clearTimeout(timer);
  return code;
}
