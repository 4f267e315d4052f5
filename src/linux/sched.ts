/**
 * Tasks share the one simulated processor: each runs for a fixed quantum of
 * instructions (the PIT's 100 Hz tick at the clock's 100 M instructions per
 * second: 1,000,000), then the next runnable task in pid order gets it —
 * round robin, so the same run always interleaves the same way. A task whose
 * system call cannot complete sleeps with its int $0x80 rewound (the call
 * restarts when it wakes, as -ERESTARTSYS does); a wake condition says when
 * to retry. When nothing can run but a sleeper has a deadline, the clock
 * jumps there (a tickless idle); when nothing can ever run, the run ends as
 * a deadlock. The instruction budget counts every task.
 *
 * Once a module kernel is installed, processes are tasks of its scheduler
 * (./process-tasks.ts): this loop still runs the CPU and turns stops into
 * exits, but every switch is that scheduler's schedule().
 */
import type { Kernel } from '../kernel/kernel.js';
import type { StopReason } from '../cpu/stop.js';
import { DS, ES, FS, GS } from '../cpu/instr.js';
import { loadSegment, setSegmentCache } from '../cpu/segments.js';
import { FAULT } from '../cpu/stop.js';
import type { Task } from './task.js';
import { X87State } from '../cpu/fpu/x87-state.js';

export const QUANTUM = 1_000_000;
/** Instructions run at a time while finishing kernel work after the quantum ended. */
const KERNEL_SLICE = 1000;

/** A task's user-mode registers while it does not run (what switch_to() and the entry code save). */
export interface UserContext {
  regs: Int32Array;
  eip: number;
  eflags: number;
  /** DS, ES, FS, GS selectors. */
  segs: [number, number, number, number];
  /** The task's x87 state (what switch_to()'s FPU save/restore keeps per task). */
  fpu: X87State;
}

/** The current user context; the CPU must be at a user instruction boundary (CPL 3). */
export function saveContext(k: Kernel): UserContext {
  const c = k.cpu;
  return { regs: Int32Array.from(c.regs), eip: c.eip, eflags: c.getEflags(), segs: [c.segSel[DS], c.segSel[ES], c.segSel[FS], c.segSel[GS]], fpu: new X87State().copyFrom(c.fpu) };
}

/** Switch the processor to `t`: its page directory, its TLS slots, then IRET into its saved context (from its kernel stack, `stackTop`). */
export function restoreContext(k: Kernel, t: Task, stackTop?: number): void {
  const c = k.cpu;
  const ctx = t.context!;
  k.kernelMode(stackTop);
  c.writeControlRegister(3, t.mm.as.pgdir);
  t.tls.load(k);
  c.fpu.copyFrom(ctx.fpu);
  k.enterUser(ctx.eip, ctx.regs[4]!, ctx.eflags);
  for (let i = 0; i < 8; i++) if (i !== 4) c.regs[i] = ctx.regs[i]!;
  loadUserSegments(k, ctx.segs);
  t.context = null;
}

/** Reload DS, ES, FS, GS from their selectors (after the task's TLS slots are in the GDT). */
export function loadUserSegments(k: Kernel, sels: readonly [number, number, number, number]): void {
  const c = k.cpu;
  [DS, ES, FS, GS].forEach((seg, i) => {
    try {
      loadSegment(c, seg, sels[i]!);
    } catch (e) {
      if (e !== FAULT) throw e;
      setSegmentCache(c, seg, 0, null); // a selector the new TLS slots no longer back reads as null, as Linux's lazy reload would fault
    }
  });
}

export interface Scheduler {
  /** Tasks in pid order. */
  tasks(): Task[];
  current(): Task;
  setCurrent(t: Task): void;
  /** Skip idle time to `ns` (monotonic). */
  advanceClockTo(ns: number): void;
  nowNs(): number;
  /** After a task is switched in: deliver its pending signals. */
  onSwitchIn(): void;
  /**
   * When processes are tasks of the kernel's scheduler (a module kernel is
   * installed: src/linux/process-tasks.ts), that scheduler decides at every
   * return to user mode instead of this file's round robin.
   */
  kernelTasks?(): { atUserBoundary(tick: boolean): void } | null;
  /** Whether a 'yield' stop is the embedder's pause (a hook stopped the machine: src/api) rather than the kernel's. */
  paused?(): boolean;
  /**
   * Where the last run() left the time slice when its budget ran out or a hook paused it — so that a
   * run in pieces switches tasks exactly where one run would (the embedding API's resumable runs).
   */
  slice?: SliceState;
}

