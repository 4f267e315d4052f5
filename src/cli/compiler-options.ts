/**
 * The compiler options kmemsim's commands share for the modules they build
 * from C (`run`, `compare`; `cc` declares the same flags with its own help):
 * -I, -D, -O and --cflags, given in gcc's attached forms too (-Iinclude,
 * -DNAME=1, -O0), turned into gcc flags in the order given: -I..., -D...,
 * -O..., then --cflags's words (quoted as in a shell). Later flags win, so
 * -O0 overrides the module flags' -O2.
 */
import type { Argv } from 'yargs';
import type { CommandArgs } from './command.js';

/** -I, -D, -O and --cflags as `run` and `compare` declare them. */
export function compilerOptions<T>(y: Argv<T>) {
  return y
    .option('I', { type: 'string', describe: 'compiling modules: add an include directory' })
    .option('D', { type: 'string', describe: 'compiling modules: define a macro, NAME or NAME=VALUE' })
    .option('O', { type: 'string', describe: 'compiling modules: optimization level (default 2)' })
    .option('cflags', { type: 'string', describe: 'compiling modules: more gcc flags, after the module flags' });
}

/** The gcc flags the compiler options of `a` say, in command-line order: -I, -D, -O, then --cflags words. */
export function compilerFlags(a: CommandArgs): string[] {
  const out: string[] = [];
  for (const i of list(a.I)) out.push(`-I${i}`);
  for (const d of list(a.D)) out.push(`-D${d}`);
  if (a.O !== undefined) out.push(`-O${a.O as string}`);
  if (a.cflags) out.push(...splitFlags(a.cflags as string));
  return out;
}

/** Split a --cflags string into words, with '...' and "..." quoting as a shell would. */
export function splitFlags(s: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s'"]+)/g;
  let m: RegExpExecArray | null;
  let cur = '';
  let last = -1;
  while ((m = re.exec(s)) !== null) {
    const piece = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] ?? m[3]!;
    if (last === m.index) cur += piece;
    else {
      if (last >= 0) out.push(cur);
      cur = piece;
    }
    last = re.lastIndex;
  }
  if (last >= 0) out.push(cur);
  return out;
}

/**
 * gcc's attached forms for `cc`, `run` and `compare` (-Iinclude, -DNAME=1, -O0) as yargs reads them (-I include,
 * -D NAME=1, -O 0): yargs would take -DNAME for a group of one-letter flags. Arguments after `--` stay.
 */
export function compilerStyleFlags(argv: string[]): string[] {
  if (argv[0] !== 'cc' && argv[0] !== 'run' && argv[0] !== 'compare') return argv;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return [...out, ...argv.slice(i)];
    if (a === '--cflags' && i + 1 < argv.length) {
      out.push(`--cflags=${argv[++i]}`); // its value starts with '-', which yargs would take for an option
      continue;
    }
    const m = /^-([IDO])(.+)$/.exec(a);
    if (m) out.push(`-${m[1]}`, m[2]!);
    else out.push(a);
  }
  return out;
}

/** A repeatable option's values (yargs gives one value as a string, several as an array). */
export function list(v: unknown): string[] {
  return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String);
}
