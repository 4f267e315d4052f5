/**
 * One `kmemsim` command as src/cli/main.ts registers it with yargs: its
 * usage line, its summary, its options (help text, choices, defaults) and
 * what it runs. Each command's definition lives with the command
 * (`*-command.ts`, or `*-command-line.ts` where the command itself is a
 * chunk loaded only when it runs: README "Start-up").
 */
import type { Argv } from 'yargs';

/** The parsed arguments of a command (yargs's, option names as given: `a['max-instructions']`). */
export type CommandArgs = Record<string, unknown>;

export interface CliCommand {
  /** yargs's command string: `run <file> [args..]`. */
  readonly command: string;
  /** The one-line summary in `kmemsim --help`. */
  readonly describe: string;
  /** The positionals, options, epilogue and examples (the command's --help). */
  readonly builder: (y: Argv) => Argv<unknown>;
  /**
   * Run the command on its arguments (`argv`: the whole command line, without `node kmemsim`); its exit
   * status. A usage error is thrown as UsageError (./options.ts): main prints it, exit status 2.
   */
  run(a: CommandArgs, argv: readonly string[]): Promise<number> | number;
}

/** The command line as SARIF's invocation records it: `kmemsim ARGS`. */
export function commandLine(argv: readonly string[]): string {
  return ['kmemsim', ...argv].join(' ');
}
