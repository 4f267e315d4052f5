/**
 * The deterministic clock (DESIGN.md invariant 4): time starts at a fixed
 * date and advances with the retired-instruction count, 1 s per 100 M
 * instructions (the PIT runs on the same clock, src/devices/pit8254.ts).
 * Sleeping never waits on the host: a task that sleeps when nothing else can
 * run makes the clock jump to its deadline (`advance`), as a tickless kernel
 * whose idle loop skips to the next timer would look to the sleeper.
 */
import type { CPU } from '../cpu/cpu.js';

/** 2008-04-04 00:00:00 UTC, the month of the kmemcheck thread. */
export const CLOCK_EPOCH = 1207267200;
export const INSTRUCTIONS_PER_SECOND = 100_000_000;
const NS_PER_INSTRUCTION = 1e9 / INSTRUCTIONS_PER_SECOND;

export const CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_PROCESS_CPUTIME_ID = 2, CLOCK_THREAD_CPUTIME_ID = 3,
  CLOCK_MONOTONIC_RAW = 4, CLOCK_REALTIME_COARSE = 5, CLOCK_MONOTONIC_COARSE = 6, CLOCK_BOOTTIME = 7;

export interface Timespec {
  sec: number;
  nsec: number;
}

export class Clock {
  /** Nanoseconds skipped by idle sleeps (added to the instruction-driven time). */
  private skippedNs = 0;
  constructor(private readonly cpu: CPU) {}

  /** Nanoseconds since boot (CLOCK_MONOTONIC). */
  monotonicNs(): number {
    return this.cpu.icount * NS_PER_INSTRUCTION + this.skippedNs;
  }
  /** Nanoseconds of CPU time used (CLOCK_PROCESS_CPUTIME_ID): instructions only, sleeps excluded. */
  cpuNs(): number {
    return this.cpu.icount * NS_PER_INSTRUCTION;
  }
  /** The time of clock `id`, or null for an unknown clock (EINVAL). */
  read(id: number): Timespec | null {
    let ns: number;
    switch (id) {
      case CLOCK_REALTIME: case CLOCK_REALTIME_COARSE:
        return split(this.monotonicNs(), CLOCK_EPOCH);
      case CLOCK_MONOTONIC: case CLOCK_MONOTONIC_RAW: case CLOCK_MONOTONIC_COARSE: case CLOCK_BOOTTIME:
        ns = this.monotonicNs();
        break;
      case CLOCK_PROCESS_CPUTIME_ID: case CLOCK_THREAD_CPUTIME_ID:
        ns = this.cpuNs();
        break;
      default:
        return null;
    }
    return split(ns, 0);
  }
  /** Skip idle time: nothing runs until `ns` from now. */
  advance(ns: number): void {
    if (ns > 0) this.skippedNs += ns;
  }
}

function split(ns: number, epochSec: number): Timespec {
  const sec = Math.floor(ns / 1e9);
  return { sec: epochSec + sec, nsec: Math.floor(ns - sec * 1e9) };
}
