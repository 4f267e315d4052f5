/**
 * The precise checkers compiled into the blocks: the kernel's one
 * instrumentation of the block compiler (src/cpu/jit/instrumentation.ts)
 * shared by the heap's InlineChecker
 * (./inline.ts) and the precise stack oracle (./stack-precise.ts), as a
 * Valgrind tool instruments the IR instead of single-stepping the program.
 *
 * - **Decided at compile time**: at the start of each instruction of a
 *   block (the compiler's `instruction` site) the checks are emitted only
 *   for instructions that make a memory access (decoded with
 *   `decodeAccesses` against a register file where every count is
 *   non-zero) or that a client wants for another reason (the stack oracle:
 *   instructions that may move ESP, `mayWriteEsp`). Every other
 *   instruction runs as in plain mode. The access of the commonest forms
 *   is planned at compile time (./instrument-plan.ts) and tested inline;
 *   the rest get a call that decodes them at run time. Interpreted code
 *   (blocks not compiled yet, TF) comes through `interpreted`.
 * - **Registers read only for a finding**: the accesses are computed from
 *   the live register file (no copy); the context an error record needs
 *   (registers, EFLAGS, selectors) is taken from the CPU only when an
 *   error is saved (`CheckedInstruction.fill`, called by ShadowRules.error).
 * - **One test for untracked pages**: each shadow keeps a tracked byte per
 *   virtual page (Shadow.tracked); the rules look at nothing else for an
 *   access to an untracked page.
 * - **Liveness where ESP changes**: where compiled code moves ESP itself
 *   (the block compiler's `stackPointer` site: PUSH, POP, CALL, RET, LEAVE,
 *   ADD/SUB/LEA/MOV to ESP) the stack oracle's liveness update is emitted
 *   right there (`espMovedCode`: no call); an instruction left to its
 *   executor that may move ESP makes the next checked instruction test ESP
 *   again, as does the start of each block; the oracle also sees ESP at each
 *   exception delivery (the CPU observer) and at the end of every run. ESP
 *   changes nowhere else, so bytes die exactly as when every instruction
 *   was observed.
 *
 * REP string instructions whose chunk of iterations touches a tracked page
 * run one iteration per execution (cpu.repChunk = 1, as with TF), so each
 * iteration is checked at its own addresses, as under kmemcheck where each
 * one faults; over untracked memory they run whole chunks (`limitRep`; the
 * CPU's run driver, src/cpu/run-driver.ts, whose client this is, lets them:
 * `wholeRepChunks`).
 * - **With a debugger** (src/gdb: another client of the same run driver,
 *   stepping one instruction at a time), each instruction is checked in
 *   `beforeStep`, ahead of the debugger's own look at it, so a finding can
 *   stop the guest before the instruction runs (`--gdb-on-finding`); the
 *   interpreter's hook then does not check it again.
 * Native kernel routines are not guest instructions: their accesses go
 * through the kernel API's accessor (./accessor.ts).
 */
import type { CPU, ExceptionEvent } from '../cpu/cpu.js';
import type { Instr } from '../cpu/instr.js';
import type { JitInstructionSite, JitInstrumentation, JitReplay, JitSite } from '../cpu/jit.js';
import { RunDriver, type RunClient } from '../cpu/run-driver.js';
import type { Kernel } from '../kernel/kernel.js';
import { HiddenFault, PageHidingService } from '../kernel/page-hiding.js';
import { ACCESS_READ, ACCESS_WRITE, AccessList, decodeAccesses, type AccessContext } from './access.js';
import { REP_NONE } from '../cpu/instr.js';
import { plannedAccesses } from './instrument-plan.js';
import { mayWriteEsp } from './esp-writers.js';
import { SHADOW_INITIALIZED, type Shadow } from './shadow.js';

/**
 * One instruction about to run, with its decoded accesses: a HiddenFault
 * (the shape the shadow rules take) whose `context` is filled from the CPU
 * only when an error is saved (`fill`).
 */
