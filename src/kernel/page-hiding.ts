/**
 * The page-hiding service: the one mechanism behind kmemcheck, the CPL-1
 * stack tracker, the watch framework and MMIO tracing (DESIGN.md), the way
 * Linux's kmemcheck and kmmio shared the same trick.
 *
 * A client hides a page it owns: the PTE's P bit is cleared, the software
 * bit PTE_HIDDEN set (the frame bits keep the mapping) and the TLB entry
 * invalidated, so the next supervisor access to the page raises #PF. The
 * kernel's #PF handler asks this service first. When the fault is on a
 * hidden page the service
 *
 *   1. decodes the faulting instruction and, through the access decoder a
 *      client installed (src/shadow/access.ts), every memory access it is
 *      about to make (up to four addresses, each possibly straddling two
 *      pages);
 *   2. calls the owner of every hidden page involved, once, with the EIP,
 *      CR2, error code, decoded instruction and accesses (kmemcheck's
 *      kmemcheck_fault() → kmemcheck_access());
 *   3. shows every hidden page the instruction touches, sets TF and clears
 *      IF in the EFLAGS image of the trap frame, remembering the old TF and
 *      IF (kmemcheck_show()), and IRETs: the instruction runs again, now
 *      without faulting, and only it;
 *
 * and the #DB handler, on the single-step trap (DR6.BS) that follows it,
 * hides the pages again and restores TF and IF in the frame
 * (kmemcheck_hide() from kmemcheck_trap()), then IRETs.
 *
 * Faults that are not ours (user faults, protection faults, faults on pages
 * nobody hid) and #DB traps that are not our single step go to the handler
 * that was installed before (chained). An access the decoder did not
 * predict faults once more during the step: the service shows that page
 * too (counted in `stats.extraFaults`), so the protocol is correct for any
 * instruction, only slower.
 *
 * Everything here runs in trap handlers, never on the CPU's fast path.
 */
import type { CPU } from '../cpu/cpu.js';
import { decodeInstr, type ByteSource } from '../cpu/decoder.js';
import { DF, IF, TF } from '../cpu/flags.js';
import { Instr, SS } from '../cpu/instr.js';
import { parseDescriptorInto, scratchDescriptor } from '../cpu/segments.js';
import { Vec } from '../cpu/stop.js';
import type { Kernel, TrapFrame, TrapHandler } from './kernel.js';
import { PTE_HIDDEN, PTE_P, type AddressSpace } from './paging.js';

// ---------------------------------------------------------------------------
// Accesses of one instruction
// ---------------------------------------------------------------------------

/** Access kinds (bit set): a read, a write, both (read-modify-write), or an address translation without data (ENTER's probe of the new ESP). */
export const ACCESS_READ = 1, ACCESS_WRITE = 2, ACCESS_RMW = 3, ACCESS_PROBE = 4;

/**
 * The memory accesses of one instruction (one iteration of a REP string
 * instruction): linear address, size in bytes and kind. Preallocated and
 * reused: filling it allocates nothing.
 */
export class AccessList {
  static readonly CAPACITY = 8;
  count = 0;
  readonly addr = new Int32Array(AccessList.CAPACITY);
  readonly size = new Int32Array(AccessList.CAPACITY);
  readonly kind = new Uint8Array(AccessList.CAPACITY);
  /** For a write that copies memory to memory (MOVS, PUSH m, POP m): the index of the read it copies; else -1. */
  readonly copyOf = new Int8Array(AccessList.CAPACITY);

  clear(): void {
    this.count = 0;
  }
  /** Append an access; returns its index. Zero-sized accesses are dropped (-1). */
  add(addr: number, size: number, kind: number, copyOf = -1): number {
    if (size <= 0) return -1;
    const i = this.count;
    if (i >= AccessList.CAPACITY) throw new RangeError('more than 8 memory accesses for one instruction');
    this.addr[i] = addr | 0;
    this.size[i] = size;
    this.kind[i] = kind;
    this.copyOf[i] = copyOf;
    this.count = i + 1;
    return i;
  }
  /** The index of an access whose bytes include `lin`, or -1. */
  find(lin: number): number {
    for (let i = 0; i < this.count; i++) {
      if ((((lin - this.addr[i]) | 0) >>> 0) < this.size[i]) return i;
    }
    return -1;
  }
}

/**
 * The register state of the interrupted code as the access decoder needs
 * it: general registers (ESP as it was before the exception, not the
 * handler's), segment bases (SS of the interrupted code), EFLAGS (DF), CPL.
 */
export class InterruptedContext {
  readonly regs = new Int32Array(8);
  readonly segBase = new Int32Array(6);
  eflags = 0;
  eip = 0;
  cs = 0;
  ss = 0;
  cpl = 0;

  get df(): boolean {
    return (this.eflags & DF) !== 0;
  }

  /** The CPU's current state as the context (tests, and decoding outside a trap). */
  fromCpu(cpu: CPU): this {
    this.regs.set(cpu.regs);
    this.segBase.set(cpu.segBase);
    this.eflags = cpu.getEflags();
    this.eip = cpu.eip;
    this.cs = cpu.segSel[1];
    this.ss = cpu.segSel[SS];
    this.cpl = cpu.cpl;
    return this;
  }
}

/**
 * What the access decoder reads: the general registers and segment bases the instruction runs
 * with — an InterruptedContext, or the CPU's own arrays (the #PF handler's, with the interrupted ESP
 * put in; the compiled checkers of src/shadow/instrument.ts).
 */
export interface AccessContext {
  readonly regs: Int32Array;
  readonly segBase: Int32Array;
}

/** Fills `out` with the accesses `ins` makes in context `ctx` (src/shadow/access.ts implements it). */
export type AccessDecoder = (ins: Instr, ctx: AccessContext, out: AccessList) => void;

/**
 * Learns an access from the single step itself instead of the decoder (`--access-size debugreg`,
 * src/watch/debugreg.ts): `arm` at the #PF (false: decode this one), `learn` at the #DB — fill
 * `fault.accesses` and return true, or undo the step, arm another pass and return false (the
 * instruction runs again). The clients are then called at the #DB, after the access (`fault.late`).
 */