/** The time slice a run left unfinished: the quantum's end, or the kernel's work after a quantum still in flight. */
export interface SliceState {
  quantumEnd: number | null;
  finishing: boolean;
}

/** Pick the next task to run after `cur` (round robin by pid); null when none can run now. */
export function pickNext(s: Scheduler, cur: Task): Task | null {
  const all = s.tasks().filter((t) => t.state !== 'zombie');
  const i = all.indexOf(cur);
  const order = i < 0 ? all : [...all.slice(i + 1), ...all.slice(0, i + 1)];
  for (const t of order) {
    if (t.state === 'runnable') return t;
    if (t.state === 'blocked' && t.wakeWhen?.()) {
      t.state = 'runnable';
      t.wakeWhen = null;
      t.wakeAt = null;
      return t;
    }
  }
  return null;
}

/**
 * Run tasks until the first one ends (its status is the run's), the budget
 * runs out, or a stop that is not a task's business (an unsupported
 * instruction in the kernel, an internal error).
 */
export function runTasks(k: Kernel, s: Scheduler, budget: number, onTaskStop: (t: Task, stop: StopReason) => StopReason | null): StopReason {
  const cpu = k.cpu;
  const end = cpu.icount + budget;
  const slice = s.slice;
  for (;;) {
    const left = end - cpu.icount;
    if (left <= 0) return { kind: 'budget', executed: cpu.icount };
    let stop: StopReason | null = null;
    let quantumEnd = cpu.icount + QUANTUM;
    if (slice?.finishing) {
      // The last run's budget ran out while the kernel finished its work after a quantum: go on with that.
      slice.finishing = false;
    } else {
      if (slice?.quantumEnd != null) quantumEnd = slice.quantumEnd; // the quantum the last run's budget cut short
      if (slice) slice.quantumEnd = null;
      stop = cpu.run(Math.min(Math.max(0, quantumEnd - cpu.icount), left));
      // The budget, not the quantum, ran out: the next run goes on with this quantum (a run in pieces schedules as one).
      if (slice && (!stop || stop.kind === 'budget') && cpu.icount >= end && cpu.icount < quantumEnd) {
        slice.quantumEnd = quantumEnd;
        return { kind: 'budget', executed: cpu.icount };
      }
    }
    const cur = s.current();
    const tick = !stop || stop.kind === 'budget';
    if (stop && stop.kind !== 'budget') {
      cpu.stopReason = null;
      // A hook stopped the machine between two instructions: back to the embedder, who may run on later, in this quantum.
      if (stop.kind === 'yield' && s.paused?.()) {
        if (slice) slice.quantumEnd = quantumEnd;
        return stop;
      }
      if (stop.kind !== 'yield') {
        const final = onTaskStop(cur, stop);
        if (final) return final;
      }
    } else {
      // The quantum ended: finish the kernel work in flight (a trap, a module's file operation: the kernel
      // is not preemptible) so the task is at a user instruction boundary.
      while (cpu.cpl !== 3 && !cpu.stopReason && cpu.icount < end) cpu.run(Math.min(KERNEL_SLICE, end - cpu.icount));
      if (cpu.stopReason) continue;
      if (cpu.cpl !== 3) {
        if (slice) slice.finishing = true;
        return { kind: 'budget', executed: cpu.icount };
      }
    }
    const kernelTasks = s.kernelTasks?.();
    if (kernelTasks) {
      kernelTasks.atUserBoundary(tick);
      continue;
    }
    const next = pickNext(s, cur) ?? idle(s);
    if (next === null) {
      return { kind: 'fault', vector: 0x80, errorCode: null, eip: cpu.eip, message: 'deadlock: every task is blocked and none can be woken (a process waits for something that can never happen)' };
    }
    if (next === cur && cur.state === 'runnable' && cur.context === null) continue;
    if (cur.state !== 'zombie' && cur.context === null) cur.context = saveContext(k);
    s.setCurrent(next);
    restoreContext(k, next);
    s.onSwitchIn();
  }
}

/** Nothing runnable: jump the clock to the earliest sleeper's deadline and try again. */
function idle(s: Scheduler): Task | null {
  const sleepers = s.tasks().filter((t) => t.state === 'blocked' && t.wakeAt !== null);
  if (!sleepers.length) return null;
  const at = Math.min(...sleepers.map((t) => t.wakeAt!));
  if (at > s.nowNs()) s.advanceClockTo(at);
  const first = s.tasks()[0]!;
  return pickNext(s, first) ?? (first.state === 'blocked' && first.wakeWhen?.() ? (first.state = 'runnable', first) : null);
}
