/**
 * The fuzzing loop (afl-fuzz's main loop, simplified): run the seeds,
 * then take queue entries round-robin; each gets, once, the cmplog stage
 * (input-to-state replacement, ./cmplog.ts) and, with -D, the
 * deterministic stages, then every time havoc (and splicing) mutations;
 * keep an input when its classified edge trace adds to the virgin map,
 * save a crash when its signature is new, a hang when its trace adds to
 * the hangs' own virgin map (afl-fuzz's virgin_tmout).
 *
 * Deterministic: every choice comes from the seeded Rng and every input
 * runs on a machine in the same initial state, so the same seed, target
 * and options give the same queue and crashes. The wall clock only decides
 * when status lines are printed and when --max-time ends the run.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { MAP_SIZE, classifyCounts, countEdges, hasNewBits, newVirginMap } from './coverage.js';
import { Corpus, type QueueEntry } from './corpus.js';
import { havoc, spliceInputs } from './mutate.js';
import { Rng } from './random.js';
import { OutputDir, OutputError, PLOT_HEADER, crashName, fuzzerStats, hangName, plotLine, queueName, seedName, syncName, type FuzzStats, type Origin } from './afl-output.js';
import { markSynced, syncCandidates } from './sync.js';
import { deterministicStages } from './deterministic.js';
import type { Execution } from './target-module.js';
import { CompareLog } from './cmplog.js';
import { inputToState } from './input-to-state.js';

/** What the loop needs of a target. */
export interface FuzzTarget {
  /** Run one input; with `cmplog`, compare logging compiled in and the operands recorded there (./cmplog.ts). */
  execute(data: Uint8Array, edges: Uint8Array | null, cmplog?: CompareLog | null): Execution;
}

export interface FuzzOptions {
  /** Seed directory; '-' resumes from OUT's queue (afl-fuzz -i -); null: one generated input. */
  seeds: string | null;
  out: string;
  seed: number;
  /** Stop after this many executions (seeds included); Infinity: no limit. */
  runs: number;
  /** Stop after this many milliseconds of wall time; Infinity: no limit. */
  maxTimeMs: number;
  tokens: readonly Uint8Array[];
  keepGoing: boolean;
  /** Inputs never grow beyond this (AFL's MAX_FILE is 1 MiB; kmemsim's default is 4 KiB). */
  maxLength: number;
  timeoutInstructions: number;
  commandLine: string;
  target: string;
  version: string;
  /** Status lines (and fuzzer_stats/plot_data updates) at most this often. */
  statusIntervalMs: number;
  /** The instance's name in OUT (-M/-S NAME; default "default"). */
  instance?: string;
  /** -M: the main instance (AFL++ marks it with OUT/NAME/is_main_node). */
  main?: boolean;
  /** Import the other instances' new queue entries at most this often (and once after the seeds); default 30 s. */
  syncIntervalMs?: number;
  /** -D: AFL's deterministic stages on every queue entry once, before its havoc (src/fuzz/deterministic.ts). */
  deterministic?: boolean;
  /**
   * The cmplog stage (AFL++'s -c, RedQueen): once per queue entry, a run
   * with compare logging, then input-to-state replacements of it
   * (./cmplog.ts, ./input-to-state.ts). Default on; --no-cmplog turns it off.
   */
  cmplog?: boolean;
  /** fuzzer_stats' target_mode. */
  targetMode?: string;
  status(line: string): void;
  /** A new crash was saved at `path`: write its reports next to it (`path`.json, `path`.txt). */
  crashSaved(path: string, data: Uint8Array, exec: Execution): void;
  /** The clock (tests may fix it); default Date.now. */
  now?: () => number;
  /** Asked after every input: true ends the run as SIGINT would (--jobs: a secondary found a crash). */
  shouldStop?: () => boolean;
}

export interface SavedCrash {
  path: string;
  signature: string;
}

export interface FuzzSummary {
  execs: number;
  /** Of `execs`: cmplog runs, and the input-to-state candidates run, and how many of those were kept (queue or crash). */
  cmplogRuns: number;
  itsExecs: number;
  itsFinds: number;
  corpus: number;
  edges: number;
  crashes: SavedCrash[];
  hangs: number;
  interrupted: boolean;
}

export class SeedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeedError';
  }
}

/** AFL++'s default when -i has nothing: kmemsim starts from one small generated input. */
const GENERATED_SEED = Uint8Array.from([0x30, 0x30, 0x30, 0x30]);