export interface AccessProbe {
  arm(fault: HiddenFault, svc: PageHidingService): boolean;
  learn(fault: HiddenFault, svc: PageHidingService, dr6: number): boolean;
}

/** Completes a faulting instruction in the #PF handler instead of single-stepping it (`--access-size emulate`, src/watch/emulate.ts). */
export interface FaultCompleter {
  /** Before the clients: can the instruction be completed here? */
  plan(fault: HiddenFault, svc: PageHidingService): boolean;
  /** After them: do it (one iteration of a REP string instruction), set the frame's EIP, fill `fault.after`. */
  complete(fault: HiddenFault, svc: PageHidingService): void;
  /** Another iteration to do: `fault.context` and `fault.accesses` become its; false when done. */
  next(fault: HiddenFault, svc: PageHidingService): boolean;
}

// ---------------------------------------------------------------------------
// Clients
// ---------------------------------------------------------------------------

/** What a client is told about a fault on one of its hidden pages. One object, reused. */
export class HiddenFault {
  /** Faulting instruction's EIP, CR2 and the #PF error code. */
  eip = 0;
  cr2 = 0;
  errorCode = 0;
  /** The decoded instruction (def === null when it could not be decoded). */
  ins: Instr = new Instr();
  /**
   * The interrupted context of the #PF. Copied from the CPU and the frame on first read, which must
   * come while the #PF handler runs (onFault, the completer): most faults are handled without it.
   */
  get context(): InterruptedContext {
    const k = this.contextKernel;
    if (k !== null) {
      this.contextKernel = null;
      fillContext(k, this.interrupted, this.frame!);
    }
    return this.interrupted;
  }
  private readonly interrupted = new InterruptedContext();
  /** The kernel whose #PF handler is running while `context` is not copied yet; null once it is (or outside a #PF). */
  contextKernel: Kernel | null = null;
  /**
   * The interrupted context after the single step (from the #DB frame):
   * valid in onStepDone() only. The CPL-1 stack tracker reads ESP here.
   */
  readonly after = new InterruptedContext();
  /** Its memory accesses, as the installed decoder computed them (empty without a decoder). */
  readonly accesses = new AccessList();
  /** The trap frame: the #PF's in onFault(), the #DB's in onStepDone() (the kernel reuses it once the handler returned). */
  frame: TrapFrame | null = null;
  /**
   * A further fault of the instruction already being single-stepped: an
   * access the decoder did not predict (CR2 names it). The client should
   * handle the access at CR2 only.
   */
  repeat = false;
  /**
   * Set by a client in onFault when it has rewritten the trap frame to run
   * something before the access (the watch framework's guest pre-hook):
   * the clients after it are not called, no page is shown and TF is not
   * set; the instruction faults again when it is resumed. Reset per fault.
   */
  deferred = false;
  /** The clients are told after the access ran (the debugreg strategy learns it from the step): no deferral then. */
  late = false;
}

export interface PageHidingClient {
  readonly name: string;
  /** A supervisor access to a page this client hid; the service shows the pages and single-steps afterwards. */
  onFault(f: HiddenFault): void;
  /** The single step is over (#DB), just before the pages are hidden again. */
  onStepDone?(f: HiddenFault): void;
  /**
   * When several clients hide the same page (a watched buffer on a page
   * kmemcheck tracks), they are called in increasing `order` (default 0),
   * then in registration order: the watch framework (-10) sees an access
   * before kmemcheck and the stack tracker check it.
   */
  readonly order?: number;
  /** Must see an access before it runs (MMIO supplies the value a read loads): the debugreg strategy decodes its pages' accesses. */
  readonly early?: boolean;
}

export interface PageHidingStats {
  /** #PF on hidden pages handled. */
  faults: number;
  /** Single steps completed (#DB handled). */
  steps: number;
  /** Faults during a step on a page the decoder did not predict. */
  extraFaults: number;
  /** A hidden-page fault at another EIP while a step was pending (Linux's kmemcheck_error_save_bug case). */
  unbalanced: number;
  /** Faulting instructions completed by the FaultCompleter (no single step). */
  emulated: number;
}

const BS = 0x4000;
const MAX_REVEALED = 64;
/** A collected page's PTE address not looked up yet (pteAddress gives -1 for none). */
const PTE_UNKNOWN = -2;

/** The trap handler installed before ours for a vector. */
function installedHandler(k: Kernel, vector: number): TrapHandler | undefined {
  return k.getTrapHandler(vector);
}

/** Instruction bytes through the page tables, hidden pages included (no faults, no TLB fills). */
class PeekSource implements ByteSource {
  svc!: PageHidingService;
  fetch(addr: number): number {
    return this.svc.peek8(addr);
  }
}

/**
 * The clients told of the current step: at most a few (kmemcheck, the stack tracker, the watch
 * framework), kept in a reused array with a count (emptying it per fault allocates nothing).
 */
class ClientList {
  private readonly items: PageHidingClient[] = [];
  private count = 0;
  includes(c: PageHidingClient): boolean {
    for (let i = 0; i < this.count; i++) if (this.items[i] === c) return true;
    return false;
  }
  /** Add `c` unless it is there already. */
  add(c: PageHidingClient): void {
    if (this.includes(c)) return;
    if (this.count < this.items.length) this.items[this.count] = c;
    else this.items.push(c);
    this.count++;
  }
  clear(): void {
    this.count = 0;
  }
  /** Does any of them have an onStepDone (which reads HiddenFault.after)? */
  wantsStepDone(): boolean {
    for (let i = 0; i < this.count; i++) if (this.items[i]!.onStepDone !== undefined) return true;
    return false;
  }
  /** onStepDone of each, in the order they were told of the fault. */
  stepDone(f: HiddenFault): void {
    for (let i = 0; i < this.count; i++) this.items[i]!.onStepDone?.(f);
  }
}

const services = new WeakMap<Kernel, PageHidingService>();

