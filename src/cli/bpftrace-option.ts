/**
 * `kmemsim run --bpftrace FILE.bt|'PROGRAM'`: one bpftrace session for
 * every kind of run — a module on its own (plain or under --kmemcheck /
 * --stack) and a program with its --module modules. The program is parsed
 * before anything runs (a bad program is exit status 2), attached to the
 * kernel's kprobes once the kernel API and the modules to trace are there
 * (bpftrace expands its wildcards when it starts), and finished after the
 * run: END, then the maps.
 */
import * as fs from 'node:fs';
import { BpftraceRun } from '../bpftrace/run.js';
import { BpftraceError } from '../bpftrace/parse.js';
import type { KernelApi } from '../kernel/kapi.js';

export { BpftraceError };

export class BpftraceSession {
  private constructor(private readonly bt: BpftraceRun, private readonly err: (line: string) => void) {}

  /** Parse `arg` (a .bt file's name, or the program text): the session, or 2 after printing bpftrace's message. */
  static open(arg: string, out: (text: string) => void, err: (line: string) => void): BpftraceSession | number {
    try {
      return new BpftraceSession(new BpftraceRun(readBpftraceSource(arg), { out }), err);
    } catch (e) {
      if (!(e instanceof BpftraceError)) throw e;
      err(`kmemsim: --bpftrace: ${e.message}`);
      return 2;
    }
  }

  /** Attach the probes and run BEGIN (throws BpftraceError for a function kallsyms does not know). */
  attach(api: KernelApi): void {
    this.bt.attach(api);
  }

  /** The run is over: END and the maps; the run's status, or 2 when an action failed at run time. */
  finish(status: number): number {
    this.bt.finish();
    if (!this.bt.error) return status;
    this.err(`kmemsim: --bpftrace: ${this.bt.error.message}`);
    return 2;
  }
}

/** A BpftraceError that stopped a run (attaching failed): printed as bpftrace's message, exit status 2; null for other errors. */
export function bpftraceFailure(e: unknown, err: (line: string) => void): number | null {
  if (!(e instanceof BpftraceError)) return null;
  err(`kmemsim: --bpftrace: ${e.message}`);
  return 2;
}

/** --bpftrace's argument: a file's text when it names a readable file (as `bpftrace FILE.bt`), else the program itself (`bpftrace -e`). */
function readBpftraceSource(arg: string): string {
  try {
    if (fs.statSync(arg).isFile()) return fs.readFileSync(arg, 'utf8');
  } catch {
    /* not a file: the program text */
  }
  return arg;
}
