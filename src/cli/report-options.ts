/**
 * The report options `run` shares with `compare` and `fuzz`:
 * `--report-sarif FILE` (src/report/sarif.ts), `--suppressions FILE`
 * (repeatable) and `--gen-suppressions=no|yes|all`
 * (src/report/suppressions.ts). A suppression file with a syntax error,
 * or one that cannot be read, is a usage error (exit status 2) naming the
 * file and line, before anything runs.
 */
import type { SuppressionSet } from '../report/suppressions.js';
import type { GenSuppressions } from './check-command.js';
import { UsageError } from './options.js';

export const GEN_SUPPRESSIONS = ['no', 'yes', 'all'] as const;

export const REPORT_SARIF_HELP = 'write the findings as SARIF 2.1.0 to this file (one result per finding, the stacks as code flows; for code-scanning dashboards)';
export const SUPPRESSIONS_HELP = 'ignore the findings a suppression in this file matches (Valgrind\'s format: { name / kmemcheck:Uninitialized|Unallocated|Freed|Stack / fun:NAME / obj:NAME / ... }); repeatable';
export const GEN_SUPPRESSIONS_HELP = 'print a ready suppression after each report: all, or yes (ask on a terminal, as Valgrind does)';

/** `--report-sarif`: a file name, or undefined. */
export function sarifFile(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new UsageError('--report-sarif given more than once');
  const f = String(value);
  if (f === '') throw new UsageError('--report-sarif needs a file name (got an empty string)');
  return f;
}

/** `--suppressions FILE...` read and parsed (null when none was given). */
export async function loadSuppressions(value: unknown): Promise<SuppressionSet | null> {
  if (value === undefined) return null;
  const files = (Array.isArray(value) ? value : [value]).map(String);
  if (files.some((f) => f === '')) throw new UsageError('--suppressions needs a file name (got an empty string)');
  const { SuppressionError, SuppressionSet } = await import('../report/suppressions.js');
  try {
    return SuppressionSet.load(files);
  } catch (e) {
    if (e instanceof SuppressionError) throw new UsageError(e.message);
    throw e;
  }
}

/** `--gen-suppressions` (yargs checks the choices). */
export function genSuppressions(value: unknown): GenSuppressions {
  return (value as GenSuppressions | undefined) ?? 'no';
}