export class PageHidingService {
  readonly stats: PageHidingStats = { faults: 0, steps: 0, extraFaults: 0, unbalanced: 0, emulated: 0 };
  private completer: FaultCompleter | null = null;
  private probe: AccessProbe | null = null;
  /** The pending step is a probe's: the clients are called at its #DB. */
  private probing = false;
  private stepCr2 = 0;
  private readonly cpu: CPU;
  /** The first owner of every hidden page (the hot path's one lookup)... */
  private readonly owners = new Map<number, PageHidingClient>();
  /** ...and its other owners, for the few pages more than one client hides. */
  private readonly sharers = new Map<number, PageHidingClient[]>();
  /**
   * The address space of each hidden page of a process (a user buffer the watch framework watches):
   * its PTE is that page table's, and its faults are ours only while that address space is current —
   * user-mode accesses included. Other pages are the kernel's (kernel.as, shared by every process).
   */
  private readonly spaces = new Map<number, AddressSpace>();
  private readonly clients: PageHidingClient[] = [];
  private readonly suspended = new Set<PageHidingClient>();
  /** A client with an `order` registered: notify through notifyShared(). */
  private ordered = false;
  private decoder: AccessDecoder | null = null;
  private installed = false;
  private prevPF: TrapHandler | undefined;
  private prevDB: TrapHandler | undefined;

  // ---- the pending single step (kmemcheck_context) ----
  private stepping = false;
  private savedFlags = 0;
  private stepEip = 0;
  private readonly revealed = new Int32Array(MAX_REVEALED);
  /** The physical address of each revealed page's PTE: concealRevealed writes there while nothing changed (see `version`). */
  private readonly revealedPte = new Int32Array(MAX_REVEALED);
  private revealedCount = 0;
  /** The clients told of the current step (at most a few: kmemcheck, the stack tracker, the watch framework). */
  private readonly notified = new ClientList();
  private readonly fault = new HiddenFault();
  /** Pages of the current fault (scratch). */
  private readonly pages = new Int32Array(2 * AccessList.CAPACITY + 4);
  private pageCount = 0;
  /**
   * Bumped whenever a page's owners or a client's suspension change: `pageOwner` (the first owner of
   * each of `pages`, looked up once by collectPages) holds while `collectedVersion` equals it, and the
   * pages shown by reveal are still owned while `revealedVersion` does — so the hot path looks each
   * page up once, not once per pass over the pages.
   */
  private version = 0;
  private readonly pageOwner: (PageHidingClient | undefined)[] = [];
  /**
   * The page each `pageOwner` entry was looked up for, at version `ownersVersion`: a fault whose pages
   * are the last one's (a loop over one object) looks nothing up again.
   */
  private readonly ownerPage = new Int32Array(2 * AccessList.CAPACITY + 4).fill(-1);
  private ownersVersion = -1;
  /** The physical address of each such page's PTE once reveal needed it (PTE_UNKNOWN before): kept as `pageOwner` is. */
  private readonly pagePte = new Int32Array(2 * AccessList.CAPACITY + 4);
  private collectedVersion = -1;
  private revealedVersion = -1;

  private readonly peekSource = new PeekSource();
  private readonly decoded = new Map<number, Instr>();

  constructor(readonly kernel: Kernel) {
    this.cpu = kernel.cpu;
    this.peekSource.svc = this;
  }

  /**
   * The kernel's page-hiding service, created and installed on first use:
   * every client on one kernel (kmemcheck, the CPL-1 stack tracker, ...)
   * registers with the same one, so one #PF/#DB path serves them all.
   */
  static of(kernel: Kernel): PageHidingService {
    let svc = services.get(kernel);
    if (svc === undefined) {
      svc = new PageHidingService(kernel);
      svc.install();
      services.set(kernel, svc);
    }
    return svc;
  }

  /** Has a client created the kernel's service (are there hidden pages to reach)? */
  static isInstalledOn(kernel: Kernel): boolean {
    return services.has(kernel);
  }

  /**
   * Take over #PF and #DB, chaining to the handlers installed before.
   * Install after the kernel's own trap policy (installUserTraps); calling
   * it again re-reads the handlers to chain to.
   */
  install(): void {
    const k = this.kernel;
    const pf = installedHandler(k, Vec.PF);
    const db = installedHandler(k, Vec.DB);
    if (pf !== this.onPageFault) this.prevPF = pf;
    if (db !== this.onDebug) this.prevDB = db;
    k.setTrapHandler(Vec.PF, this.onPageFault);
    k.setTrapHandler(Vec.DB, this.onDebug);
    this.installed = true;
  }

  /**
   * Put `h` under the service for #PF or #DB: the service keeps seeing the
   * event first (its hidden pages and its single step come before anything
   * else) and chains to `h` where it chained before; returns the handler
   * `h` must chain to in turn. For kernel services that take #DB for their
   * own single steps (kprobes), whichever of the two is installed first.
   */
  chainBelow(vector: 1 | 14, h: TrapHandler): TrapHandler | undefined {
    if (vector === 14) {
      const prev = this.prevPF;
      this.prevPF = h;
      return prev;
    }
    const prev = this.prevDB;
    this.prevDB = h;
    return prev;
  }

  get isInstalled(): boolean {
    return this.installed;
  }

  register(client: PageHidingClient): void {
    if (!this.clients.includes(client)) this.clients.push(client);
    if (client.order !== undefined) this.ordered = true;
  }

  /** Forget a client: every page it hid is shown (unless another client hides it too). */
  unregister(client: PageHidingClient): void {
    for (const p of this.pagesOf(client)) this.showPage(p * 4096, client);
    const i = this.clients.indexOf(client);
    if (i >= 0) this.clients.splice(i, 1);
    this.suspended.delete(client);
    this.version++;
  }

  /** Learn accesses with `p` during the step instead of decoding them first (null: decode). */
  setAccessProbe(p: AccessProbe | null): void {
    this.probe = p;
  }

  /** Complete faulting instructions in the #PF handler when `c` can (null: always single-step). */
  setFaultCompleter(c: FaultCompleter | null): void {
    this.completer = c;
  }

