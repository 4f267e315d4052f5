/**
 * The output directory in AFL++'s layout, so afl-whatsup, afl-plot and
 * people's scripts read it: `OUT/NAME/` (NAME is `default`, as afl-fuzz
 * without -M/-S, else the -M/-S name) holding `queue/`, `crashes/`, `hangs/`, `fuzzer_stats`
 * and `plot_data`. File names follow afl-fuzz's describe_op():
 * `id:000000,time:0,execs:0,orig:SEED` for seeds,
 * `id:000001,src:000000,time:MS,execs:N,op:havoc,rep:R[,+cov]` for finds,
 * `id:000000,sig:06,src:…` for crashes (the POSIX signal a native build
 * would have died of: 06 for a checker's report, as a sanitizer's abort).
 * Next to each crash kmemsim writes `NAME.json` (the report schema of
 * `kmemsim run --report-json`) and `NAME.txt` (the text report).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { MAP_SIZE } from './coverage.js';

export const INSTANCE = 'default';

/** What a mutated input came from, for its file name. */
export interface Origin {
  src: number;
  /** src2 when splicing (AFL's "+NNNNNN"). */
  splicedWith: number | null;
  rep: number;
  /** A deterministic stage's operation ("flip1,pos:3", src/fuzz/deterministic.ts); absent for havoc and splice. */
  op?: string;
}

/** The op: part of a name: the deterministic stage, or havoc/splice with its stacking (AFL's describe_op()). */
function opField(o: Origin): string {
  if (o.op !== undefined) return `op:${o.op}`;
  return `op:${o.splicedWith !== null ? 'splice' : 'havoc'},rep:${o.rep}`;
}

const id6 = (n: number): string => String(n).padStart(6, '0');

function op(origin: Origin): string {
  return `src:${id6(origin.src)}${origin.splicedWith !== null ? `+${id6(origin.splicedWith)}` : ''}`;
}

export function seedName(id: number, seed: string): string {
  // AFL keeps the seed's base name; commas and slashes would break the field syntax.
  return `id:${id6(id)},time:0,execs:0,orig:${seed.replace(/[,/]/g, '_')}`;
}

export function queueName(id: number, o: Origin, timeMs: number, execs: number, newEdges: boolean): string {
  return `id:${id6(id)},${op(o)},time:${timeMs},execs:${execs},${opField(o)}${newEdges ? ',+cov' : ''}`;
}

export function crashName(id: number, signal: number, o: Origin, timeMs: number, execs: number): string {
  return `id:${id6(id)},sig:${String(signal).padStart(2, '0')},${op(o)},time:${timeMs},execs:${execs},${opField(o)}`;
}

/** An entry imported from another instance's queue (AFL++'s "id:%06u,sync:%s,src:%06u"). */
export function syncName(id: number, instance: string, src: number): string {
  return `id:${id6(id)},sync:${instance},src:${id6(src)}`;
}

export function hangName(id: number, o: Origin, timeMs: number, execs: number): string {
  return `id:${id6(id)},${op(o)},time:${timeMs},execs:${execs},${opField(o)}`;
}

export class OutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OutputError';
  }
}

/** The instance directory and its subdirectories. */
export class OutputDir {
  readonly dir: string;
  readonly queue: string;
  readonly crashes: string;
  readonly hangs: string;

  constructor(readonly out: string, readonly instance: string = INSTANCE) {
    this.dir = join(out, instance);
    this.queue = join(this.dir, 'queue');
    this.crashes = join(this.dir, 'crashes');
    this.hangs = join(this.dir, 'hangs');
  }

  /** An earlier run's instance directory is there (afl-fuzz refuses it unless resuming with -i -). */
  holdsEarlierRun(): boolean {
    return fs.existsSync(join(this.dir, 'fuzzer_stats')) || (fs.existsSync(this.queue) && fs.readdirSync(this.queue).length > 0);
  }

