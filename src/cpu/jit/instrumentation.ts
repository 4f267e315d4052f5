/**
 * Compile-time instrumentation of the block compiler (see ../jit.ts): a
 * client — a precise checker, the fuzzer's compare logging — hands
 * compileBlock an object of optional emitters, and each returns JavaScript
 * source that is pasted into the generated code at one kind of site, the
 * way Valgrind tools add IR around the guest's loads and stores. The
 * templates never change for a client: every memory access the generated
 * code makes goes through one emission point per kind (read, write, and
 * the read-modify-write and stack forms built on them), every inline ESP
 * change through one, every inline CMP/SUB/TEST through one.
 *
 * With no instrumentation (null) nothing is added and the code is the
 * compiler's fastest. A client that works per instruction rather than per
 * access (the precise checkers: kmemcheck's rules see an instruction's
 * accesses together) emits at the start of each instruction
 * (`instruction`), and sees interpreted code through `interpreted`. Instructions the compiler leaves to their executors
 * make their accesses through CPU.read8..32 and write8..32 as interpreted code does;
 * `executor` is called for each such site so a client can handle them its
 * own way (or decline to compile the block: see `compiles`).
 *
 * What generated code may use: `cpu` (the CPU), `site.reg(n)`, the names
 * a site gives (`lin`, `value`, `left`, `right`: JavaScript expressions
 * without side effects, valid at that point), the client's own `bindings`,
 * and values bound per site with `site.bind(v)`. Code must not return, nor
 * throw anything but the CPU's FAULT, and only after `site.sync` (a fault
 * raised through cpu.fault is then delivered at the site's instruction, as
 * for interpreted code).
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';

/** Where an emitter is asked for code: one instruction of the block. */
export interface JitSite {
  /** The instruction, and its index in the block. */
  readonly ins: Instr;
  readonly index: number;
  /** Bind any value into the generated code; returns the name to use for it. */
  bind(value: unknown): string;
  /**
   * General register `n` (0–7: EAX..EDI) as an expression. Inside the
   * generated code the registers and the lazy flags live in locals.
   */
  reg(n: number): string;
  /**
   * Code that makes the CPU's state exact for this instruction as it was
   * before it ran: cpu.regs, the lazy flags, and the index the run loop
   * needs to deliver a fault here. Emit it before calling anything that may
   * fault (cpu.fault) or look at the CPU (a report of the register state).
   */
  readonly sync: string;
}

/** A memory access by the generated code (SDM: a linear address; paging and faults follow it). */
export interface JitAccess extends JitSite {
  /** Bytes accessed: 1, 2 or 4. */
  readonly size: 1 | 2 | 4;
  /** Expression holding the linear address (int32). */
  readonly lin: string;
  /** Writes only: expression holding the value stored (not masked to the size). */
  readonly value?: string;
  /** Part of a read-modify-write (ADD [m], r; INC [m]; shifts of memory): the write follows the read. */
  readonly rmw: boolean;
  /** An implicit stack access (PUSH, POP, CALL, RET, LEAVE) through SS:ESP. */
  readonly stack: boolean;
}

/** The start of an instruction, before any of its effects (its registers are its inputs). */
export interface JitInstructionSite extends JitSite {
  /**
   * Code storing the lazy flags the block keeps in locals into the CPU's
   * fields (empty when none are pending), for a path of the emitted code
   * that may read EFLAGS; the flags stay pending for the block.
   */
  readonly flags: string;
}

/** An inline CMP, SUB or TEST (the fuzzer's compare operands). */
export interface JitCompare extends JitSite {
  readonly op: 'cmp' | 'sub' | 'test';
  readonly size: 1 | 2 | 4;
  /** Expressions holding the two operands (masked to the size). */
  readonly left: string;
  readonly right: string;
}

