/**
 * The bpftrace language subset kmemsim runs (`kmemsim run … --bpftrace`):
 *
 *   program   := probe-group*
 *   probe-group := probe (',' probe)* ('/' expr '/')? block
 *   probe     := 'BEGIN' | 'END' | ('kprobe' | 'k' | 'kretprobe' | 'kr') ':' pattern   (pattern: a function name, '*' wildcards)
 *   block     := '{' (stmt (';' | newline-free sequence))* '}'
 *   stmt      := printf(fmt, args…) | print(@map) | clear(@map) | delete(@map[key]) | exit()
 *              | @map[keys] = expr | @map[keys] = count() | sum(e) | min(e) | max(e) | avg(e)
 *              | @map[keys]++ | $var = expr | if (expr) block (else block)?
 *   expr      := literals, builtins (nsecs, pid, tid, comm, func, probe, arg0–arg5, retval, cpu, elapsed),
 *                @map[keys], $var, str(e), unary ! - ~, binary * / % + - << >> < <= > >= == != & ^ | && ||, ( … )
 *
 * Parse errors are `BpftraceError`s with bpftrace's "stdin:LINE:COL: ERROR:" position.
 */

export class BpftraceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BpftraceError';
  }
}

export type Expr =
  | { k: 'int'; v: bigint }
  | { k: 'str'; v: string }
  | { k: 'builtin'; name: string }
  | { k: 'map'; name: string; keys: Expr[] }
  | { k: 'var'; name: string }
  | { k: 'call'; name: string; args: Expr[] }
  | { k: 'unary'; op: string; e: Expr }
  | { k: 'binary'; op: string; l: Expr; r: Expr };

export type Stmt =
  | { k: 'expr'; e: Expr }
  | { k: 'assignMap'; map: string; keys: Expr[]; value: Expr }
  | { k: 'assignVar'; name: string; value: Expr }
  | { k: 'if'; cond: Expr; then: Stmt[]; else: Stmt[] };

export interface ProbeSpec {
  kind: 'BEGIN' | 'END' | 'kprobe' | 'kretprobe';
  /** Function name pattern (kprobe/kretprobe), '*' matching any run of characters. */
  pattern: string;
}

export interface ProbeGroup {
  probes: ProbeSpec[];
  filter: Expr | null;
  body: Stmt[];
}

const BUILTINS = new Set(['nsecs', 'pid', 'tid', 'comm', 'func', 'probe', 'retval', 'cpu', 'elapsed', 'uid', 'gid',
  'arg0', 'arg1', 'arg2', 'arg3', 'arg4', 'arg5']);

interface Tok {
  t: 'id' | 'num' | 'str' | 'map' | 'var' | 'punct' | 'eof';
  v: string;
  line: number;
  col: number;
}

