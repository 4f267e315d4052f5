/**
 * Suppressions in Valgrind's format (`--suppressions FILE`, repeatable;
 * `--gen-suppressions=yes|all`), for every checker's findings:
 *
 *   # a comment
 *   {
 *      uninit-padding-in-foo            the suppression's name (any text)
 *      kmemcheck:Uninitialized          TOOL:KIND
 *      fun:copy_*                       the innermost frame first ...
 *      obj:uninit-kmalloc.c
 *      ...                              zero or more frames
 *      src:thing.c:42                   a frame's source file (and line)
 *   }
 *
 * As in Valgrind (docs "Suppressing errors", coregrind/m_errormgr.c):
 * blank lines and lines starting with `#` are ignored, every line is
 * trimmed; TOOL is a comma-separated list of tool names and a suppression
 * whose list does not name `kmemcheck` is read (and syntax-checked) but
 * never matches — a file shared with Memcheck works; a suppression
 * matches when its frames match the finding's stack from the innermost
 * frame outwards (the stack may be deeper than the suppression); `*`
 * matches any run of characters and `?` one character, in `fun:`,
 * `obj:` and `src:`; `...` (a line of its own) matches any number of
 * frames, none included. A syntax error stops kmemsim before anything runs
 * with `FILE:LINE: what is wrong` (exit status 2).
 *
 * KIND is one of `Uninitialized`, `Unallocated`, `Freed` (heap findings:
 * kmemcheck, the inline checker) and `Stack` (any finding of a stack
 * strategy: cpl1, ftrace, precise). `obj:` matches the module's file name
 * (its basename, e.g. `uninit-kmalloc.c`) for frames in the module and
 * its runtime, `[kernel]` for the simulated kernel's routines. A frame
 * whose function is unknown matches `fun:` patterns as `???`.
 */
import * as fs from 'node:fs';
import { basename } from 'node:path';
import type { Finding } from '../shadow/report.js';

export const TOOL = 'kmemcheck';
export const KINDS = ['Uninitialized', 'Unallocated', 'Freed', 'Stack'] as const;
export type SuppressionKind = (typeof KINDS)[number];
/** `obj:` of frames outside the module. */
export const KERNEL_OBJ = '[kernel]';

/** A bad suppression file: `FILE:LINE: message`. */
export class SuppressionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SuppressionError';
  }
}

type FramePattern = { kind: 'fun' | 'obj'; pattern: RegExp } | { kind: 'src'; pattern: RegExp; line: number | null } | { kind: 'any' };

export interface Suppression {
  name: string;
  /** Where it was read: `FILE:LINE` of its `{`. */
  where: string;
  /** Names kmemcheck among its tools. */
  ours: boolean;
  kind: string;
  frames: FramePattern[];
  /** Findings it silenced so far. */
  count: number;
}

/** `*` and `?` wildcards, the rest literal, the whole string. */
function wildcard(p: string): RegExp {
  return new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$', 's');
}

/** Parse one suppression file's text; `file` names it in messages. */
export function parseSuppressions(text: string, file: string): Suppression[] {
  const lines = text.split(/\r?\n/);
  const out: Suppression[] = [];
  let i = 0;
  /** The next line that is not blank or a comment, trimmed, with its number; null at the end. */
  const next = (): { text: string; no: number } | null => {
    while (i < lines.length) {
      const t = lines[i++]!.trim();
      if (t !== '' && !t.startsWith('#')) return { text: t, no: i };
    }
    return null;
  };
  const fail = (no: number, what: string): never => {
    throw new SuppressionError(`${file}:${no}: ${what}`);
  };
  for (let open = next(); open !== null; open = next()) {
    if (open.text !== '{') fail(open.no, `expected '{' to start a suppression, found '${open.text}'`);
    const name = next();
    if (name === null) fail(lines.length, 'unexpected end of file: a suppression needs a name, a TOOL:KIND line and frames');
    if (name!.text === '}' || name!.text === '{') fail(name!.no, 'a suppression needs a name line after \'{\'');
    const tk = next();
    if (tk === null) fail(lines.length, `unexpected end of file in suppression '${name!.text}'`);
    const m = /^([A-Za-z0-9_,-]+):([A-Za-z0-9_]+)$/.exec(tk!.text);
    if (!m) fail(tk!.no, `expected TOOL:KIND (e.g. kmemcheck:Uninitialized), found '${tk!.text}'`);
    const tools = m![1]!.split(',');
    const ours = tools.includes(TOOL);
    const kind = m![2]!;
    if (ours && !(KINDS as readonly string[]).includes(kind)) fail(tk!.no, `unknown kmemcheck suppression kind '${kind}' (expected ${KINDS.join(', ')})`);
    const frames: FramePattern[] = [];
    for (;;) {
      const l = next();
      if (l === null) fail(lines.length, `unexpected end of file in suppression '${name!.text}': missing '}'`);
      const t = l!.text;
      if (t === '}') break;
      if (t === '{') fail(l!.no, `'{' inside suppression '${name!.text}': missing '}'`);
      if (t === '...') frames.push({ kind: 'any' });
      else if (t.startsWith('fun:') && t.length > 4) frames.push({ kind: 'fun', pattern: wildcard(t.slice(4)) });
      else if (t.startsWith('obj:') && t.length > 4) frames.push({ kind: 'obj', pattern: wildcard(t.slice(4)) });
      else if (t.startsWith('src:') && t.length > 4) {
        const s = /^src:(.+?)(?::(\d+))?$/.exec(t)!;
        frames.push({ kind: 'src', pattern: wildcard(s[1]!), line: s[2] !== undefined ? Number(s[2]) : null });
      } else fail(l!.no, `expected a frame line (fun:NAME, obj:NAME, src:FILE[:LINE] or ...), found '${t}'`);
    }
    if (frames.length === 0) fail(open.no, `suppression '${name!.text}' has no frame lines (fun:, obj:, src: or ...)`);
    out.push({ name: name!.text, where: `${file}:${open.no}`, ours, kind, frames, count: 0 });
  }
  return out;
}

