/**
 * Running a bpftrace program (./parse.ts) on the simulated kernel: its
 * kprobe/kretprobe probes are host clients of the kernel's kprobes
 * (src/kernel/kprobes) — int3 in the guest code, the same mechanism a
 * module's kprobes use — and its actions run in TypeScript at each hit, as
 * bpftrace's BPF programs run in the kernel at each hit.
 *
 * Builtins: nsecs (the kernel's monotonic clock), elapsed (since BEGIN),
 * pid and tid (the current task's tgid and pid), comm, func (the probed
 * function), probe ("kprobe:NAME"), arg0–arg5 (regparm(3): ax, dx, cx, then
 * the stack), retval (a kretprobe's EAX), cpu (0), uid/gid (0). Maps keep
 * plain values and the aggregations count(), sum(), min(), max() and avg();
 * at the end they are printed as bpftrace prints them: maps by name,
 * `@name[key]: value` lines sorted by value (by key for plain values), a
 * blank line after each map. printf() takes %d %i %u %ld %lu %lld %llu %x %lx %llx %s %p %c with
 * flags and widths.
 */
import type { CPU } from '../cpu/cpu.js';
import type { KernelApi } from '../kernel/kapi.js';
import { kallsymsOf } from '../kernel/kallsyms.js';
import type { HitContext } from '../kernel/kprobes/index.js';
import { PT } from '../kernel/kprobes/index.js';
import { BpftraceError, parseProgram, type Expr, type ProbeGroup, type Stmt } from './parse.js';

type Value = bigint | string;

interface Agg {
  kind: 'count' | 'sum' | 'min' | 'max' | 'avg';
  n: bigint;
  sum: bigint;
  min: bigint;
  max: bigint;
}

interface MapEntry {
  keys: Value[];
  value: Value | Agg;
}

/** What a hit knows: its probe, the registers (entry) or the return value. */
interface HitEnv {
  probe: string;
  func: string;
  args: (i: number) => bigint;
  retval: bigint | null;
  vars: Map<string, Value>;
}

const U64 = (1n << 64n) - 1n;
const toS64 = (v: bigint): bigint => BigInt.asIntN(64, v);

export interface BpftraceOptions {
  /** Where printf() and the maps go (bpftrace's stdout). */
  out(text: string): void;
}

export class BpftraceRun {
  private readonly groups: ProbeGroup[];
  private readonly maps = new Map<string, Map<string, MapEntry>>();
  private readonly detach: (() => void)[] = [];
  private beginNs = 0;
  private api: KernelApi | null = null;
  private done = false;
  /** Probes attached (BEGIN and END included), for "Attaching N probes...". */
  attached = 0;

  constructor(source: string, private readonly opts: BpftraceOptions) {
    this.groups = parseProgram(source);
  }