function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0, line = 1, col = 1;
  const adv = (n: number): void => {
    for (let j = 0; j < n; j++) {
      if (src[i] === '\n') {
        line++;
        col = 1;
      } else col++;
      i++;
    }
  };
  const PUNCT = ['<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '++', '--', '+=', '-=',
    '{', '}', '(', ')', '[', ']', ',', ';', ':', '/', '*', '+', '-', '%', '<', '>', '=', '!', '~', '&', '|', '^', '?'];
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      adv(1);
      continue;
    }
    if (src.startsWith('//', i)) {
      while (i < src.length && src[i] !== '\n') adv(1);
      continue;
    }
    if (src.startsWith('/*', i)) {
      const end = src.indexOf('*/', i + 2);
      adv((end < 0 ? src.length : end + 2) - i);
      continue;
    }
    if (i === 0 && src.startsWith('#!')) {
      while (i < src.length && src[i] !== '\n') adv(1);
      continue;
    }
    const at = { line, col };
    if (c === '"') {
      let j = i + 1, s = '';
      while (j < src.length && src[j] !== '"') {
        if (src[j] === '\\') {
          const e = src[j + 1];
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === '"' ? '"' : e === '\\' ? '\\' : `\\${e}`;
          j += 2;
        } else s += src[j++];
      }
      if (j >= src.length) throw new BpftraceError(`stdin:${at.line}:${at.col}: ERROR: unterminated string`);
      out.push({ t: 'str', v: s, ...at });
      adv(j + 1 - i);
      continue;
    }
    let m = /^(0x[0-9a-fA-F]+|[0-9]+)/.exec(src.slice(i));
    if (m) {
      out.push({ t: 'num', v: m[1]!, ...at });
      adv(m[1]!.length);
      continue;
    }
    m = /^@[A-Za-z0-9_]*/.exec(src.slice(i));
    if (m) {
      out.push({ t: 'map', v: m[0].slice(1), ...at });
      adv(m[0].length);
      continue;
    }
    m = /^\$[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (m) {
      out.push({ t: 'var', v: m[0].slice(1), ...at });
      adv(m[0].length);
      continue;
    }
    m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (m) {
      out.push({ t: 'id', v: m[0], ...at });
      adv(m[0].length);
      continue;
    }
    const p = PUNCT.find((x) => src.startsWith(x, i));
    if (!p) throw new BpftraceError(`stdin:${at.line}:${at.col}: ERROR: unexpected character '${c}'`);
    out.push({ t: 'punct', v: p, ...at });
    adv(p.length);
  }
  out.push({ t: 'eof', v: '', line, col });
  return out;
}