/** A frame as the matcher sees it. */
export interface MatchFrame {
  fun: string | null;
  obj: string;
  file: string | null;
  line: number | null;
}

/** The suppression kind of a finding. */
export function suppressionKind(f: Finding): SuppressionKind {
  if (f.region === 'stack') return 'Stack';
  return f.kind === 'unallocated' ? 'Unallocated' : f.kind === 'freed' ? 'Freed' : 'Uninitialized';
}

function frameMatches(p: FramePattern, f: MatchFrame): boolean {
  switch (p.kind) {
    case 'fun':
      return p.pattern.test(f.fun ?? '???');
    case 'obj':
      return p.pattern.test(f.obj);
    case 'src':
      return f.file !== null && (p.pattern.test(f.file) || p.pattern.test(basename(f.file))) && (p.line === null || p.line === f.line);
    default:
      return true;
  }
}

/** Valgrind's matcher: patterns against frames from the innermost; `...` any number of frames; the stack may go on. */
function stackMatches(pats: FramePattern[], frames: MatchFrame[], pi = 0, fi = 0): boolean {
  if (pi === pats.length) return true;
  const p = pats[pi]!;
  if (p.kind === 'any') {
    for (let k = fi; k <= frames.length; k++) if (stackMatches(pats, frames, pi + 1, k)) return true;
    return false;
  }
  return fi < frames.length && frameMatches(p, frames[fi]!) && stackMatches(pats, frames, pi + 1, fi + 1);
}

/** The frames of a finding, with `obj` from `objOf` (the module's name, or KERNEL_OBJ). */
export function matchFrames(f: Finding, objOf: (address: number) => string): MatchFrame[] {
  return f.stack.map((fr) => ({ fun: fr.function, obj: objOf(fr.address), file: fr.file ?? null, line: fr.line ?? null }));
}

/** Every suppression read from the files, in order; the first that matches a finding silences it. */
export class SuppressionSet {
  constructor(readonly list: Suppression[]) {}

  /** Read and parse `files` (a SuppressionError names the file and line; an unreadable file too). */
  static load(files: readonly string[]): SuppressionSet {
    const all: Suppression[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new SuppressionError(`cannot read suppression file ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? (e as Error).message)}`);
      }
      all.push(...parseSuppressions(text, file));
    }
    return new SuppressionSet(all);
  }

  /** The suppression that silences `f` (its count goes up), or null. */
  match(f: Finding, objOf: (address: number) => string): Suppression | null {
    const kind = suppressionKind(f);
    const frames = matchFrames(f, objOf);
    for (const s of this.list) {
      if (!s.ours || s.kind !== kind) continue;
      if (stackMatches(s.frames, frames)) {
        s.count++;
        return s;
      }
    }
    return null;
  }

  /** Valgrind -v's "used_suppression:" lines: count, name, where. */
  usedLines(): string[] {
    return this.list.filter((s) => s.count > 0).map((s) => `used_suppression: ${String(s.count).padStart(6)} ${s.name} ${s.where}`);
  }
}

/** A ready suppression for `f`, as --gen-suppressions prints it (Valgrind's layout: three-space indent). */
export function formatSuppression(f: Finding, objOf: (address: number) => string): string {
  const lines = ['{', '   <insert_a_suppression_name_here>', `   ${TOOL}:${suppressionKind(f)}`];
  for (const fr of matchFrames(f, objOf)) lines.push(fr.fun !== null ? `   fun:${fr.fun}` : `   obj:${fr.obj}`);
  lines.push('}');
  return lines.join('\n');
}
