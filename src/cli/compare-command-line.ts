/**
 * `kmemsim compare`'s command line: its options, their usage errors, and
 * the call into ./compare-command.ts — a chunk loaded only when compare
 * runs (README "Start-up"), hence this file of its own.
 */
import { DEFAULT_BUDGET } from '../kernel/process.js';
import { commandLine, type CliCommand } from './command.js';
import { compilerFlags, compilerOptions } from './compiler-options.js';
import { errLine, errOut, out, stderrColumns } from './io.js';
import { parseCount, UsageError } from './options.js';
import { REPORT_SARIF_HELP, sarifFile } from './report-options.js';
import { VERSION } from './version.js';

export const compareCli: CliCommand = {
  command: 'compare <paths..>',
  describe: 'Run kernel modules plain, with kmemcheck and with each stack strategy (cpl1, ftrace, precise); print findings, true and false positives against the precise oracle, faults, single steps, instructions, wall time and slowdown',
  builder: (y) =>
    compilerOptions(
      y
        .epilogue(
          [
            'A .c file is compiled with -pg -mfentry -fstack-usage (so ftrace has call sites); a relocatable object (.o, .ko) runs as it is (without __fentry__ sites ftrace traces nothing: the table says so). A directory: every .c module under it.',
            '',
            'Exit status:',
            '  0    every program compared (findings do not change the status)',
            '  126  a program could not be compiled, loaded or compared, or the file is',
            '       neither a .c module source nor a relocatable ELF object',
            '  127  no such file or directory',
            '  2    usage error, or a directory without .c modules',
          ].join('\n'),
        )
        .positional('paths', { type: 'string', array: true, describe: 'a module source (.c), a module object (.o, .ko), a directory of .c modules or with a Kbuild/Makefile (its modules), or several .c files of one module', demandOption: true }),
    )
      .option('verbose', { type: 'boolean', describe: 'print each gcc (and ld) command on stderr', default: false })
      .option('json', { type: 'boolean', describe: 'print the measurements as JSON instead of tables', default: false })
      .option('svg', { type: 'string', describe: 'write a chart of slowdown against recall per strategy to this file' })
      .option('runs', { type: 'string', describe: 'runs per strategy, 1 to 100 (the median wall time is reported)', default: '1' })
      .option('access-size', { type: 'boolean', describe: 'compare the access-size strategies (decode, debugreg, emulate) instead, with kmemcheck and --stack cpl1 on: accesses, exceptions per access, accesses of unknown size, findings, host CPU µs per access', default: false })
      .option('max-instructions', { type: 'string', describe: 'instruction budget per run (as for run: 1e9, 10M, ...; default 10G)' })
      .option('jobs', { alias: 'j', type: 'string', describe: 'compare this many programs at once, each in a worker thread (the tables keep the programs\' order; times measured side by side share the CPU: publish figures from --jobs 1)', default: '1' })
      .option('report-sarif', { type: 'string', describe: `${REPORT_SARIF_HELP}: one SARIF run per strategy (category kmemsim/compare/STRATEGY/)` })
      .example('$0 compare examples/stack --svg chart.svg', 'compare the strategies on the stack examples'),
  async run(a, argv) {
    const runs = parseCount(a.runs, '--runs', { min: 1, max: 100 });
    const jobs = parseCount(a.jobs, '--jobs', { min: 1, max: 64 });
    const { compareCommand } = await import('./compare-command.js');
    if (a['access-size'] && a.svg !== undefined) throw new UsageError('--svg charts the stack strategies; it does not go with --access-size');
    return compareCommand((a.paths as string[]).map(String), {
      cflags: compilerFlags(a),
      verbose: a.verbose as boolean,
      json: a.json as boolean,
      accessSize: a['access-size'] as boolean,
      svg: a.svg as string | undefined,
      runs,
      jobs,
      errRaw: (t) => errOut(t),
      errColumns: stderrColumns(),
      maxInstructions: a['max-instructions'] === undefined ? DEFAULT_BUDGET : parseCount(a['max-instructions'], '--max-instructions'),
      out: (t) => out(t),
      err: (l) => errLine(l),
      reportSarif: sarifFile(a['report-sarif']),
      sarif: { version: VERSION, commandLine: commandLine(argv) },
    });
  },
};