  /** The decoder that says which pages an instruction touches (kmemcheck installs src/shadow/access.ts). */
  setAccessDecoder(d: AccessDecoder | null): void {
    this.decoder = d;
  }

  // ---- hiding and showing --------------------------------------------------

  /**
   * Hide the 4 KiB page holding `virt` for `owner` (kmemcheck_hide_pages()):
   * P cleared, PTE_HIDDEN set, INVLPG. A 4 MiB direct-map page is split
   * first, keeping the mapping identical. Hiding a page again for the same
   * owner does nothing; a page another client hides gets a second owner
   * (both are called on its faults, see PageHidingClient.order).
   */
  hidePage(virt: number, owner: PageHidingClient, space?: AddressSpace): void {
    if (!this.clients.includes(owner)) throw new Error(`page-hiding client ${owner.name} is not registered`);
    const page = virt >>> 12;
    const cur = this.owners.get(page);
    if (cur === owner) return;
    if (space !== undefined && (cur !== undefined || (virt >>> 0) >= 0xc0000000)) {
      throw new Error(`cannot hide 0x${(page * 4096).toString(16)} in a process's address space: a kernel page, or hidden already`);
    }
    this.version++;
    if (cur !== undefined) {
      const list = this.sharers.get(page);
      if (list === undefined) this.sharers.set(page, [owner]);
      else if (!list.includes(owner)) list.push(owner);
      else return;
      // A page its first owner suspended is present: the new owner hides it.
      if (!this.suspended.has(owner) && !this.isRevealed(page)) this.setPresent(page, false);
      return;
    }
    const as = space ?? this.kernel.as;
    const pte = as.readPte(virt);
    if (pte < 0 || !(pte & PTE_P)) throw new Error(`cannot hide unmapped page 0x${(page * 4096).toString(16)}`);
    this.owners.set(page, owner);
    if (space !== undefined) this.spaces.set(page, space);
    // A suspended owner's pages stay present (and marked) until it resumes.
    as.writePte(virt, this.suspended.has(owner) ? pte | PTE_HIDDEN : (pte & ~PTE_P) | PTE_HIDDEN);
  }

  /**
   * Make the page present for good and forget its owner (kmemcheck_show_pages()).
   * With `owner`, only that owner lets it go: the page stays hidden while another client hides it too.
   */
  showPage(virt: number, owner?: PageHidingClient): void {
    const page = virt >>> 12;
    const cur = this.owners.get(page);
    if (cur === undefined) return;
    this.version++;
    const list = this.sharers.get(page);
    if (owner !== undefined && list !== undefined) {
      if (owner === cur) this.owners.set(page, list.shift()!);
      else if (list.includes(owner)) list.splice(list.indexOf(owner), 1);
      else return;
      if (list.length === 0) this.sharers.delete(page);
      // Present when every remaining owner is suspended.
      if (this.activeOwner(page) === undefined) this.setPresent(page, true);
      return;
    }
    if (owner !== undefined && owner !== cur) return;
    const as = this.spaceOf(page);
    this.owners.delete(page);
    this.sharers.delete(page);
    this.spaces.delete(page);
    const pte = as.readPte(virt);
    if (pte >= 0) as.writePte(virt, (pte | PTE_P) & ~PTE_HIDDEN);
  }

  /** The page is hidden by some client (whether or not it is shown for a single step right now). */
  isHidden(virt: number): boolean {
    return this.owners.has(virt >>> 12);
  }

  /** The page's first owner (see isHiddenBy for pages several clients hide). */
  ownerOf(virt: number): PageHidingClient | null {
    return this.owners.get(virt >>> 12) ?? null;
  }

  /** `owner` hides the page holding `virt` (alone or with other clients). */
  isHiddenBy(virt: number, owner: PageHidingClient): boolean {
    const page = virt >>> 12;
    return this.owners.get(page) === owner || (this.sharers.get(page)?.includes(owner) ?? false);
  }

  /** Page numbers (virt >>> 12) hidden by `owner`. */
  pagesOf(owner: PageHidingClient): number[] {
    const out: number[] = [];
    for (const [p, o] of this.owners) if (o === owner) out.push(p);
    for (const [p, list] of this.sharers) if (list.includes(owner)) out.push(p);
    return out;
  }

  /** An active owner of `page` must see its accesses before they run (PageHidingClient.early). */
  private wantsEarly(page: number): boolean {
    const o = this.owners.get(page);
    if (o !== undefined && !this.isSuspendedNow(o) && o.early) return true;
    const list = this.sharers.get(page);
    return list !== undefined && list.some((c) => !this.suspended.has(c) && c.early === true);
  }

  /** An owner of `page` that is not suspended (the first such), or undefined. */
  private activeOwner(page: number): PageHidingClient | undefined {
    const o = this.owners.get(page);
    if (o !== undefined && !this.isSuspendedNow(o)) return o;
    if (this.sharers.size === 0) return undefined;
    const list = this.sharers.get(page);
    if (list !== undefined) for (const s of list) if (!this.suspended.has(s)) return s;
    return undefined;
  }

  /** Stop faulting on `owner`'s pages (they become present, still owned): a checker switched off at run time. */
  suspend(owner: PageHidingClient): void {
    if (this.suspended.has(owner)) return;
    this.suspended.add(owner);
    this.version++;
    for (const p of this.pagesOf(owner)) if (this.activeOwner(p) === undefined) this.setPresent(p, true);
  }

  /** Hide `owner`'s pages again after suspend(). */
  resume(owner: PageHidingClient): void {
    if (!this.suspended.delete(owner)) return;
    this.version++;
    for (const p of this.pagesOf(owner)) if (!this.isRevealed(p)) this.setPresent(p, false);
  }

  isSuspended(owner: PageHidingClient): boolean {
    return this.suspended.has(owner);
  }

  /** isSuspended on the hot path: no set lookup while no client is suspended (the usual case). */
  private isSuspendedNow(owner: PageHidingClient): boolean {
    return this.suspended.size !== 0 && this.suspended.has(owner);
  }