export class CheckedInstruction extends HiddenFault {
  cpu: CPU | null = null;
  /** Copy the CPU's registers into `context`: the instruction has not run yet, so they are its inputs. */
  fill(): void {
    if (this.cpu === null) return;
    this.context.fromCpu(this.cpu);
    this.context.eip = this.eip;
  }
}

/** A client of the compiled checks: a precise checker (its shadow rules are ShadowRules'). */
export interface CheckClient {
  /** Which client this is: its compiled code depends on nothing else besides the instruction (the key of replays). */
  readonly name: string;
  /** Its shadow: the tracked byte per page is what compiled code tests first. */
  readonly shadow: Shadow;
  /** Is it on, with something to check? (Otherwise it is not called.) */
  checking(): boolean;
  /** Compile time: does it want to see `ins` even when `ins` makes no memory access? */
  wantsInstruction(ins: Instr): boolean;
  /** Before a wanted instruction (a guest instruction, not a native routine): `f` holds it and all its accesses. */
  beforeInstruction(cpu: CPU, f: CheckedInstruction): void;
  /** The fast paths for one planned access on a tracked page (ShadowRules): false to take the full path. */
  fastRead(addr: number, n: number): boolean;
  fastWrite(addr: number, n: number): boolean;
  fastModify(addr: number, n: number): boolean;
  /**
   * A client that watches ESP (the stack oracle): ESP has this value now.
   * Called ahead of every wanted instruction and native routine and at the
   * end of every run when ESP differs from the last value it was told.
   */
  espMoved?(esp: number, eip?: number): void;
  /**
   * Compile time, for a client with espMoved: espMoved(esp, eip) as code, emitted where
   * the generated code itself moves ESP (`esp`: an int32 expression holding the new value).
   * Without it the code calls espMoved.
   */
  espMovedCode?(bind: (v: unknown) => string, esp: string, eip: number): string;
  /** An exception or interrupt was delivered (from the CPU's observer): the frame the hardware pushed. */
  onException?(ev: ExceptionEvent): void;
}

export interface CheckStats {
  /** Instructions whose accesses were decoded at run time (the full path). */
  checked: number;
  /** Blocks' instructions the compiler asked about, and how many got the call. */
  asked: number;
  instrumented: number;
  /** Of those, the ones whose access was planned at compile time (emitted inline). */
  planned: number;
}

const instrumentations = new WeakMap<Kernel, CheckInstrumentation>();

/** A register file where every count register is non-zero, for the compile-time question "does it access memory?". */
const STATIC_CONTEXT: AccessContext = { regs: new Int32Array(8).fill(1), segBase: new Int32Array(6) };
const staticAccesses = new AccessList();

/** Does `ins` make a memory access (whatever its registers hold)? Conservative when the decoder cannot say. */
export function accessesMemory(ins: Instr): boolean {
  if (ins.def === null || ins.native !== null) return false;
  if (ins.mem || ins.def.string) return true;
  try {
    decodeAccesses(ins, STATIC_CONTEXT, staticAccesses);
    return staticAccesses.count > 0;
  } catch {
    return true;
  }
}

/** Four initialized shadow bytes as one dword. */
const INITIALIZED_DWORD = SHADOW_INITIALIZED * 0x01010101;

/**
 * The check of one planned access at `a` for one client, as code: the
 * tracked entry of its first page first (an access to an untracked page
 * that does not run onto the next costs that one test); an aligned dword
 * (in the shadow's dword view) or a byte is read or written inline (the
 * common case: a read of initialized bytes passes, a write initializes
 * them); anything else on a tracked page — unaligned, a word, reaching a
 * tracked next page — goes to the client's fast path
 * (ShadowRules.fastRead/fastWrite/fastModify), and to `slow` (the full
 * path) when that declines. Inline, the rules are the fast paths' own: on,
 * and for writes no --kmemcheck-writes (nor checkReadModifyWrite for a
 * read-modify-write).
 */
