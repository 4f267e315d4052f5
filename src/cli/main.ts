/**
 * The `kmemsim` command line: the thin dispatcher. It checks the
 * environment (./environment.ts), registers the commands — each defined
 * with its own code (./command.ts: `run` in ./run-command.ts, `boot`,
 * `cc` and `disasm` in their `*-command.ts`, `compare`, `fuzz`, `tmin` and
 * `cmin` in their `*-command-line.ts`) — parses the arguments with yargs
 * and returns the command's exit status. No stack trace of ours reaches a
 * user: every failure is a one-line message on stderr and a documented
 * exit status; a usage error is 2. Every command reads its file with
 * ./input.ts and writes through ./io.ts, so `main(argv, io)` also runs
 * in-process with captured output.
 *
 * Start-up time (README "Start-up"): what only some commands need — the
 * checkers (check-command → src/harness, src/shadow, src/rings,
 * src/ftrace), compare and the fuzzer — is imported by the command that
 * needs it when it runs, so `kmemsim run prog` loads the CPU, the kernel,
 * the ELF reader and yargs (./argv-parser.ts).
 */
import { yargs } from './argv-parser.js';
import type { CliCommand } from './command.js';
import { compilerStyleFlags } from './compiler-options.js';
import { environmentError } from './environment.js';
import { processIO, withCliIO, errOut, errLine, type CliIO } from './io.js';
import { UsageError } from './options.js';
import { VERSION } from './version.js';
import { runCli } from './run-command.js';
import { bootCli } from './boot-command.js';
import { compareCli } from './compare-command-line.js';
import { cminCli, fuzzCli, tminCli } from './fuzz-command-line.js';
import { ccCli } from './cc-command.js';
import { disasmCli } from './disasm-command.js';

/** The commands, in the order of `kmemsim --help`. */
const COMMANDS: readonly CliCommand[] = [runCli, bootCli, compareCli, fuzzCli, tminCli, cminCli, ccCli, disasmCli];

/**
 * Run the command line `argv` (without `node kmemsim`); returns the exit
 * status. `io` receives stdout and stderr and supplies the guest's stdin
 * (default: the process's own).
 */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  return withCliIO(io, () => mainWithIO(argv));
}

async function mainWithIO(argv: string[]): Promise<number> {
  const envError = environmentError(process.env);
  if (envError !== null) {
    errLine(envError);
    return 2;
  }
  let code = 0;
  let parser = yargs(compilerStyleFlags(argv))
    .scriptName('kmemsim')
    .usage('$0 <command> [options]\n\nA simulated IA-32 machine that runs real 32-bit x86 code and finds reads of uninitialized, unallocated and freed memory the way Linux\'s kmemcheck did.');
  for (const c of COMMANDS) {
    parser = parser.command(c.command, c.describe, c.builder, async (a) => {
      code = await c.run(a, argv);
    });
  }
  parser = parser
    .demandCommand(1, 'Give a command: run, fuzz, tmin, cmin, compare, boot or disasm (see --help).')
    .strict()
    .parserConfiguration({ 'populate--': true })
    .help()
    .alias('h', 'help')
    .version(VERSION)
    .wrap(helpWidth())
    .fail((msg, err, y) => {
      if (err) throw err;
      void y;
      // Throwing stops yargs here: the command's handler must not run with missing arguments.
      throw new UsageError(msg);
    });
  skipHelpCache(parser);
  try {
    await parser.parseAsync();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    errOut(`kmemsim: ${e.message}\nRun 'kmemsim --help' for usage.\n`);
    return 2;
  }
  return code;
}

/**
 * yargs 17 renders the whole help text after running a command's handler,
 * to cache it for a `showHelp()` from inside the handler (lib/command.js,
 * cacheHelpMessage). kmemsim never shows help from a handler, and the
 * rendering (wrapping every description) is a third of a short run's
 * start-up, so the cache is not filled: `--help` and usage errors render
 * the text as before. Reached through yargs's internal methods, hence the
 * checks; without them nothing changes.
 */
function skipHelpCache(parser: unknown): void {
  const usage = (parser as { getInternalMethods?(): { getUsageInstance?(): { cacheHelpMessage?: unknown } } })
    .getInternalMethods?.().getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = (): void => {};
}

/**
 * Width of --help: the terminal's (at most 100 columns) when stdout is
 * one; else $COLUMNS when set (as GNU ls and man use it), else 80.
 */
function helpWidth(): number {
  if (process.stdout.isTTY && process.stdout.columns) return Math.max(40, Math.min(100, process.stdout.columns));
  const env = Number.parseInt(process.env['COLUMNS'] ?? '', 10);
  return Number.isInteger(env) && env >= 40 ? env : 80;
}