  /** A single step is pending (pages shown, TF set in the frame). */
  get stepPending(): boolean {
    return this.stepping;
  }

  /**
   * Abandon a pending step (the stepped code will not resume, e.g. the
   * program was killed by another fault): hide the shown pages again.
   */
  abortStep(): void {
    this.probing = false;
    this.concealRevealed();
    this.stepping = false;
    this.notified.clear();
  }

  private isRevealed(page: number): boolean {
    for (let i = 0; i < this.revealedCount; i++) if (this.revealed[i] === page) return true;
    return false;
  }

  /** The page table a hidden page is in: its process's, or the kernel's. */
  private spaceOf(page: number): AddressSpace {
    return this.spaces.size === 0 ? this.kernel.as : this.spaces.get(page) ?? this.kernel.as;
  }

  /** The PTE of `lin` in the page table its hidden page is in (see spaceOf), or -1. */
  pteOf(lin: number): number {
    return this.spaceOf(lin >>> 12).readPte(lin);
  }

  /** Is the hidden page of a process (hidePage's `space`) not the current address space's? Then its faults are not ours. */
  private otherSpace(page: number): boolean {
    const as = this.spaces.get(page);
    return as === undefined || as.pgdir !== (this.cpu.cr3 & ~0xfff) >>> 0;
  }

  /** The PTE's P bit (kmemcheck_show_addr()/kmemcheck_hide_addr()) in its page table: one lookup, the store, INVLPG. */
  private setPresent(page: number, present: boolean): void {
    this.setPresentAt(page, this.pteAddressOf(page), present);
  }

  /** The physical address of the page's PTE in its page table, or -1. */
  private pteAddressOf(page: number): number {
    return this.spaceOf(page).pteAddress((page * 4096) | 0);
  }

  /** setPresent with the PTE's physical address `at` known (-1: none, nothing to do). */
  private setPresentAt(page: number, at: number, present: boolean): void {
    if (at < 0) return;
    // The CPU's physical accessors, as GuestMemory's readPhys32/writePhys32 (the hot path: no wrapper call).
    const cpu = this.cpu;
    const pte = cpu.mem.read32(at);
    const nv = present ? pte | PTE_P : pte & ~PTE_P;
    if (nv === pte) return;
    cpu.writePhys32(at, nv);
    cpu.invalidatePage((page * 4096) | 0);
  }

  // ---- host-side access to hidden pages ------------------------------------

  /**
   * Physical address of `lin` through the current page tables, treating
   * hidden pages as mapped; -1 when unmapped or outside RAM.
   */
  physOf(lin: number): number {
    const m = this.kernel.mem;
    const cpu = this.cpu;
    if (!(cpu.cr0 & 0x80000000)) return lin >>> 0;
    const pde = m.readPhys32(((cpu.cr3 & ~0xfff) + ((lin >>> 22) << 2)) >>> 0);
    if (!(pde & PTE_P)) return -1;
    let p: number;
    if (pde & 0x80 && cpu.cr4 & 0x10) p = ((pde & 0xffc00000) | (lin & 0x3fffff)) >>> 0;
    else {
      const pte = m.readPhys32(((pde & ~0xfff) + (((lin >>> 12) & 0x3ff) << 2)) >>> 0);
      if (!(pte & (PTE_P | PTE_HIDDEN))) return -1;
      p = ((pte & ~0xfff) | (lin & 0xfff)) >>> 0;
    }
    return p < cpu.mem.size ? p : -1;
  }

  /** One byte of guest memory, hidden pages included; -1 when unmapped. */
  peek8(lin: number): number {
    const p = this.physOf(lin | 0);
    if (p < 0) return -1;
    return (this.kernel.mem.readPhys32(p & ~3) >>> ((p & 3) * 8)) & 0xff;
  }

  /** peek32 as a function value (the stack walkers of ./dumpstack.ts take one; made once). */
  readonly peek32Fn = (lin: number): number | null => this.peek32(lin);

  /** A little-endian dword, hidden pages included; null when any byte is unmapped. */
  peek32(lin: number): number | null {
    if ((lin & 0xfff) <= 0xffc) {
      // Within one page (the stack walkers' reads): one translation.
      const p = this.physOf(lin | 0);
      if (p < 0) return null;
      if (p + 3 < this.cpu.mem.size) return this.cpu.mem.read32(p);
    }
    return this.peek32Bytes(lin);
  }

  /**
   * Up to `n` dwords from `lin` up into `out[o..)`, hidden pages included, stopping at the first one
   * that is not all mapped (readStackWords over peek32); returns how many. Aligned — every stack's
   * case — a page at a time after one translation.
   */
  peekWords(lin: number, out: Int32Array, o: number, n: number): number {
    let i = 0;
    if ((lin & 3) !== 0) {
      for (; i < n; i++) {
        const w = this.peek32((lin + 4 * i) | 0);
        if (w === null) break;
        out[o + i] = w;
      }
      return i;
    }
    const m = this.cpu.mem32;
    while (i < n) {
      const a = (lin + 4 * i) | 0;
      const phys = this.physOf((a & ~0xfff) | 0);
      if (phys < 0) break;
      let w = (phys | (a & 0xfff)) >>> 2;
      const end = Math.min(n, i + ((0x1000 - (a & 0xfff)) >>> 2));
      while (i < end) out[o + i++] = m[w++]!;
    }
    return i;
  }