function accessCheck(kind: number, size: number, t: string, w: string, b: string, c: string, slow: string): string {
  const fast = kind === ACCESS_READ ? 'fastRead' : kind === ACCESS_WRITE ? 'fastWrite' : 'fastModify';
  const call = `if (!${c}.${fast}(a, ${size})) ${slow}`;
  // The access runs onto the next page, and that page is tracked.
  const next = size === 1 ? '' : `((a & 4095) > ${4096 - size} && ${t}[(a + ${size - 1}) >>> 12] !== 0)`;
  if (size === 2) return `if (${t}[a >>> 12] !== 0 || ${next}) { ${call} }`;
  // A dword in the dword view when aligned; a byte in the byte view.
  const word = size === 4 ? `${w}[s][(a & 4095) >> 2]` : `${b}[s][a & 4095]`;
  const init = size === 4 ? INITIALIZED_DWORD : SHADOW_INITIALIZED;
  const inline = kind === ACCESS_READ
    ? `if (${c}.on && ${word} === ${init}) ${c}.stats.reads++; else ${call}`
    : `if (${c}.on && !${c}.checkWrites${kind === ACCESS_WRITE ? '' : ` && !${c}.checkReadModifyWrite`}) { ${word} = ${init}; ${c}.stats.writes++; } else ${call}`;
  if (size === 1) return `{ const s = ${t}[a >>> 12]; if (s !== 0) { ${inline} } }`;
  return `{ const s = ${t}[a >>> 12]; if (s !== 0 && (a & 3) === 0) { ${inline} } else if (s !== 0 || ${next}) { ${call} } }`;
}

export class CheckInstrumentation implements JitInstrumentation, RunClient {
  /** The code emitted depends on the clients' shapes only through the emitted text itself. */
  readonly key = 'kmemsim-precise-checks';
  /** REP string instructions run whole chunks over untracked memory (limitRep makes the others one iteration). */
  readonly wholeRepChunks = true;
  readonly clients: CheckClient[] = [];
  readonly stats: CheckStats = { checked: 0, asked: 0, instrumented: 0, planned: 0 };
  /** The clients that watch ESP. */
  private espClients: CheckClient[] = [];
  /** The ESP they were last told of; 0.5 (never an int32) when they must be told again. */
  esp = 0.5;
  /**
   * Compile time, at the site being compiled: is ESP what the ESP clients were told, on every path
   * from the start of its block? (Then the instruction needs no test of ESP.) And the index of the
   * last instruction site compiled.
   */
  private espTold = false;
  private lastIndex = -2;
  /**
   * A page-hiding service that is never installed and hides nothing: used
   * only for its page-table peeks (what ErrorQueue.save() reads the memory
   * dump and the stack with, and the dead-load rule the code bytes).
   */
  readonly peeker: PageHidingService;
  private readonly fault = new CheckedInstruction();
  /** The live register file the accesses are decoded against (no copy). */
  private readonly live: AccessContext;
  private installed = false;
  /** The instruction checked ahead by beforeStep (icount and EIP), which the interpreter's hook then skips; -1: none. */
  private aheadAt = -1;
  private aheadEip = 0;

  constructor(readonly kernel: Kernel) {
    this.peeker = new PageHidingService(kernel);
    const cpu = kernel.cpu;
    this.live = { regs: cpu.regs, segBase: cpu.segBase };
    this.fault.cpu = cpu;
  }

  /** The kernel's instrumentation (created on first use; installed only while it has clients). */
  static of(kernel: Kernel): CheckInstrumentation {
    let s = instrumentations.get(kernel);
    if (!s) instrumentations.set(kernel, (s = new CheckInstrumentation(kernel)));
    return s;
  }

  get attached(): boolean {
    return this.installed;
  }