/** The seed files of `dir` (regular files, sorted by name, hidden ones skipped), as afl-fuzz's read_testcases(). */
export function readSeeds(dir: string, maxLength: number): { name: string; data: Uint8Array }[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).sort();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') return [];
    throw new SeedError(`cannot read seed directory ${dir}: ${err.code === 'ENOTDIR' ? 'not a directory' : err.code === 'EACCES' ? 'permission denied' : err.message}`);
  }
  const seeds: { name: string; data: Uint8Array }[] = [];
  for (const n of names) {
    if (n.startsWith('.')) continue;
    const p = join(dir, n);
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      continue;
    }
    if (!st.isFile()) continue;
    if (st.size > maxLength) throw new SeedError(`seed ${p} is ${st.size} bytes, more than the ${maxLength}-byte input limit (--max-len)`);
    try {
      seeds.push({ name: n, data: new Uint8Array(fs.readFileSync(p)) });
    } catch (e) {
      throw new SeedError(`cannot read seed ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return seeds;
}

/** The crash signatures a run recorded (name → signature); empty when there are none or the file is damaged. */
function readSignatures(path: string): Map<string, string> {
  try {
    const o = JSON.parse(fs.readFileSync(path, 'utf8')) as Record<string, unknown>;
    return new Map(Object.entries(o).filter((e): e is [string, string] => typeof e[1] === 'string'));
  } catch {
    return new Map();
  }
}

/** Run the fuzzer; resolves when a limit is reached, a crash stops it, or SIGINT/SIGTERM arrives. */
export async function fuzz(target: FuzzTarget, opts: FuzzOptions): Promise<FuzzSummary> {
  const now = opts.now ?? Date.now;
  const out = new OutputDir(opts.out, opts.instance);
  const resume = opts.seeds === '-';
  if (!resume && out.holdsEarlierRun()) {
    throw new OutputError(`${out.dir} holds an earlier run: resume it with -i - or choose another -o directory`);
  }
  if (resume && !out.holdsEarlierRun()) throw new OutputError(`-i -: ${out.dir} holds no earlier run to resume`);
  const seeds = resume
    ? out.ids(out.queue).map((name) => ({ name, data: new Uint8Array(fs.readFileSync(join(out.queue, name))) }))
    : opts.seeds === null ? [] : readSeeds(opts.seeds, opts.maxLength);
  out.create();
  if (opts.main) fs.writeFileSync(join(out.dir, 'is_main_node'), '');

  const rng = new Rng(opts.seed);
  const corpus = new Corpus();
  const virgin = newVirginMap();
  const virginHang = newVirginMap();
  const trace = new Uint8Array(MAP_SIZE);
  // Crash signatures saved so far, by crash file: kept in OUT/NAME/.crash_signatures so a resumed run (-i -)
  // does not save a crash it already has (AFL++ compares coverage; kmemsim deduplicates by signature).
  const signaturePath = join(out.dir, '.crash_signatures');
  const saved = resume ? readSignatures(signaturePath) : new Map<string, string>();
  const signatures = new Set<string>(saved.values());
  const crashes: SavedCrash[] = [];
  const start = now();
  let crashIds = out.ids(out.crashes).length;
  let hangIds = out.ids(out.hangs).length;
  let hangs = hangIds;
  let execs = 0;
  let execsSinceCrash = 0;
  let lastFind = 0, lastCrash = 0, lastHang = 0;
  let stopRequested = false;
  let stopForCrash = false;
  let lastStatus = start;
  let imported = 0;
  let lastSync = -Infinity;
  let cmplogMs = 0, syncMs = 0, cmplogRuns = 0, itsExecs = 0, itsFinds = 0;
  const cmplogOn = opts.cmplog ?? true;
  const compareLog = new CompareLog();
  // Operand pairs already tried on an earlier entry: a later entry showing the same pair at the same
  // site is not tried again (a switch on input bytes would otherwise make every entry re-try every case).
  const triedPairs = new Set<string>();
  const syncInterval = opts.syncIntervalMs ?? 30_000;

  const plotPath = join(out.dir, 'plot_data');
  if (!resume || !fs.existsSync(plotPath)) fs.writeFileSync(plotPath, PLOT_HEADER);

  const onSignal = (): void => void (stopRequested = true);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const stats = (): FuzzStats => ({
    startTime: start, now: now(), lastFind, lastCrash, lastHang, execs, execsSinceCrash,
    cyclesDone: corpus.cyclesDone, cyclesWithoutFinds: corpus.cyclesWithoutFinds, currentEntry: corpus.current,
    corpusCount: corpus.entries.length, corpusFound: corpus.entries.filter((e) => e.depth > 1).length, corpusImported: imported,
    maxDepth: corpus.maxDepth, edges: countEdges(virgin), crashes: crashIds, hangs,
    timeoutInstructions: opts.timeoutInstructions, commandLine: opts.commandLine, target: opts.target,
    targetMode: opts.targetMode ?? 'kmemsim kernel module', cmplogMs, syncMs,
  });
  const writeStats = (): void => {
    const s = stats();
    fs.writeFileSync(join(out.dir, 'fuzzer_stats'), fuzzerStats(s, opts.version));
    fs.appendFileSync(plotPath, plotLine(s));
  };
  const statusLine = (): string => {
    const s = stats();
    const secs = Math.max(0.001, (s.now - start) / 1000);
    const sinceEdge = lastFind ? `${Math.round((s.now - lastFind) / 1000)}s` : 'none yet';
    return `kmemsim fuzz: ${Math.round(secs)}s, ${execs} execs (${(execs / secs).toFixed(1)}/s), corpus ${s.corpusCount}, edges ${s.edges}, crashes ${s.crashes}, hangs ${s.hangs}, last new edge ${sinceEdge}${cmplogOn ? `, cmplog ${itsFinds}/${itsExecs}` : ''}`;
  };

  /** Run one input and file it: queue, crash, hang or nothing. Returns the execution. */
  const runOne = (data: Uint8Array, origin: Origin | null, seedFile: string | null, depth: number, synced: { instance: string; id: number } | null = null): Execution => {
    trace.fill(0);
    const exec = target.execute(data, trace);
    execs++;
    execsSinceCrash++;
    classifyCounts(trace);
    const t = now() - start;
    if (exec.outcome === 'crash') {
      if (!signatures.has(exec.signature!)) {
        signatures.add(exec.signature!);
        const o = origin ?? { src: 0, splicedWith: null, rep: 0 };
        const name = seedFile !== null ? `id:${String(crashIds).padStart(6, '0')},sig:${String(exec.signal).padStart(2, '0')},orig:${seedFile.replace(/[,/]/g, '_')}` : crashName(crashIds, exec.signal, o, t, execs);
        crashIds++;
        const path = out.write(out.crashes, name, data);
        saved.set(name, exec.signature!);
        out.write(out.dir, '.crash_signatures', JSON.stringify(Object.fromEntries(saved), null, 1) + '\n');
        opts.crashSaved(path, data, exec);
        crashes.push({ path, signature: exec.signature! });
        lastCrash = now();
        execsSinceCrash = 0;
        if (!opts.keepGoing) stopForCrash = true;
      }
      return exec;
    }
    if (exec.outcome === 'hang') {
      if (hasNewBits(virginHang, trace)) {
        out.write(out.hangs, hangName(hangIds++, origin ?? { src: 0, splicedWith: null, rep: 0 }, t, execs), data);
        hangs++;
        lastHang = now();
      }
      return exec;
    }
    const bits = hasNewBits(virgin, trace);
    if (synced !== null) {
      if (bits === 0) return exec;
      const id = corpus.entries.length;
      const name = syncName(id, synced.instance, synced.id);
      out.write(out.queue, name, data);
      corpus.add({ id, data, name, instructions: exec.instructions, newEdges: bits === 2, depth });
      imported++;
      lastFind = now();
      return exec;
    }
    if (bits !== 0 || seedFile !== null) {
      const id = corpus.entries.length;
      const name = seedFile !== null ? (resume ? seedFile : seedName(id, seedFile)) : queueName(id, origin!, t, execs, bits === 2);
      if (!resume || seedFile === null) out.write(out.queue, name, data);
      const e: QueueEntry = { id, data, name, instructions: exec.instructions, newEdges: bits === 2, depth };
      corpus.add(e);
      if (bits !== 0 && seedFile === null) lastFind = now();
    }
    return exec;
  };

  const limitReached = (): boolean => stopRequested || stopForCrash || (opts.shouldStop?.() ?? false) || execs >= opts.runs || now() - start >= opts.maxTimeMs;
  const maybeStatus = async (): Promise<void> => {
    // After every input, let SIGINT/SIGTERM handlers run (the loop is otherwise synchronous).
    await new Promise<void>((r) => setImmediate(r));
    if (now() - lastStatus < opts.statusIntervalMs) return;
    lastStatus = now();
    writeStats();
    opts.status(statusLine());
  };

  /** Import the other instances' new queue entries (AFL++'s sync_fuzzers()). */
  const syncNow = async (): Promise<void> => {
    lastSync = now();
    try {
      await syncOthers();
    } finally {
      syncMs += now() - lastSync;
    }
  };
  const syncOthers = async (): Promise<void> => {
    for (const other of syncCandidates(opts.out, out.instance, opts.maxLength)) {
      for (const c of other.entries) {
        if (limitReached()) return;
        let data: Uint8Array;
        try {
          data = new Uint8Array(fs.readFileSync(c.path));
        } catch {
          continue; // renamed or removed under us: the next sync sees it again or not at all
        }
        runOne(data, { src: c.id, splicedWith: null, rep: 0 }, null, 1, { instance: c.instance, id: c.id });
        await maybeStatus();
      }
      markSynced(out.dir, other.instance, other.next);
    }
  };

  /**
   * AFL++'s cmplog stage for one queue entry: a run with compare logging
   * compiled in, then each input-to-state replacement of the entry run as
   * a normal input (finds are named op:its,pos:N, afl-fuzz's stage_short).
   */
  const cmplogStage = async (entry: QueueEntry): Promise<void> => {
    if (limitReached()) return;
    const t0 = now();
    try {
      compareLog.clear();
      target.execute(entry.data, null, compareLog);
      execs++;
      execsSinceCrash++;
      cmplogRuns++;
      compareLog.keepNew(triedPairs);
      // At most as many candidates as the entry's havoc gets: an input whose every byte is compared
      // (a command loop's switch) would otherwise spend most executions here.
      for (const c of inputToState(entry.data, compareLog, { maxLength: opts.maxLength, limit: corpus.energy(entry) })) {
        if (limitReached()) return;
        const queued = corpus.entries.length, crashed = crashes.length;
        runOne(c.data, { src: entry.id, splicedWith: null, rep: 0, op: `its,pos:${c.pos}` }, null, entry.depth + 1);
        itsExecs++;
        if (corpus.entries.length > queued || crashes.length > crashed) itsFinds++;
        await maybeStatus();
      }
      entry.passedCmplog = true;
    } finally {
      cmplogMs += now() - t0;
    }
  };

  if (resume) {
    // Crashes of an earlier run without a recorded signature (an older kmemsim wrote them): run each once.
    for (const n of out.ids(out.crashes)) {
      if (saved.has(n)) continue;
      const e = target.execute(new Uint8Array(fs.readFileSync(join(out.crashes, n))), null);
      if (e.outcome === 'crash' && e.signature !== null) {
        saved.set(n, e.signature);
        signatures.add(e.signature);
      }
    }
  }

  try {
    const initial = seeds.length ? seeds : [{ name: 'generated', data: GENERATED_SEED }];
    for (const s of initial) {
      if (limitReached()) break;
      runOne(s.data, null, s.name, 1);
      await maybeStatus();
    }
    if (corpus.entries.length === 0 && !limitReached()) {
      // Every seed crashed or hung: AFL refuses to start; kmemsim goes on from the generated input.
      runOne(GENERATED_SEED, null, 'generated', 1);
    }
    if (!limitReached()) await syncNow();
    while (!limitReached() && corpus.entries.length > 0) {
      if (now() - lastSync >= syncInterval) await syncNow();
      const entry = corpus.next();
      // AFL++'s fuzz_one(): the input-to-state stage first, then the deterministic stages, then havoc.
      if (cmplogOn && !entry.passedCmplog) await cmplogStage(entry);
      if (opts.deterministic && !entry.passedDet) {
        for (const c of deterministicStages(entry.data, opts.tokens, opts.maxLength)) {
          if (limitReached()) break;
          runOne(c.data, { src: entry.id, splicedWith: null, rep: 0, op: c.op }, null, entry.depth + 1);
          await maybeStatus();
        }
        if (!limitReached()) entry.passedDet = true;
      }
      const energy = corpus.energy(entry);
      for (let i = 0; i < energy && !limitReached(); i++) {
        let base = entry.data;
        let splicedWith: number | null = null;
        // Splicing once the queue has a partner (afl-fuzz splices after havoc; kmemsim mixes it in).
        if (corpus.entries.length > 1 && rng.oneIn(8)) {
          const other = corpus.entries[rng.below(corpus.entries.length)]!;
          const s = other.id !== entry.id ? spliceInputs(entry.data, other.data, rng) : null;
          if (s) {
            base = s;
            splicedWith = other.id;
          }
        }
        const rep = { stacked: 0 };
        const data = havoc(base, { rng, tokens: opts.tokens, maxLength: opts.maxLength }, rep);
        runOne(data, { src: entry.id, splicedWith, rep: rep.stacked }, null, entry.depth + 1);
        await maybeStatus();
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    writeStats();
  }
  opts.status(statusLine());
  return { execs, cmplogRuns, itsExecs, itsFinds, corpus: corpus.entries.length, edges: countEdges(virgin), crashes, hangs, interrupted: stopRequested };
}