  /** peek32 byte by byte (a dword straddling two pages, or the end of RAM). */
  private peek32Bytes(lin: number): number | null {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const b = this.peek8((lin + i) | 0);
      if (b < 0) return null;
      v |= b << (8 * i);
    }
    return v;
  }

  /** Write guest memory, hidden pages included (no shadow semantics); false when a byte is unmapped. */
  poke(lin: number, data: Uint8Array): boolean {
    for (let i = 0; i < data.length; i++) if (this.physOf((lin + i) | 0) < 0) return false;
    let i = 0;
    while (i < data.length) {
      const a = (lin + i) | 0;
      const n = Math.min(data.length - i, 4096 - (a & 0xfff));
      this.kernel.mem.writePhys(this.physOf(a), data.subarray(i, i + n));
      i += n;
    }
    return true;
  }

  /** Decode the instruction at `eip` (hidden pages readable), cached per EIP and checked against memory. */
  decodeAt(eip: number): Instr {
    const hit = this.decoded.get(eip | 0);
    if (hit !== undefined && hit.len > 0 && this.sameBytes(eip | 0, hit.bytes, hit.len)) return hit;
    const ins = decodeInstr(this.peekSource, eip | 0, 4);
    if (this.decoded.size > 4096) this.decoded.clear();
    this.decoded.set(eip | 0, ins);
    return ins;
  }

  /** Guest memory at `lin` (hidden pages included) holds `bytes[0..len)`: one translation per page. */
  private sameBytes(lin: number, bytes: readonly number[], len: number): boolean {
    const u8 = this.cpu.mem8;
    let p = -1;
    for (let i = 0; i < len; i++) {
      const a = (lin + i) | 0;
      if (i === 0 || (a & 0xfff) === 0) {
        p = this.physOf(a);
        if (p < 0) return false;
      } else p++;
      if (u8[p] !== bytes[i]) return false;
    }
    return true;
  }

  // ---- the trap handlers ---------------------------------------------------

  /** #PF: a supervisor access to a hidden, not-present page is ours (kmemcheck_fault()). */
  readonly onPageFault: TrapHandler = (k, f) => {
    const cpu = this.cpu;
    const err = f.errorCode ?? 0;
    const cr2 = cpu.cr2 | 0;
    // Only not-present faults (no P, RSVD bits) can be on a hidden page; user-mode ones (U/S) and any on a
    // process's page only in that process's address space. The last fault's page again (a loop over one
    // object) has its owner from lookUpOwners.
    const page = cr2 >>> 12;
    let owner = err & (1 | 8) ? undefined : this.ownersVersion === this.version && this.ownerPage[0] === page ? this.pageOwner[0] : this.owners.get(page);
    if (owner !== undefined && (err & 4 || (f.cs & 3) === 3 || (this.spaces.size > 0 && this.spaces.has(page))) && this.otherSpace(page)) owner = undefined;
    if (owner !== undefined && this.isSuspendedNow(owner) && this.sharers.size > 0) owner = this.activeOwner(page);
    if (owner === undefined || this.isSuspendedNow(owner) || this.isRevealed(page)) {
      this.chain(this.prevPF, k, f);
      return;
    }
    this.stats.faults++;
    const fault = this.fault;
    // A fault of the instruction being stepped: an access the decoder did not predict. At another EIP
    // (which a correct kernel never produces) the step is restarted for the new instruction.
    const repeat = this.stepping && f.eip === this.stepEip;
    if (repeat) this.stats.extraFaults++;
    else if (this.stepping) this.stats.unbalanced++;
    fault.eip = f.eip;
    fault.cr2 = cr2;
    fault.errorCode = err;
    fault.frame = f;
    fault.repeat = repeat;
    fault.deferred = false;
    fault.late = false;
    fault.contextKernel = this.kernel;
    // The copy waits for its first reader only on the plain path: a probe reads it at the #DB, a completer
    // and a client that runs guest code first (the watch framework's, ordered) change the CPU's registers.
    if (this.probe !== null || this.completer !== null || this.ordered || this.sharers.size > 0) void fault.context;
    try {
      this.handleFault(fault, f, repeat);
    } finally {
      // The CPU leaves the interrupted state when the handler returns.
      fault.contextKernel = null;
    }
  };

  /** onPageFault for a fault on a hidden page (`fault` filled in but for the context, copied on demand). */
  private handleFault(fault: HiddenFault, f: TrapFrame, repeat: boolean): void {
    const cpu = this.cpu;
    const cr2 = fault.cr2;
    if (!repeat) {
      // The instruction the CPU just delivered this fault for is the one at the frame's EIP: not decoded again.
      fault.ins = cpu.faultedInstrAt(f.eip) ?? this.decodeAt(f.eip);
      fault.accesses.clear();
      this.probing = !this.stepping && this.probe !== null && !this.wantsEarly(cr2 >>> 12) && this.probe.arm(fault, this);
      if (this.probing) {
        // The step tells the sizes (debugreg): show CR2's page and the instruction's, tell the clients at the #DB.
        fault.late = true;
        this.stepCr2 = cr2;
        this.collectPages(fault, false);
        this.reveal(f);
        return;
      }
      if (this.decoder !== null && fault.ins.def !== null) this.decode(fault, f);
    }
    if (repeat && this.probing && ((cr2 - this.stepCr2) >>> 0) < 128) {
      // The rest of the access the probe measures (one straddling into the next page): shown, told at the #DB.
      this.collectPages(fault, true);
      this.reveal(f);
      return;
    }
    const emulate = !repeat && !this.stepping && this.completer !== null && fault.ins.def !== null && this.completer.plan(fault, this);
    // Pages to show: the faulting one, every page of every predicted access, the instruction's own bytes.
    this.collectPages(fault, repeat);
    if (this.notify(fault, repeat)) return;
    if (emulate) {
      this.emulate(fault);
      return;
    }
    this.reveal(f);
  }

  /**
   * The decoder on the interrupted registers. From the same stack segment they are the CPU's but for
   * ESP, which is put in for the call (the decoder only reads them), so nothing is copied; from another
   * ring (its own SS) the context is.
   */
  private decode(fault: HiddenFault, f: TrapFrame): void {
    const cpu = this.cpu;
    const live = fault.contextKernel !== null && f.userSs === cpu.segSel[SS];
    const ctx = live ? cpu : fault.context;
    const handlerEsp = cpu.regs[4];
    if (live) cpu.regs[4] = f.userEsp;
    try {
      this.decoder!(fault.ins, ctx, fault.accesses);
    } catch {
      fault.accesses.clear();
    }
    cpu.regs[4] = handlerEsp;
  }

  /** Show the fault's pages (kmemcheck_show()) and set TF in the frame: the instruction runs alone, then #DB. */
  private reveal(f: TrapFrame): void {
    // Clients may have shown pages for good or suspended themselves meanwhile.
    const unchanged = this.revealedCount === 0 || this.revealedVersion === this.version;
    for (let i = 0; i < this.pageCount; i++) {
      const p = this.pages[i];
      if (this.collectedOwner(i) === undefined || this.isRevealed(p)) continue;
      const at = this.collectedPte(i);
      if (this.revealedCount < MAX_REVEALED) {
        this.revealed[this.revealedCount] = p;
        this.revealedPte[this.revealedCount++] = at;
      }
      this.setPresentAt(p, at, true);
    }
    this.revealedVersion = unchanged ? this.version : -1;
    // TF on, IF off in the frame: the instruction runs alone, then #DB. The original TF/IF are kept from the
    // first fault of the step (a repeat fault sees our TF already).
    if (!this.stepping) {
      this.stepping = true;
      this.savedFlags = f.eflags & (TF | IF);
    }
    this.stepEip = f.eip;
    this.setFrameEflags(f, (f.eflags | TF) & ~IF);
  }

  /** #DB: the single step after a hidden-page access is over — hide again, restore TF/IF (kmemcheck_trap()). */
  readonly onDebug: TrapHandler = (k, f) => {
    const cpu = this.cpu;
    const dr6 = cpu.dr[6];
    if (!this.stepping || !(dr6 & BS)) {
      this.chain(this.prevDB, k, f);
      return;
    }
    const fault = this.fault;
    // The context after the step is for onStepDone, the probe and the PUSHF fix-up below: filled only when one of them will look.
    if (this.probing || this.notified.wantsStepDone() || fault.ins.op === 0x9c) fillContext(this.kernel, fault.after, f);
    // From here on the frame is the #DB's (a client may divert its return, as the watch framework's post call does).
    fault.frame = f;
    let dr6Left = dr6;
    if (this.probing) {
      // The probe's own breakpoints are not the guest's.
      dr6Left = dr6 & ~0xf;
      // The access starts at the first fault's CR2 (a straddling one faulted again on the next page).
      fault.cr2 = this.stepCr2;
      if (!this.probe!.learn(fault, this, dr6)) {
        // Another pass: the probe put the instruction back; it runs again, stepped, with the pages shown.
        cpu.dr[6] = dr6 & ~(BS | 0xf);
        return;
      }
      this.probing = false;
      this.collectPages(fault, false);
      this.notify(fault, false);
    }
    this.notified.stepDone(fault);
    const ins = fault.ins;
    const saved = this.savedFlags;
    // PUSHF ran with our TF set and IF clear: the image it pushed must say what the program had.
    if (ins.op === 0x9c && ins.def !== null) this.fixPushedFlags(fault.after, ins.size, saved);
    this.concealRevealed();
    this.stepping = false;
    this.notified.clear();
    this.stats.steps++;
    // POPF and IRET load TF and IF themselves: what they loaded stands.
    if (!(ins.op === 0x9d || ins.op === 0xcf)) this.setFrameEflags(f, (f.eflags & ~(TF | IF)) | saved);
    if (saved & TF) {
      // The interrupted code was being single-stepped itself: this trap is its trap too.
      this.chain(this.prevDB, k, f);
      return;
    }
    cpu.dr[6] = dr6Left & ~BS;
    // Breakpoints that hit during the step are reported by whoever handled #DB before us.
    if (dr6Left & 0xf) this.chain(this.prevDB, k, f);
  };

  /** The pages of the fault (scratch `pages`): CR2's, every page of every predicted access, the instruction's own bytes. */
  private collectPages(fault: HiddenFault, repeat: boolean): void {
    this.pageCount = 0;
    this.collectedVersion = -1;
    this.addPage(fault.cr2 >>> 12);
    if (repeat) return;
    const a = fault.accesses;
    for (let i = 0; i < a.count; i++) {
      this.addPage(a.addr[i] >>> 12);
      this.addPage(((a.addr[i] + a.size[i] - 1) | 0) >>> 12);
    }
    const len = fault.ins.len > 0 ? fault.ins.len : 1;
    this.addPage(fault.eip >>> 12);
    this.addPage(((fault.eip + len - 1) | 0) >>> 12);
    this.notified.clear();
  }

  /** Look up the first owner of every collected page, once (see `version`). */
  private lookUpOwners(): void {
    const fresh = this.ownersVersion === this.version;
    for (let i = 0; i < this.pageCount; i++) {
      const p = this.pages[i];
      if (fresh && this.ownerPage[i] === p) continue;
      this.pageOwner[i] = this.owners.get(p);
      this.ownerPage[i] = p;
      this.pagePte[i] = PTE_UNKNOWN;
    }
    this.ownersVersion = this.version;
    this.collectedVersion = this.version;
  }

  /**
   * The PTE address of the i-th collected page: found once per page while nothing changed (see `version`;
   * the kernel's page tables only: a process's may be freed under a page it hid).
   */
  private collectedPte(i: number): number {
    const p = this.pages[i];
    if (this.collectedVersion !== this.version || this.spaces.size !== 0) return this.pteAddressOf(p);
    let at = this.pagePte[i];
    if (at === PTE_UNKNOWN) at = this.pagePte[i] = this.pteAddressOf(p);
    return at;
  }

  /** activeOwner of the i-th collected page, from `pageOwner` while nothing changed since it was looked up. */
  private collectedOwner(i: number): PageHidingClient | undefined {
    if (this.collectedVersion === this.version && this.sharers.size === 0 && this.suspended.size === 0) return this.pageOwner[i];
    return this.activeOwner(this.pages[i]);
  }

  /**
   * The owners of the hidden pages involved handle the access, each once per step (a repeat fault
   * goes to the owners of the page the decoder missed). True when one deferred it.
   */
  private notify(fault: HiddenFault, repeat: boolean): boolean {
    if (this.sharers.size === 0 && !this.ordered) {
      this.lookUpOwners();
      for (let i = 0; i < this.pageCount; i++) {
        const o = this.collectedVersion === this.version ? this.pageOwner[i] : this.owners.get(this.pages[i]);
        if (o === undefined || this.isSuspendedNow(o)) continue;
        if (repeat ? i !== 0 : this.notified.includes(o)) continue;
        this.notified.add(o);
        o.onFault(fault);
      }
      return false;
    }
    if (!this.notifyShared(fault, repeat)) return false;
    // A client runs something first (the frame now leads there); the instruction will fault again.
    if (!repeat) this.notified.clear();
    return true;
  }

  /**
   * `--access-size emulate`: the completer does the instruction here, one iteration at a time for a
   * REP string instruction, each iteration seen by the clients exactly as a single step would be
   * (onFault before, onStepDone after); the IRET resumes past it — or at it, with the registers of
   * the iterations done, when the completer stops early or a client defers the next iteration.
   */
  private emulate(fault: HiddenFault): void {
    const c = this.completer!;
    for (;;) {
      c.complete(fault, this);
      this.stats.emulated++;
      this.notified.stepDone(fault);
      this.notified.clear();
      if (!c.next(fault, this)) return;
      this.collectPages(fault, false);
      if (this.notify(fault, false)) return;
    }
  }

  /**
   * The notification when some pages have several owners: every active owner of the pages involved,
   * once, in PageHidingClient.order then registration order. True when one of them deferred the access.
   */
  private notifyShared(fault: HiddenFault, repeat: boolean): boolean {
    const todo: PageHidingClient[] = [];
    const n = repeat ? 1 : this.pageCount;
    for (let i = 0; i < n; i++) {
      const p = this.pages[i];
      const first = this.owners.get(p);
      const list = this.sharers.get(p);
      for (let j = -1; j < (list?.length ?? 0); j++) {
        const o = j < 0 ? first : list![j];
        if (o === undefined || this.suspended.has(o) || todo.includes(o)) continue;
        if (!repeat && this.notified.includes(o)) continue;
        todo.push(o);
      }
    }
    todo.sort((a, b) => (a.order ?? 0) - (b.order ?? 0) || this.clients.indexOf(a) - this.clients.indexOf(b));
    for (const o of todo) {
      this.notified.add(o);
      o.onFault(fault);
      if (fault.deferred) return true;
    }
    return false;
  }

  private addPage(p: number): void {
    for (let i = 0; i < this.pageCount; i++) if (this.pages[i] === p) return;
    if (this.pageCount < this.pages.length) this.pages[this.pageCount++] = p;
  }

  private concealRevealed(): void {
    // Nothing changed since reveal showed them: every one still has an active owner, its PTE where it was.
    const same = this.revealedVersion === this.version && this.sharers.size === 0 && this.suspended.size === 0;
    for (let i = 0; i < this.revealedCount; i++) {
      const p = this.revealed[i];
      if (same) this.setPresentAt(p, this.revealedPte[i], false);
      else if (this.activeOwner(p) !== undefined) this.setPresent(p, false);
    }
    this.revealedCount = 0;
    this.revealedVersion = -1;
  }

  private chain(h: TrapHandler | undefined, k: Kernel, f: TrapFrame): void {
    if (h) {
      h(k, f);
      return;
    }
    // What the kernel does for a vector without a handler.
    this.cpu.stop({
      kind: 'fault',
      vector: f.vector,
      errorCode: f.errorCode,
      eip: f.eip,
      message: `unexpected interrupt ${f.vector} at 0x${(f.eip >>> 0).toString(16)}`,
    });
  }

  /** Linear address of the EFLAGS image in the frame the handler was entered with. */
  private setFrameEflags(f: TrapFrame, v: number): void {
    const phys = f.framePhys ?? -1;
    if (phys >= 0) this.cpu.writePhys32(phys + 8, v);
    else this.kernel.mem.write32((f.frameAddress + 8) | 0, v);
    f.eflags = v;
  }

  /** `ctx`: the context after the PUSHF (its ESP points at the image it pushed). */
  private fixPushedFlags(ctx: InterruptedContext, size: number, saved: number): void {
    const at = (ctx.segBase[SS] + ctx.regs[4]) | 0;
    const v = this.peek32(at);
    if (v === null) return;
    const fixed = (v & ~(TF | IF)) | saved;
    const bytes = new Uint8Array([fixed, fixed >> 8, fixed >> 16, fixed >> 24]);
    this.poke(at, bytes.subarray(0, size === 2 ? 2 : 4));
  }
}