const BINARY: string[][] = [['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '<=', '>', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

export function parseProgram(src: string): ProbeGroup[] {
  const toks = tokenize(src);
  let p = 0;
  const peek = (o = 0): Tok => toks[Math.min(p + o, toks.length - 1)]!;
  const err = (t: Tok, msg: string): never => {
    throw new BpftraceError(`stdin:${t.line}:${t.col}: ERROR: ${msg}`);
  };
  const is = (v: string, o = 0): boolean => peek(o).t === 'punct' && peek(o).v === v;
  const expect = (v: string): Tok => {
    const t = peek();
    if (!(t.t === 'punct' && t.v === v)) err(t, `syntax error, unexpected ${t.t === 'eof' ? 'end of file' : `'${t.v}'`}, expecting '${v}'`);
    p++;
    return t;
  };

  const probe = (): ProbeSpec => {
    const t = peek();
    if (t.t !== 'id') return err(t, `syntax error, unexpected '${t.v}', expecting a probe`);
    p++;
    if (t.v === 'BEGIN' || t.v === 'END') return { kind: t.v, pattern: '' };
    const kind = t.v === 'kprobe' || t.v === 'k' ? 'kprobe' : t.v === 'kretprobe' || t.v === 'kr' ? 'kretprobe' : null;
    if (!kind) return err(t, `Invalid probe type: ${t.v} (kmemsim runs BEGIN, END, kprobe and kretprobe)`);
    expect(':');
    // The pattern: identifier characters and '*' up to whitespace or a delimiter, read from the source text.
    let pat = '';
    while (peek().t === 'id' || peek().t === 'num' || is('*')) {
      const cur = peek();
      const next = peek(1);
      pat += cur.v;
      p++;
      // Stop at a gap in the source (the next token does not touch this one).
      if (!(next.line === cur.line && next.col === cur.col + cur.v.length)) break;
    }
    if (pat === '') return err(peek(), 'a kprobe needs a function name');
    if (is(':')) err(peek(), 'kprobe:MODULE:FUNCTION is not supported: name the function alone');
    return { kind, pattern: pat };
  };

  const primary = (): Expr => {
    const t = peek();
    if (t.t === 'num') {
      p++;
      return { k: 'int', v: BigInt(t.v) };
    }
    if (t.t === 'str') {
      p++;
      return { k: 'str', v: t.v };
    }
    if (t.t === 'map') {
      p++;
      const keys: Expr[] = [];
      if (is('[')) {
        p++;
        keys.push(expr());
        while (is(',')) {
          p++;
          keys.push(expr());
        }
        expect(']');
      }
      return { k: 'map', name: t.v, keys };
    }
    if (t.t === 'var') {
      p++;
      return { k: 'var', name: t.v };
    }
    if (t.t === 'id') {
      p++;
      if (is('(')) {
        p++;
        const args: Expr[] = [];
        if (!is(')')) {
          args.push(expr());
          while (is(',')) {
            p++;
            args.push(expr());
          }
        }
        expect(')');
        return { k: 'call', name: t.v, args };
      }
      if (BUILTINS.has(t.v)) return { k: 'builtin', name: t.v };
      return err(t, `Unknown identifier: '${t.v}'`);
    }
    if (is('(')) {
      p++;
      const e = expr();
      expect(')');
      return e;
    }
    return err(t, `syntax error, unexpected ${t.t === 'eof' ? 'end of file' : `'${t.v}'`}`);
  };
  const unary = (): Expr => {
    if (is('!') || is('-') || is('~')) {
      const op = peek().v;
      p++;
      return { k: 'unary', op, e: unary() };
    }
    return primary();
  };
  const binary = (level: number): Expr => {
    if (level >= BINARY.length) return unary();
    let l = binary(level + 1);
    while (peek().t === 'punct' && BINARY[level]!.includes(peek().v)) {
      const op = peek().v;
      p++;
      l = { k: 'binary', op, l, r: binary(level + 1) };
    }
    return l;
  };
  function expr(): Expr {
    return binary(0);
  }
  /** An expression inside /…/: no top-level division (as bpftrace's grammar). */
  const filterExpr = (): Expr => {
    const save = BINARY[BINARY.length - 1]!;
    BINARY[BINARY.length - 1] = ['*', '%'];
    try {
      return expr();
    } finally {
      BINARY[BINARY.length - 1] = save;
    }
  };

  const block = (): Stmt[] => {
    expect('{');
    const out: Stmt[] = [];
    while (!is('}')) {
      if (peek().t === 'eof') err(peek(), "syntax error, unexpected end of file, expecting '}'");
      if (is(';')) {
        p++;
        continue;
      }
      out.push(stmt());
    }
    expect('}');
    return out;
  };
  const stmt = (): Stmt => {
    const t = peek();
    if (t.t === 'id' && t.v === 'if') {
      p++;
      expect('(');
      const cond = expr();
      expect(')');
      const then = block();
      let els: Stmt[] = [];
      if (peek().t === 'id' && peek().v === 'else') {
        p++;
        els = peek().t === 'id' && peek().v === 'if' ? [stmt()] : block();
      }
      return { k: 'if', cond, then, else: els };
    }
    if (t.t === 'var' && is('=', 1)) {
      p += 2;
      return { k: 'assignVar', name: t.v, value: expr() };
    }
    const e = expr();
    if (e.k === 'map' && (is('++') || is('--'))) {
      const op = peek().v === '++' ? '+' : '-';
      p++;
      return { k: 'assignMap', map: e.name, keys: e.keys, value: { k: 'binary', op, l: e, r: { k: 'int', v: 1n } } };
    }
    if (e.k === 'map' && (is('+=') || is('-='))) {
      const op = peek().v[0]!;
      p++;
      return { k: 'assignMap', map: e.name, keys: e.keys, value: { k: 'binary', op, l: e, r: expr() } };
    }
    if (e.k === 'map' && is('=')) {
      p++;
      return { k: 'assignMap', map: e.name, keys: e.keys, value: expr() };
    }
    return { k: 'expr', e };
  };

  const groups: ProbeGroup[] = [];
  while (peek().t !== 'eof') {
    const probes = [probe()];
    while (is(',')) {
      p++;
      probes.push(probe());
    }
    let filter: Expr | null = null;
    if (is('/')) {
      p++;
      filter = filterExpr();
      expect('/');
    }
    groups.push({ probes, filter, body: block() });
  }
  if (groups.length === 0) throw new BpftraceError('stdin:1:1: ERROR: the program has no probes');
  return groups;
}