export interface JitInstrumentation {
  /**
   * Identifies the code this instrumentation emits: compiled factories are
   * cached by source and by this key, so two instrumentations with the same
   * key must emit the same code for the same block.
   */
  readonly key: string;
  /** Values the emitted code refers to by name (the names must be valid identifiers and start with `$`). */
  readonly bindings?: Readonly<Record<string, unknown>>;
  /** Code run before a read of guest memory (after the address is computed). */
  read?(a: JitAccess): string;
  /** Code run before a write of guest memory. */
  write?(a: JitAccess): string;
  /** Code run after an inline instruction changed ESP (PUSH, POP, CALL, RET, ADD/SUB/MOV/LEA to ESP, ...). */
  stackPointer?(s: JitSite): string;
  /** Code run at an inline CMP, SUB or TEST, before the flags are recorded. */
  compare?(c: JitCompare): string;
  /** Code run before an instruction the compiler leaves to its executor (called with EIP already at the next instruction). */
  executor?(s: JitSite): string;
  /**
   * Code run at the start of each instruction, before any of its effects
   * (a client that works per instruction, as kmemcheck's rules do: copies,
   * reports with the instruction's registers). EIP is not up to date: the
   * instruction is at site.ins.addr (compiled code runs with a flat CS).
   */
  instruction?(s: JitInstructionSite): string;
  /**
   * Called by the interpreter ahead of every instruction it executes (a
   * block not compiled yet or not compilable, one instruction at a time
   * under TF, breakpoints or segment checks), with EIP at the instruction
   * and its registers as inputs: what `instruction` and the access emitters
   * add to compiled code, for interpreted code. Native routines come here
   * too (ins.native is set).
   */
  interpreted?(cpu: CPU, ins: Instr): void;
  /** Whether a block may be compiled at all (default: yes); a block refused stays interpreted. */
  compiles?(instrs: readonly Instr[]): boolean;
  /**
   * What lets the block compiler replay this instrumentation's code for a
   * block it compiled before in this process (the same bytes at the same
   * addresses: the next run of a module) without generating it again;
   * null or absent: every block is generated (see `JitReplay`).
   */
  replay?(): JitReplay | null;
}

/**
 * An instrumentation's promise for replays (../jit.ts, compileBlock): its
 * emitted code is a function of the instructions and `key` alone, and
 * every object it binds (`site.bind`) is an instruction of the block, its
 * executor, or one of `roots` — a replay binds the same position of the
 * current `roots`. A bound object that is none of these makes the block
 * not replayable (it is generated every time, as without a replay).
 */
export interface JitReplay {
  /** Everything besides the instructions the emitted code depends on (which clients, in which order). */
  readonly key: string;
  /** The objects the code may bind, in an order that is the same for the same key. */
  readonly roots: readonly unknown[];
  /** Compile-time counters the emitters advance (statistics): a replay advances them as the compile did. */
  readonly counters?: { read(): number[]; add(delta: readonly number[]): void };
}

/**
 * Two clients' instrumentations as one (the CPU takes one): each site gets
 * the first's code, then the second's. Their bindings must not collide
 * (each client prefixes its own).
 */
export function composeInstrumentation(a: JitInstrumentation, b: JitInstrumentation): JitInstrumentation {
  const both = <S>(fa: ((s: S) => string) | undefined, fb: ((s: S) => string) | undefined) =>
    fa || fb ? (s: S): string => `${fa?.call(a, s) ?? ''} ${fb?.call(b, s) ?? ''}` : undefined;
  return {
    get key() {
      return `${a.key}\n${b.key}`;
    },
    bindings: { ...a.bindings, ...b.bindings },
    read: both(a.read, b.read),
    write: both(a.write, b.write),
    stackPointer: both(a.stackPointer, b.stackPointer),
    compare: both(a.compare, b.compare),
    executor: both(a.executor, b.executor),
    instruction: both(a.instruction, b.instruction),
    interpreted: a.interpreted || b.interpreted
      ? (cpu, ins) => {
        a.interpreted?.(cpu, ins);
        b.interpreted?.(cpu, ins);
      }
      : undefined,
    compiles: a.compiles || b.compiles ? (instrs) => (a.compiles?.(instrs) ?? true) && (b.compiles?.(instrs) ?? true) : undefined,
    // No replay: composed clients' code is generated for every block.
  };
}
