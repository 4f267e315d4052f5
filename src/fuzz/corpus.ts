/**
 * The queue (AFL's corpus): every seed, then every input that added
 * coverage (a new edge or a new hit-count bucket), in the order found.
 * Entries are chosen round-robin, a cycle being one pass over the queue
 * (AFL's queue_cycle); each gets an energy (how many havoc executions)
 * that favours small, fast entries and ones that found new edges, a
 * simplified form of afl-fuzz's calculate_score().
 */

export interface QueueEntry {
  id: number;
  data: Uint8Array;
  /** The file name under queue/ (AFL's naming). */
  name: string;
  /** Instructions LLVMFuzzerTestOneInput ran for it (AFL's exec_us). */
  instructions: number;
  /** It added new edges, not only new hit-count buckets (AFL's has_new_cov, "+cov"). */
  newEdges: boolean;
  /** Mutation depth: seeds are 1, children their parent's + 1 (AFL's depth). */
  depth: number;
  /** The deterministic stages ran on it (AFL's passed_det). */
  passedDet?: boolean;
  /** The cmplog stage ran on it (AFL++'s queue entry `colorized`). */
  passedCmplog?: boolean;
}

/** The base number of havoc executions per entry per cycle (AFL's HAVOC_CYCLES_INIT is 1024; kmemsim's executions are slower). */
export const BASE_ENERGY = 32;

export class Corpus {
  readonly entries: QueueEntry[] = [];
  /** Where the round-robin stands (AFL's current_entry). */
  current = -1;
  cyclesDone = 0;
  /** Cycles since the last one that found something (AFL's cycles_wo_finds). */
  cyclesWithoutFinds = 0;
  private foundThisCycle = false;
  private totalInstructions = 0;

  add(e: QueueEntry): void {
    this.entries.push(e);
    this.totalInstructions += e.instructions;
    this.foundThisCycle = true;
  }

  get maxDepth(): number {
    let d = 0;
    for (const e of this.entries) d = Math.max(d, e.depth);
    return d;
  }

  /** The next entry round-robin; wrapping around ends a cycle. */
  next(): QueueEntry {
    this.current++;
    if (this.current >= this.entries.length) {
      this.current = 0;
      this.cyclesDone++;
      this.cyclesWithoutFinds = this.foundThisCycle ? 0 : this.cyclesWithoutFinds + 1;
      this.foundThisCycle = false;
    }
    return this.entries[this.current]!;
  }

  /** How many havoc executions `e` gets this time: more for fast, small and edge-finding entries. */
  energy(e: QueueEntry): number {
    const avg = this.totalInstructions / Math.max(1, this.entries.length);
    let score = BASE_ENERGY;
    if (e.instructions * 2 < avg) score *= 2;
    else if (e.instructions > avg * 4) score /= 2;
    if (e.newEdges) score *= 2;
    if (e.data.length > 1024) score /= 2;
    return Math.max(4, Math.round(score));
  }
}