/** The interrupted code's registers: the frame gives EIP, CS, EFLAGS and (TrapFrame.userEsp/userSs) its SS:ESP. */
function fillContext(k: Kernel, ctx: InterruptedContext, f: TrapFrame): void {
  const cpu = k.cpu;
  // Element by element: TypedArray.prototype.set costs more than the copy for 8 and 6 elements.
  const regs = cpu.regs;
  const segBase = cpu.segBase;
  for (let i = 0; i < 8; i++) ctx.regs[i] = regs[i]!;
  for (let i = 0; i < 6; i++) ctx.segBase[i] = segBase[i]!;
  ctx.eflags = f.eflags;
  ctx.eip = f.eip;
  ctx.cs = f.cs;
  ctx.cpl = f.cs & 3;
  ctx.regs[4] = f.userEsp;
  ctx.ss = f.userSs;
  if (f.userSs !== cpu.segSel[SS]) ctx.segBase[SS] = descriptorBase(k, f.userSs);
}

/** Parsed into by descriptorBase (nothing allocated per fault). */
const stackDescriptor = scratchDescriptor();

/** The base of the descriptor `sel` names (the interrupted stack segment's), 0 when it cannot be read. */
function descriptorBase(k: Kernel, sel: number): number {
  const cpu = k.cpu;
  const table = sel & 4 ? cpu.ldtBase : cpu.gdtrBase;
  try {
    const lo = k.mem.read32((table + (sel & ~7)) | 0);
    const hi = k.mem.read32((table + (sel & ~7) + 4) | 0);
    return parseDescriptorInto(lo, hi, stackDescriptor).base;
  } catch {
    return 0;
  }
}