  /** Add a client (installing the instrumentation if it is the first). */
  add(c: CheckClient): void {
    if (!this.clients.includes(c)) this.clients.push(c);
    this.clientsChanged();
    if (this.installed) this.kernel.cpu.flushCode(); // compiled for the clients before
    else this.install();
  }

  /** Remove a client (the CPU runs uninstrumented again after the last). */
  remove(c: CheckClient): void {
    const i = this.clients.indexOf(c);
    if (i >= 0) this.clients.splice(i, 1);
    this.clientsChanged();
    if (this.clients.length === 0) this.uninstall();
    else this.kernel.cpu.flushCode(); // what the others want may differ
  }

  has(c: CheckClient): boolean {
    return this.clients.includes(c);
  }

  private clientsChanged(): void {
    this.espClients = this.clients.filter((c) => c.espMoved !== undefined);
    this.esp = 0.5;
    this.replaying = null;
  }

  private replaying: JitReplay | null = null;
  /**
   * The block compiler's replays (JitReplay): the code depends on the
   * clients (by name, in order) and binds this, the segment bases and each
   * client with its shadow's arrays; the compile-time counters are stats'.
   */
  replay(): JitReplay {
    if (this.replaying !== null) return this.replaying;
    const stats = this.stats;
    this.replaying = {
      key: `${this.key}:${this.clients.map((c) => c.name).join(',')}`,
      roots: [this, this.kernel.cpu.segBase, ...this.clients.flatMap((c) => [c, c.shadow.tracked, c.shadow.words, c.shadow.bytes])],
      counters: {
        read: () => [stats.asked, stats.instrumented, stats.planned],
        add: (d) => {
          stats.asked += d[0]!;
          stats.instrumented += d[1]!;
          stats.planned += d[2]!;
        },
      },
    };
    return this.replaying;
  }

  // ---- ESP --------------------------------------------------------------------------

  /** Tell the clients that watch ESP its value, when it moved since they were last told. */
  sawEsp(esp: number, eip = 0): void {
    if (esp === this.esp) return;
    this.esp = esp;
    const cs = this.espClients;
    for (let i = 0; i < cs.length; i++) cs[i]!.espMoved!(esp, eip);
  }

  /** A client learnt of ESP on its own (an exception frame, a host push): tell them all again next time. */
  forgetEsp(): void {
    this.esp = 0.5;
  }

  // ---- the block compiler's instrumentation ------------------------------------------

  /** Compile time: does `ins` get the checks? */
  wants(ins: Instr): boolean {
    this.stats.asked++;
    if (ins.def === null || ins.native !== null) return false;
    let want = accessesMemory(ins);
    for (let i = 0; !want && i < this.clients.length; i++) want = this.clients[i]!.wantsInstruction(ins);
    if (want) this.stats.instrumented++;
    return want;
  }

  /** The interpreter's hook: the checks of one instruction (or native routine) about to run. */
  interpreted(cpu: CPU, ins: Instr): void {
    if (ins.def === null && ins.native === null) return;
    if (this.aheadAt === cpu.icount && this.aheadEip === cpu.eip) {
      this.aheadAt = -1; // checked by beforeStep already
      return;
    }
    this.sawEsp(cpu.regs[4]!, (cpu.segBase[1]! + cpu.eip) | 0);
    // A native routine: its accesses go through the accessor; only ESP (as the CALL left it) matters.
    if (ins.native !== null) return;
    this.full(cpu, ins, cpu.eip, -1);
  }

  /** From compiled code: an instruction whose accesses are decoded at run time (ESP told first). */
  before(cpu: CPU, ins: Instr): void {
    this.sawEsp(cpu.regs[4]!, ins.addr | 0);
    this.full(cpu, ins, ins.addr, -1);
  }

