/**
 * The WebAssembly tier of the block compiler. A block that has run often
 * enough (jit.ts chooses the tier) becomes a WebAssembly module of one
 * function, which V8 compiles at once with its single-pass baseline
 * compiler (Liftoff) and later, when hot, with TurboFan — without the
 * speculation and deoptimization of JavaScript. Guest RAM, the registers
 * and the TLBs live in the memory the module imports (./state.ts), so the
 * generated code reaches them with plain loads and stores.
 *
 * The module imports the CPU's slow paths (the accessors, probeWrite, an
 * executor call, CPU.cond, CPU.getCF): each is a JavaScript function bound
 * to this CPU that first makes the CPU's lazy flags those of the state area
 * and records where a fault would be delivered (cpu.jitInstrs, jitIndex,
 * jitDone), exactly as the JavaScript tier's slow paths do (jit/emitter.ts
 * sync). An exception thrown in one unwinds through the WebAssembly frames
 * to the run loop, which delivers it.
 *
 * Modules are cached by their bytes (one compile for the same code in
 * another run or another CPU); each block gets its own instance.
 */
import type { CPU } from '../cpu.js';
import type { Instr } from '../instr.js';
import type { CompiledBlock } from '../jit.js';
import * as ctl from '../exec/control.js';
import { encodeModule, Op, VOID } from './encoder.js';
import * as S from './state.js';
import { BlockGen, BRK, DONE, IMPORTS, get, k32 } from './codegen.js';
import { GENERATORS } from './instructions.js';

const modules = new Map<string, WebAssembly.Module>();
const MAX_MODULES = 50_000;

/** One instruction; returns false when the block ends here (jit.ts emitInstruction). */
function emitInstruction(g: BlockGen, ins: Instr, k: number): boolean {
  const n = g.count;
  const last = k === n - 1;
  if (ins.exec === ctl.jcc) {
    g.if(g.cond(ins.op & 0xf), () => g.emit(g.goto(ins.imm | 0, k + 1)));
    if (last) g.emit(g.goto(ins.next | 0, n));
    return true;
  }
  if (ins.cont !== ins.next && !last) {
    // A JMP or CALL the block follows (decodeBlock): only the CALL's push remains.
    if (ins.exec === ctl.callRel) {
      g.push32(k32(ins.next | 0));
      g.if(get(BRK), () => g.emit(g.exit(k32(ins.imm | 0), k + 1)));
    }
    return true;
  }
  const gen = GENERATORS.get(ins.exec);
  const done = gen ? gen(g, ins) : false;
  if (done === 'transfer') return false;
  if (done) {
    if (last) g.emit(g.goto(ins.next | 0, n));
    else if (g.wrote) g.if(get(BRK), () => g.emit(g.exit(k32(ins.next | 0), k + 1)));
    return true;
  }
  // Left to its executor (called from the generated code; EIP and the flags stored by the import).
  const stop = g.executor();
  g.if(get(stop), () => g.emit([...get(DONE), ...k32(k + 1), Op.i32_add, Op.return]));
  if (last) g.emit(g.goto(ins.next | 0, n));
  return true;
}

/** The module's bytes for a block. */
export function generateBlock(instrs: readonly Instr[], state: number, pages: number): Uint8Array<ArrayBuffer> {
  const g = new BlockGen(instrs, state);
  g.prologue();
  g.emit([Op.loop, VOID]);
  g.depth = 1;
  for (let k = 0; k < instrs.length; k++) {
    const ins = instrs[k]!;
    g.k = k;
    g.ins = ins;
    g.wrote = false;
    if (!emitInstruction(g, ins, k)) break;
  }
  g.emit([Op.end, Op.unreachable]);
  return encodeModule(pages, IMPORTS, { params: 2, results: 1 }, BRK + 1 - 2 + g.temps, g.code);
}

const FL = S.FLAGS >> 2, LM = S.LAZY_MASK >> 2, KIND = S.LF_KIND >> 2, DST = S.LF_DST >> 2, SRC = S.LF_SRC >> 2;
const RES = S.LF_RES >> 2, SIZE = S.LF_SIZE >> 2, CIN = S.LF_CIN >> 2, EIP = S.EIP >> 2, BREAK = S.BREAK >> 2;

