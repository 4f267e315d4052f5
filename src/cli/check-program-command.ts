/**
 * `kmemsim run --kmemcheck --module m.ko PROGRAM` (src/harness/linux-checked.ts): the run, the
 * reports on stderr after it, the summary line and --report-json, as for a module run
 * (src/cli/check-command.ts). Loaded by the run command only when a checker is asked for.
 */
import * as fs from 'node:fs';
import type { RunOptions } from '../kernel/process.js';
import { runProgramChecked } from '../harness/linux-checked.js';
import { checkerNames, jsonReport } from './check-command.js';
import { describeStop } from './describe.js';
import { errLine as err } from './io.js';
import { preloadName } from '../linux/sys-module.js';

/** The checker options of `run` that apply to a program with modules. */
export interface ProgramCheckOptions {
  /** The checkers: the heap checker (fault-driven or inline) and/or --stack precise, cpl1 or ftrace. */
  heap: 'kmemcheck' | 'inline' | null;
  stack: 'precise' | 'cpl1' | 'ftrace' | null;
  /** --kernel-ring (cpl1: 1 by default). */
  kernelRing?: 0 | 1;
  /** --ftrace-poison. */
  poison?: number;
  errorExitcode: number;
  reportJson?: string;
  oneShot?: boolean;
  partialOk?: boolean;
  checkWrites?: boolean;
}

export function checkProgramCommand(bytes: Uint8Array, runOpts: RunOptions, kmem: ProgramCheckOptions, verbose: boolean): number {
  if (kmem.reportJson !== undefined) {
    try {
      fs.writeFileSync(kmem.reportJson, '');
    } catch (e) {
      err(`kmemsim: cannot write ${kmem.reportJson}: ${e instanceof Error ? e.message : String(e)}`);
      return 2;
    }
  }
  // ftrace's frame sizes: the .su data of the modules built from C, by the name the loader gives them.
  const stackUsage = new Map((runOpts.modules ?? []).filter((m) => m.stackUsage).map((m) => [preloadName(m), m.stackUsage!] as const));
  const c = runProgramChecked(bytes, runOpts, { oneShot: kmem.oneShot, partialOk: kmem.partialOk, checkWrites: kmem.checkWrites }, { heap: kmem.heap, stack: kmem.stack, poison: kmem.poison, stackUsage });
  const r = c.run;
  if (r.stop.kind !== 'exited') err(describeStop(r.stop, r.instructions));
  if (verbose) err(`kmemsim: ${r.instructions} instructions executed`);
  for (const text of c.reports) err(text);
  const s = c.summary;
  if (verbose || s.findings + s.lost > 0) {
    const how = [...(s.faults ? [`${s.faults} faults on hidden pages, ${s.singleSteps} single steps`] : []), ...(s.tracedCalls ? [`${s.tracedCalls} traced calls`] : [])];
    err(`kmemsim: ${checkerNames(kmem)}: ${s.findings} error${s.findings === 1 ? '' : 's'} reported${s.lost ? `, ${s.lost} lost` : ''}${how.length ? ` (${how.join('; ')})` : ''}`);
  }
  let status = s.findings + s.lost > 0 ? kmem.errorExitcode : r.exitCode;
  if (kmem.reportJson !== undefined) {
    const doc = jsonReport({ run: null, findings: c.findings, summary: { ...s, emulated: 0 } }, status);
    doc.exit.stop = r.stop.kind === 'exited' ? null : { kind: r.stop.kind, message: describeStop(r.stop, r.instructions).replace(/^kmemsim: /, '') };
    try {
      fs.writeFileSync(kmem.reportJson, JSON.stringify(doc, null, 2) + '\n');
    } catch (e) {
      err(`kmemsim: cannot write ${kmem.reportJson}: ${e instanceof Error ? e.message : String(e)}`);
      if (s.findings + s.lost === 0) status = 2;
    }
  }
  return status;
}