  /**
   * The full path: the accesses of `ins` decoded against the live registers
   * and applied by every checking client (or only client `only`).
   */
  full(cpu: CPU, ins: Instr, eip: number, only: number): void {
    const f = this.fault;
    f.ins = ins;
    f.eip = eip;
    f.cr2 = 0;
    f.errorCode = 0;
    try {
      decodeAccesses(ins, this.live, f.accesses);
    } catch {
      f.accesses.clear();
    }
    this.stats.checked++;
    if (ins.rep !== REP_NONE && ins.def !== null && ins.def.string) this.limitRep(cpu, ins, f.accesses);
    const clients = this.clients;
    for (let i = 0; i < clients.length; i++) {
      const c = clients[i]!;
      if ((only < 0 || only === i) && c.checking()) c.beforeInstruction(cpu, f);
    }
  }

  /**
   * A REP string instruction about to run up to cpu.repChunk iterations
   * (the instrumentation takes whole chunks: `wholeRepChunks`): when the
   * memory those iterations reach (from this iteration's accesses `a`,
   * ESI/EDI stepping by the element size, down with DF) touches a page a
   * checking client tracks, the chunk is one iteration, so each iteration
   * is checked at its own addresses as under kmemcheck, where each one
   * faults. A chunk over untracked pages only runs whole, as in plain mode
   * (and retires as many instructions as there). 16-bit addresses (which
   * wrap at 64 KiB) always run one iteration at a time.
   */
  private limitRep(cpu: CPU, ins: Instr, a: AccessList): void {
    if (cpu.repChunk <= 1 || a.count === 0) return;
    const count = ins.asize === 4 ? cpu.regs[1]! >>> 0 : cpu.regs[1]! & 0xffff;
    const n = Math.min(count, cpu.repChunk);
    if (n <= 1) return;
    if (ins.asize !== 4) {
      cpu.repChunk = 1;
      return;
    }
    const down = cpu.df;
    for (let i = 0; i < a.count; i++) {
      const size = a.size[i]!;
      const span = (n - 1) * size;
      const lo = down ? a.addr[i]! - span : a.addr[i]!;
      if (this.tracksAny(lo >>> 0, span + size)) {
        cpu.repChunk = 1;
        return;
      }
    }
  }

  /** Does a checking client track a page of [lo, lo + n) (unsigned; one that wraps round 4 GiB counts as tracked)? */
  private tracksAny(lo: number, n: number): boolean {
    if (lo + n > 2 ** 32) return true;
    const first = lo >>> 12, last = (lo + n - 1) >>> 12;
    const clients = this.clients;
    for (let c = 0; c < clients.length; c++) {
      if (!clients[c]!.checking()) continue;
      const t = clients[c]!.shadow.tracked;
      for (let p = first; p <= last; p++) if (t[p] !== 0) return true;
    }
    return false;
  }

  /**
   * Compile time: the checks of an instruction as code, at the start of it
   * (empty when it does not get them). An access planned at compile time
   * (./instrument-plan.ts) is tested against each client's tracked byte
   * inline and handed to its fast path; the full path runs for that client
   * only when the fast path declines. Other instructions get a call to
   * `before`. The lazy flags are written back on the paths that may save
   * an error (a report holds EFLAGS) and `site.sync` makes cpu.regs exact there (registers live in locals in compiled code).
   */
  instruction(site: JitInstructionSite): string {
    const ins = site.ins;
    // A block of the region starts (sites come in order within a block): it may be entered with any ESP.
    if (site.index !== this.lastIndex + 1) this.espTold = false;
    this.lastIndex = site.index;
    if (!this.wants(ins)) return '';
    const ih = site.bind(this);
    const self = site.bind(ins);
    const told = this.espTold;
    // After this instruction the clients know ESP unless it may move it (its stackPointer sites say so again).
    this.espTold = !mayWriteEsp(ins);
    const plan = plannedAccesses(ins, site.bind(this.kernel.cpu.segBase), (n) => site.reg(n), true);
    if (plan === null || plan.length > 1) return `${site.sync} ${ih}.before(cpu, ${self});`;
    this.stats.planned++;
    let code = this.espClients.length > 0 && !told ? `if (${site.reg(4)} !== ${ih}.esp) ${ih}.sawEsp(${site.reg(4)}, ${ins.addr | 0}); ` : '';
    if (plan.length === 0) return code;
    const { addr, size, kind } = plan[0]!;
    code += `{ const a = ${addr};`;
    this.clients.forEach((c, i) => {
      const slow = `{ ${site.sync} ${ih}.full(cpu, ${self}, ${ins.addr | 0}, ${i}); }`;
      code += ' ' + accessCheck(kind, size, site.bind(c.shadow.tracked), site.bind(c.shadow.words), site.bind(c.shadow.bytes), site.bind(c), slow);
    });
    return code + ' }';
  }