  create(): void {
    try {
      for (const d of [this.queue, this.crashes, this.hangs]) fs.mkdirSync(d, { recursive: true });
    } catch (e) {
      throw new OutputError(`cannot create ${this.dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  /** The entries of a subdirectory whose names start with "id:", sorted. */
  ids(sub: string): string[] {
    if (!fs.existsSync(sub)) return [];
    return fs.readdirSync(sub).filter((n) => n.startsWith('id:') && !n.endsWith('.json') && !n.endsWith('.txt')).sort();
  }

  write(sub: string, name: string, data: Uint8Array | string): string {
    const path = join(sub, name);
    // Written under a temporary name and renamed: an interrupted run never leaves half a file under an id: name.
    const tmp = join(sub, `.${name}.tmp`);
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, path);
    return path;
  }
}

/** The counters fuzzer_stats and plot_data report. */
export interface FuzzStats {
  startTime: number;
  now: number;
  lastFind: number;
  lastCrash: number;
  lastHang: number;
  execs: number;
  execsSinceCrash: number;
  cyclesDone: number;
  cyclesWithoutFinds: number;
  currentEntry: number;
  corpusCount: number;
  corpusFound: number;
  corpusImported: number;
  maxDepth: number;
  edges: number;
  crashes: number;
  hangs: number;
  timeoutInstructions: number;
  commandLine: string;
  target: string;
  /** "kmemsim kernel module" or "kmemsim user program". */
  targetMode: string;
  /** Milliseconds spent in the cmplog stage (its cmplog runs and input-to-state executions) and in syncing. */
  cmplogMs: number;
  syncMs: number;
}

function sec(ms: number): number {
  return Math.floor(ms / 1000);
}

/** AFL++'s fuzzer_stats ("key : value" lines, afl-fuzz-stats.c write_stats_file()). */
export function fuzzerStats(s: FuzzStats, version: string): string {
  const run = Math.max(1, s.now - s.startTime);
  const perSec = (s.execs * 1000) / run;
  const rows: [string, string | number][] = [
    ['start_time', sec(s.startTime)],
    ['last_update', sec(s.now)],
    ['run_time', sec(s.now - s.startTime)],
    ['fuzzer_pid', process.pid],
    ['cycles_done', s.cyclesDone],
    ['cycles_wo_finds', s.cyclesWithoutFinds],
    ['time_wo_finds', sec(s.now - (s.lastFind || s.startTime))],
    // AFL++ 4's split of run_time: what is not cmplog or sync is fuzzing (no calibration or trimming in kmemsim).
    ['fuzz_time', sec(Math.max(0, s.now - s.startTime - s.cmplogMs - s.syncMs))],
    ['calibration_time', 0],
    ['cmplog_time', sec(s.cmplogMs)],
    ['sync_time', sec(s.syncMs)],
    ['trim_time', 0],
    ['execs_done', s.execs],
    ['execs_per_sec', perSec.toFixed(2)],
    ['execs_ps_last_min', perSec.toFixed(2)],
    ['corpus_count', s.corpusCount],
    ['corpus_favored', s.corpusCount],
    ['corpus_found', s.corpusFound],
    ['corpus_imported', s.corpusImported],
    ['corpus_variable', 0],
    ['max_depth', s.maxDepth],
    ['cur_item', Math.max(0, s.currentEntry)],
    ['pending_favs', 0],
    ['pending_total', 0],
    ['stability', '100.00%'],
    ['bitmap_cvg', `${((s.edges * 100) / MAP_SIZE).toFixed(2)}%`],
    ['saved_crashes', s.crashes],
    ['saved_hangs', s.hangs],
    ['last_find', sec(s.lastFind)],
    ['last_crash', sec(s.lastCrash)],
    ['last_hang', sec(s.lastHang)],
    ['execs_since_crash', s.execsSinceCrash],
    // AFL++'s exec_timeout is milliseconds; kmemsim's budget is instructions, in a key of its own.
    ['exec_timeout', 0],
    ['exec_timeout_instructions', s.timeoutInstructions],
    ['slowest_exec_ms', 0],
    ['peak_rss_mb', Math.round(process.memoryUsage().rss / 2 ** 20)],
    ['cpu_affinity', -1],
    ['edges_found', s.edges],
    ['total_edges', MAP_SIZE],
    ['var_byte_count', 0],
    ['havoc_expansion', 0],
    ['auto_dict_entries', 0],
    ['testcache_size', 0],
    ['testcache_count', 0],
    ['testcache_evict', 0],
    ['afl_banner', s.target],
    ['afl_version', `kmemsim-${version}`],
    ['target_mode', s.targetMode],
    ['command_line', s.commandLine],
  ];
  return rows.map(([k, v]) => `${k.padEnd(18)}: ${v}`).join('\n') + '\n';
}

/** AFL++'s plot_data header (afl-fuzz-stats.c maybe_update_plot_file()). */
export const PLOT_HEADER =
  '# relative_time, cycles_done, cur_item, corpus_count, pending_total, pending_favs, map_size, saved_crashes, saved_hangs, max_depth, execs_per_sec, total_execs, edges_found\n';

export function plotLine(s: FuzzStats): string {
  const run = Math.max(1, s.now - s.startTime);
  return `${sec(s.now - s.startTime)}, ${s.cyclesDone}, ${Math.max(0, s.currentEntry)}, ${s.corpusCount}, 0, 0, ${((s.edges * 100) / MAP_SIZE).toFixed(2)}%, ${s.crashes}, ${s.hangs}, ${s.maxDepth}, ${((s.execs * 1000) / run).toFixed(2)}, ${s.execs}, ${s.edges}\n`;
}