/** The WebAssembly tier of one CPU. */
export class WasmTier {
  /** The state area's slots as i32s. */
  private readonly st: Int32Array;
  private readonly pages: number;
  /** The instructions of the block running now (what the imports' jitIndex refers to). */
  private instrs: readonly Instr[] = [];
  private readonly imports: WebAssembly.Imports;
  /** Blocks this tier compiled (tests check that a run went through it). */
  compiled = 0;

  constructor(private readonly cpu: CPU, private readonly memory: WebAssembly.Memory, readonly state: number) {
    this.st = new Int32Array(memory.buffer, state, 32);
    this.pages = memory.buffer.byteLength / S.WASM_PAGE;
    const st = this.st;
    const faultPoint = (k: number, done: number): void => {
      cpu.jitInstrs = this.instrs;
      cpu.jitIndex = k;
      cpu.jitDone = done;
      this.loadFlags();
    };
    const after = (): number => (st[BREAK] = cpu.breakLoop ? 1 : 0);
    this.imports = {
      m: {
        mem: memory,
        rd8: (l: number, k: number, done: number) => (faultPoint(k, done), cpu.read8(l)),
        rd16: (l: number, k: number, done: number) => (faultPoint(k, done), cpu.read16(l)),
        rd32: (l: number, k: number, done: number) => (faultPoint(k, done), cpu.read32(l)),
        wr8: (l: number, v: number, k: number, done: number) => (faultPoint(k, done), cpu.write8(l, v), after()),
        wr16: (l: number, v: number, k: number, done: number) => (faultPoint(k, done), cpu.write16(l, v), after()),
        wr32: (l: number, v: number, k: number, done: number) => (faultPoint(k, done), cpu.write32(l, v), after()),
        pw: (l: number, size: number, k: number, done: number) => {
          faultPoint(k, done);
          cpu.probeWrite(l, size);
        },
        ex: (k: number, done: number) => {
          const ins = this.instrs[k]!;
          cpu.eip = ins.next;
          faultPoint(k, done);
          ins.exec(cpu, ins);
          this.storeFlags();
          st[EIP] = cpu.eip;
          after();
          return cpu.eip !== ins.next || cpu.breakLoop ? 1 : 0;
        },
        cc: (cc: number) => {
          this.loadFlags();
          return cpu.cond(cc) ? 1 : 0;
        },
        cf: () => {
          this.loadFlags();
          return cpu.getCF();
        },
      },
    };
  }

  /** The state area's flags into the CPU's fields. */
  private loadFlags(): void {
    const st = this.st, cpu = this.cpu;
    cpu.flags = st[FL]!;
    cpu.lazyMask = st[LM]!;
    cpu.lfKind = st[KIND]!;
    cpu.lfDst = st[DST]!;
    cpu.lfSrc = st[SRC]!;
    cpu.lfRes = st[RES]!;
    cpu.lfSize = st[SIZE]!;
    cpu.lfCin = st[CIN]!;
  }
  private storeFlags(): void {
    const st = this.st, cpu = this.cpu;
    st[FL] = cpu.flags;
    st[LM] = cpu.lazyMask;
    st[KIND] = cpu.lfKind;
    st[DST] = cpu.lfDst;
    st[SRC] = cpu.lfSrc;
    st[RES] = cpu.lfRes;
    st[SIZE] = cpu.lfSize;
    st[CIN] = cpu.lfCin;
  }

  /** Compile a block (no native routines: jit.ts checked), or null when this tier declines it. */
  compile(instrs: readonly Instr[]): CompiledBlock | null {
    const bytes = generateBlock(instrs, this.state, this.pages);
    const key = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
    let mod = modules.get(key);
    if (mod === undefined) {
      if (modules.size >= MAX_MODULES) modules.clear();
      mod = new WebAssembly.Module(bytes);
      modules.set(key, mod);
    }
    this.compiled++;
    const f = new WebAssembly.Instance(mod, this.imports).exports.f as (room: number, tlb: number) => number;
    const cpu = this.cpu;
    const st = this.st;
    return (_cpu: CPU, room: number): number => {
      this.instrs = instrs;
      this.storeFlags();
      st[BREAK] = 0;
      const n = f(room, cpu.tlbOffset);
      this.loadFlags();
      cpu.eip = st[EIP]!;
      return n;
    };
  }
}