  /**
   * Compile time: code after the generated code moved ESP (a PUSH, POP,
   * CALL, RET, LEAVE, or an ALU/MOV/LEA writing ESP, compiled inline; the
   * move is architecturally done there). The clients that watch ESP learn
   * it at once, inline (espMovedCode: the stack oracle's liveness update
   * without a call), instead of at the next checked instruction; a frame
   * grown here is attributed to the instruction after the one that moved
   * ESP (for a CALL, the first of the callee), which is what the next
   * checked instruction would usually have said. Instructions left to their
   * executors have no such site: ESP is then told at the next checked
   * instruction, as before.
   */
  stackPointer(site: JitSite): string {
    if (this.espClients.length === 0) return '';
    this.espTold = true;
    const ih = site.bind(this);
    const esp = site.reg(4);
    const ins = site.ins;
    const eip = ins.op === 0xe8 ? ins.imm | 0 : ins.next | 0;
    const bind = (v: unknown): string => site.bind(v);
    let code = `if (${esp} !== ${ih}.esp) { ${ih}.esp = ${esp};`;
    for (const c of this.espClients) code += ' ' + (c.espMovedCode ? c.espMovedCode(bind, esp, eip) : `${site.bind(c)}.espMoved(${esp}, ${eip});`);
    return code + ' }';
  }

  // ---- the run driver's client ----------------------------------------------------

  /** The checks never need the run one step at a time (compiled code carries them). */
  stepping(): boolean {
    return false;
  }

  /**
   * A stepping client (a debugger) runs the machine one step at a time:
   * check the instruction about to run now, before that client looks at it.
   */
  beforeStep(cpu: CPU): void {
    this.aheadAt = -1;
    const lin = (cpu.segBase[1]! + cpu.eip) | 0;
    if (cpu.nativeAt(lin)) {
      this.sawEsp(cpu.regs[4]!, lin);
      return;
    }
    const ins = this.peeker.decodeAt(lin);
    if (ins.def === null) return; // not decodable here (unmapped, invalid): the interpreter's hook sees the fault
    this.sawEsp(cpu.regs[4]!, lin);
    this.full(cpu, ins, cpu.eip, -1);
    this.aheadAt = cpu.icount;
    this.aheadEip = cpu.eip;
  }

  onException(ev: ExceptionEvent): void {
    const cs = this.clients;
    for (let i = 0; i < cs.length; i++) cs[i]!.onException?.(ev);
  }

  /** ESP as the run left it (the last instruction may have moved it). */
  runEnded(cpu: CPU): void {
    this.sawEsp(cpu.regs[4]!);
  }

  // ---- installing -----------------------------------------------------------------

  private install(): void {
    if (this.installed) return;
    this.installed = true;
    RunDriver.of(this.kernel.cpu).add(this);
    this.kernel.cpu.setJitInstrumentation(this);
  }

  private uninstall(): void {
    if (!this.installed) return;
    const cpu = this.kernel.cpu;
    cpu.setJitInstrumentation(null);
    RunDriver.of(cpu).remove(this);
    this.installed = false;
  }
}