  /**
   * Attach every probe (wildcards expanded over kallsyms: the kernel's
   * functions, then the loaded modules'), print "Attaching N probes..." and
   * run BEGIN. Throws BpftraceError when a named function does not exist or
   * a pattern matches nothing.
   */
  attach(api: KernelApi): void {
    this.api = api;
    const kp = api.kprobes;
    const ks = kallsymsOf(api.kernel);
    const plan: { group: ProbeGroup; kind: 'kprobe' | 'kretprobe'; name: string; addr: number }[] = [];
    let count = 0;
    for (const group of this.groups) {
      for (const spec of group.probes) {
        if (spec.kind === 'BEGIN' || spec.kind === 'END') {
          count++;
          continue;
        }
        const wild = spec.pattern.includes('*');
        const re = new RegExp(`^${spec.pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
        const names = wild ? [...new Set(ks.functions().map((f) => f.name))].filter((n) => re.test(n)) : [spec.pattern];
        let matched = 0;
        for (const name of names) {
          const r = kp.resolve(name, 0, 0);
          if ('errno' in r) {
            if (wild) continue; // not traceable: skipped, as bpftrace skips them
            throw new BpftraceError(`ERROR: ${spec.kind}:${name}: ${r.why}`);
          }
          plan.push({ group, kind: spec.kind, name, addr: r.addr });
          matched++;
        }
        if (matched === 0) throw new BpftraceError(`ERROR: No probes to attach: ${spec.kind}:${spec.pattern} matches no traceable function`);
        count += matched;
      }
    }
    this.attached = count;
    this.opts.out(`Attaching ${count} probe${count === 1 ? '' : 's'}...\n`);
    for (const p of plan) this.attachOne(p.group, p.kind, p.name, p.addr);
    this.beginNs = api.sched.nowNs();
    this.runSpecial('BEGIN');
  }

  private attachOne(group: ProbeGroup, kind: 'kprobe' | 'kretprobe', name: string, addr: number): void {
    const api = this.api!;
    const probe = `${kind}:${name}`;
    if (kind === 'kprobe') {
      const client = {
        struct: 0,
        pre: (h: HitContext, done: (r: number) => void): void => {
          const sp = h.reg(PT.sp);
          const mem = api.kernel.mem;
          const args = (i: number): bigint => BigInt(i === 0 ? h.reg(PT.ax) : i === 1 ? h.reg(PT.dx) : i === 2 ? h.reg(PT.cx) : mem.read32(sp + 4 * (i - 2)) >>> 0);
          this.fire(group, { probe, func: name, args, retval: null, vars: new Map() });
          done(0);
        },
        missed: () => {},
      };
      api.kprobes.arm(addr, client);
      this.detach.push(() => api.kprobes.disarm(addr, client));
    } else {
      const off = api.kprobes.rets.attachHost(addr, (cpu: CPU) => {
        this.fire(group, { probe, func: name, args: () => 0n, retval: BigInt(cpu.regs[0]! >>> 0), vars: new Map() });
      }, () => {});
      this.detach.push(off);
    }
  }

  /** A run-time error in an action (an undefined $variable, retval in a kprobe): the program stops, as bpftrace's verifier would have refused it. */
  error: BpftraceError | null = null;

  private fire(group: ProbeGroup, env: HitEnv): void {
    if (this.done) return;
    try {
      if (group.filter && !truthy(this.eval(group.filter, env))) return;
      this.exec(group.body, env);
    } catch (e) {
      if (!(e instanceof BpftraceError)) throw e;
      this.error ??= e;
      for (const d of this.detach.splice(0)) d();
      this.done = true;
    }
  }

  private runSpecial(kind: 'BEGIN' | 'END'): void {
    for (const g of this.groups) {
      if (g.probes.some((p) => p.kind === kind)) this.fire(g, { probe: kind, func: '', args: () => 0n, retval: null, vars: new Map() });
    }
  }

  /** The run is over (or exit() was called): END, then every map; probes detached. */
  finish(): void {
    if (this.done) return;
    for (const d of this.detach.splice(0)) d();
    this.runSpecial('END');
    this.done = true;
    this.printMaps();
  }

  // ---- statements and expressions --------------------------------------------------------------

  private exec(stmts: Stmt[], env: HitEnv): void {
    for (const s of stmts) {
      if (this.done) return;
      switch (s.k) {
        case 'expr':
          this.eval(s.e, env);
          break;
        case 'assignVar':
          env.vars.set(s.name, this.eval(s.value, env));
          break;
        case 'if':
          this.exec(truthy(this.eval(s.cond, env)) ? s.then : s.else, env);
          break;
        case 'assignMap':
          this.assign(s.map, s.keys.map((k) => this.eval(k, env)), s.value, env);
          break;
      }
    }
  }

  private mapOf(name: string): Map<string, MapEntry> {
    let m = this.maps.get(name);
    if (!m) this.maps.set(name, (m = new Map()));
    return m;
  }

  private assign(name: string, keys: Value[], value: Expr, env: HitEnv): void {
    const m = this.mapOf(name);
    const key = JSON.stringify(keys.map(String));
    if (value.k === 'call' && ['count', 'sum', 'min', 'max', 'avg'].includes(value.name)) {
      const kind = value.name as Agg['kind'];
      const v = kind === 'count' ? 1n : asInt(this.eval(value.args[0] ?? { k: 'int', v: 0n }, env));
      let e = m.get(key);
      if (!e || typeof e.value !== 'object') {
        e = { keys, value: { kind, n: 0n, sum: 0n, min: v, max: v } };
        m.set(key, e);
      }
      const a = e.value as Agg;
      a.n++;
      a.sum += v;
      if (v < a.min) a.min = v;
      if (v > a.max) a.max = v;
      return;
    }
    m.set(key, { keys, value: this.eval(value, env) });
  }

  private eval(e: Expr, env: HitEnv): Value {
    switch (e.k) {
      case 'int':
        return e.v;
      case 'str':
        return e.v;
      case 'var': {
        const v = env.vars.get(e.name);
        if (v === undefined) throw new BpftraceError(`ERROR: Undefined or undeclared variable: $${e.name}`);
        return v;
      }
      case 'map': {
        const entry = this.maps.get(e.name)?.get(JSON.stringify(e.keys.map((k) => String(this.eval(k, env)))));
        if (!entry) return 0n;
        return typeof entry.value === 'object' ? aggValue(entry.value) : entry.value;
      }
      case 'builtin':
        return this.builtin(e.name, env);
      case 'unary': {
        const v = this.eval(e.e, env);
        if (e.op === '!') return truthy(v) ? 0n : 1n;
        if (e.op === '-') return toS64(-asInt(v));
        return toS64(~asInt(v));
      }
      case 'binary':
        return this.binary(e.op, e.l, e.r, env);
      case 'call':
        return this.call(e.name, e.args, env);
    }
  }

  private binary(op: string, le: Expr, re: Expr, env: HitEnv): Value {
    if (op === '&&') return truthy(this.eval(le, env)) && truthy(this.eval(re, env)) ? 1n : 0n;
    if (op === '||') return truthy(this.eval(le, env)) || truthy(this.eval(re, env)) ? 1n : 0n;
    const l = this.eval(le, env), r = this.eval(re, env);
    if (typeof l === 'string' || typeof r === 'string') {
      if (op === '==') return String(l) === String(r) ? 1n : 0n;
      if (op === '!=') return String(l) !== String(r) ? 1n : 0n;
      throw new BpftraceError(`ERROR: invalid operands to '${op}': a string and ${typeof r === 'string' && typeof l === 'string' ? 'a string' : 'an integer'}`);
    }
    switch (op) {
      case '+': return toS64(l + r);
      case '-': return toS64(l - r);
      case '*': return toS64(l * r);
      case '/': return r === 0n ? 0n : toS64(l / r);
      case '%': return r === 0n ? 0n : toS64(l % r);
      case '<<': return toS64(l << (r & 63n));
      case '>>': return toS64(BigInt.asUintN(64, l) >> (r & 63n));
      case '&': return l & r;
      case '|': return l | r;
      case '^': return l ^ r;
      case '==': return l === r ? 1n : 0n;
      case '!=': return l !== r ? 1n : 0n;
      case '<': return l < r ? 1n : 0n;
      case '<=': return l <= r ? 1n : 0n;
      case '>': return l > r ? 1n : 0n;
      case '>=': return l >= r ? 1n : 0n;
    }
    throw new BpftraceError(`ERROR: unknown operator ${op}`);
  }

  private builtin(name: string, env: HitEnv): Value {
    const api = this.api!;
    const t = api.sched.current;
    switch (name) {
      case 'nsecs': return BigInt(Math.round(api.sched.nowNs()));
      case 'elapsed': return BigInt(Math.round(api.sched.nowNs() - this.beginNs));
      case 'pid': return BigInt(t.pid);
      case 'tid': return BigInt(t.pid);
      case 'comm': return t.comm;
      case 'func': return env.func;
      case 'probe': return env.probe;
      case 'cpu': case 'uid': case 'gid': return 0n;
      case 'retval':
        if (env.retval === null) throw new BpftraceError(`ERROR: The retval builtin can only be used with 'kretprobe' probes (in ${env.probe})`);
        return env.retval;
    }
    const m = /^arg(\d)$/.exec(name);
    if (m) return env.args(Number(m[1]));
    throw new BpftraceError(`ERROR: Unknown builtin ${name}`);
  }

  private call(name: string, args: Expr[], env: HitEnv): Value {
    switch (name) {
      case 'printf': {
        if (args[0]?.k !== 'str') throw new BpftraceError('ERROR: printf() expects a format string as its first argument');
        this.opts.out(formatPrintf(args[0].v, args.slice(1).map((a) => this.eval(a, env))));
        return 0n;
      }
      case 'str': {
        const v = this.eval(args[0]!, env);
        if (typeof v === 'string') return v;
        const mem = this.api!.kernel.mem;
        let s = '';
        for (let a = Number(BigInt.asUintN(32, v)); s.length < 64; a++) {
          let b: number;
          try {
            b = mem.read(a, 1)[0]!;
          } catch {
            break;
          }
          if (b === 0) break;
          s += String.fromCharCode(b);
        }
        return s;
      }
      case 'print': {
        const a = args[0];
        if (a?.k === 'map') this.printMap(a.name);
        else this.opts.out(`${String(this.eval(a!, env))}\n`);
        return 0n;
      }
      case 'clear':
        if (args[0]?.k === 'map') this.maps.get(args[0].name)?.clear();
        return 0n;
      case 'delete': {
        const a = args[0];
        if (a?.k === 'map') this.maps.get(a.name)?.delete(JSON.stringify(a.keys.map((k) => String(this.eval(k, env)))));
        return 0n;
      }
      case 'exit':
        this.finish();
        return 0n;
      case 'count': case 'sum': case 'min': case 'max': case 'avg':
        throw new BpftraceError(`ERROR: ${name}() should be assigned to a map`);
    }
    throw new BpftraceError(`ERROR: Unknown function: ${name}`);
  }

  // ---- output -----------------------------------------------------------------------------------

  private printMaps(): void {
    // By name, as bpftrace keeps its maps.
    const names = [...this.maps.keys()].filter((n) => this.maps.get(n)!.size > 0).sort();
    if (names.length) this.opts.out('\n');
    for (const n of names) this.printMap(n);
  }

  private printMap(name: string): void {
    const m = this.maps.get(name);
    if (!m || m.size === 0) return;
    const entries = [...m.values()];
    const isAgg = entries.some((e) => typeof e.value === 'object');
    const num = (e: MapEntry): Value => (typeof e.value === 'object' ? aggValue(e.value) : e.value);
    entries.sort((a, b) => {
      const va = isAgg ? num(a) : a.keys.join(','), vb = isAgg ? num(b) : b.keys.join(',');
      if (typeof va === 'bigint' && typeof vb === 'bigint') return va < vb ? -1 : va > vb ? 1 : 0;
      return String(va) < String(vb) ? -1 : String(va) > String(vb) ? 1 : 0;
    });
    let text = '';
    for (const e of entries) {
      const key = e.keys.length ? `[${e.keys.map(String).join(', ')}]` : '';
      text += `@${name}${key}: ${String(num(e))}\n`;
    }
    this.opts.out(`${text}\n`);
  }
}

function aggValue(a: Agg): bigint {
  switch (a.kind) {
    case 'count': return a.n;
    case 'sum': return a.sum;
    case 'min': return a.min;
    case 'max': return a.max;
    case 'avg': return a.n === 0n ? 0n : a.sum / a.n;
  }
}

function truthy(v: Value): boolean {
  return typeof v === 'string' ? v.length > 0 : v !== 0n;
}

function asInt(v: Value): bigint {
  if (typeof v === 'string') throw new BpftraceError(`ERROR: a string (${JSON.stringify(v)}) where an integer is expected`);
  return v;
}

/** bpftrace's printf: C conversions over 64-bit integers and strings. */
export function formatPrintf(fmt: string, args: Value[]): string {
  let i = 0;
  return fmt.replace(/%([-+ 0#]*)(\d*)(?:\.(\d+))?(hh|h|ll|l|z)?([diuxXscp%])/g, (_m, flags: string, width: string, prec: string | undefined, len: string | undefined, conv: string) => {
    if (conv === '%') return '%';
    const a = args[i++];
    if (a === undefined) throw new BpftraceError(`ERROR: printf: too few arguments for format "${fmt}"`);
    let s: string;
    const bits = len === 'll' || len === 'l' ? 64 : 32;
    if (conv === 's') s = typeof a === 'string' ? a : String(a);
    else if (conv === 'c') s = String.fromCharCode(Number(asInt(a) & 0xffn));
    else {
      const n = asInt(a);
      if (conv === 'd' || conv === 'i') s = String(bits === 64 ? BigInt.asIntN(64, n) : BigInt.asIntN(32, n));
      else if (conv === 'u') s = String(bits === 64 ? BigInt.asUintN(64, n) : BigInt.asUintN(32, n));
      else if (conv === 'p') s = `0x${BigInt.asUintN(64, n).toString(16)}`;
      else {
        s = (bits === 64 ? BigInt.asUintN(64, n) : BigInt.asUintN(32, n)).toString(16);
        if (conv === 'X') s = s.toUpperCase();
        if (flags.includes('#') && n !== 0n) s = `0x${s}`;
      }
      if (prec !== undefined) s = s.padStart(Number(prec), '0');
    }
    if (prec !== undefined && conv === 's') s = s.slice(0, Number(prec));
    const w = Number(width || 0);
    if (s.length < w) {
      if (flags.includes('-')) s = s.padEnd(w);
      else if (flags.includes('0') && conv !== 's') s = s.startsWith('-') ? `-${s.slice(1).padStart(w - 1, '0')}` : s.padStart(w, '0');
      else s = s.padStart(w);
    }
    return s;
  });
}

void U64;
