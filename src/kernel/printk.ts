/**
 * printk() and the kernel's vsnprintf(), modelled on Linux's
 * lib/vsprintf.c and kernel/printk.c of the kmemcheck era (2.6.31).
 *
 * Formatting (`vsprintf`) follows Linux's `vsnprintf()`, which differs from
 * C99 printf in places that matter when comparing output byte for byte:
 *
 * - conversions `%d %i %u %o %x %X %c %s %p %%`; flags `- + space # 0`;
 *   field width and precision, as digits or `*` (a negative `*` width
 *   means left-justify; a negative precision counts as 0); length
 *   modifiers `hh h l ll L z Z t` (and `q`, `j` as 64-bit). A 64-bit
 *   argument (`%lld`, `%llx`, …) is read as two stack dwords, low first,
 *   as i386 passes it;
 * - numbers are formatted by Linux's `number()`: the `0` flag still
 *   applies when a precision is given, `%#x` of 0 prints `0x0`, `%#o`
 *   always prints a leading 0, a precision of 0 still prints the digit 0;
 * - `%s`: a pointer below 4096 (NULL, ZERO_SIZE_PTR) prints `(null)`; an
 *   unreadable pointer prints `(efault)` (as Linux since 4.x does, where
 *   2.6 would oops); the precision limits the bytes read; the `0` flag pads
 *   with spaces;
 * - `%p`: NULL prints `(null)`; otherwise the pointer in lowercase hex,
 *   zero-padded to 8 digits **without a `0x` prefix** (`c0123abc`), as
 *   2.6 kernels print EIPs in oopses (`%#p` adds the prefix, inside the
 *   field width, as `number()` does). Every alphanumeric character after
 *   `%p` is an extension and is consumed (Linux 2.6.28+): `%pS`/`%pF` print
 *   `symbol+0xoff/0xsize` and `%ps`/`%pf` the bare symbol when the address
 *   is a known kernel symbol (`FormatEnv.symbolize`), `0x…` otherwise;
 *   other extensions print the plain pointer;
 * - `%n` consumes its argument and writes nothing (as Linux does since 3.x);
 * - an unknown conversion prints `%` and the character.
 *
 * printk (`Printk.emit`): the message is formatted into a 1024-byte buffer
 * (longer output is truncated to 1023 characters, as `printk_buf[1024]`
 * truncates); then a level prefix is taken off — `<N>` (the 2.6 form,
 * N = 0–7, `c` for KERN_CONT, `d` for KERN_DEFAULT) or `"\001"` + N (the
 * KERN_SOH form of 3.6+, possibly repeated). A message without a level has
 * default_message_loglevel (4, KERN_WARNING); KERN_CONT continues the
 * previous message's level. The rest goes to the console sink with the
 * level; the return value is the number of characters of that rest (as
 * Linux 3.5+ counts; 2.6 also counted the prefix it stored).
 */
import { GuestFault } from './guest-memory.js';
import { PAGE_SIZE } from './layout.js';

/** Where printk's text goes: the message without its level prefix, the level 0–7, and whether it continues the previous one. */
export type ConsoleSink = (text: string, level: number, continuation: boolean) => void;

export const KERN_EMERG = 0;
export const KERN_ALERT = 1;
export const KERN_CRIT = 2;
export const KERN_ERR = 3;
export const KERN_WARNING = 4;
export const KERN_NOTICE = 5;
export const KERN_INFO = 6;
export const KERN_DEBUG = 7;
/** default_message_loglevel: the level of a message without a prefix. */
export const DEFAULT_MESSAGE_LOGLEVEL = KERN_WARNING;
/** printk_buf's size: a message is at most this minus one characters. */
export const PRINTK_BUF_SIZE = 1024;
/** The most bytes a `%s` reads from guest memory (a string longer than this is cut). */
export const MAX_STRING = 65536;

/**
 * The host-side guest-memory operations printk and the kernel API use on
 * guest pointers (format strings, `%s` arguments, stack arguments, output
 * buffers). The kernel's `GuestMemory` is one; a checker can pass a
 * wrapper that also sees pages it has hidden and applies its shadow
 * semantics (a host read of uninitialized bytes, a host write marking
 * bytes initialized). Unreadable or unwritable addresses throw
 * `GuestFault`.
 */
export interface GuestAccessor {
  read(lin: number, len: number): Uint8Array;
  write(lin: number, data: Uint8Array): void;
  read32(lin: number): number;
  /**
   * The routine consumed [lin, lin + n) as data — a `%s` string up to and
   * including its NUL, as vsnprintf's string() reads it byte by byte —
   * rather than merely reading ahead. Checkers check these bytes.
   */
  used?(lin: number, n: number): void;
}

/** The variadic arguments, one stack dword at a time (i386: every argument is 4-byte aligned). */
export interface VarArgs {
  /** The next dword (int, long, pointer, char and short promoted). */
  next32(): number;
  /** The next two dwords as an unsigned 64-bit value, low dword first. */
  next64(): bigint;
}

/** Arguments read from guest memory, from `addr` up (a va_list on i386 is that pointer). */
export class GuestVarArgs implements VarArgs {
  constructor(private readonly mem: GuestAccessor, public addr: number) {}
  next32(): number {
    const v = this.mem.read32(this.addr);
    this.addr = (this.addr + 4) | 0;
    return v;
  }
  next64(): bigint {
    const lo = this.next32();
    const hi = this.next32();
    return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  }
}

/** Arguments given host-side (tests): numbers are dwords, bigints take two dwords (low first). */
export class ArrayVarArgs implements VarArgs {
  private readonly dwords: number[] = [];
  private i = 0;
  constructor(values: (number | bigint)[]) {
    for (const v of values) {
      if (typeof v === 'bigint') {
        const u = BigInt.asUintN(64, v);
        this.dwords.push(Number(u & 0xffffffffn), Number(u >> 32n));
      } else this.dwords.push(v >>> 0);
    }
  }
  next32(): number {
    if (this.i >= this.dwords.length) throw new RangeError('vsprintf: more conversions than arguments');
    return this.dwords[this.i++] | 0;
  }
  next64(): bigint {
    const lo = this.next32();
    const hi = this.next32();
    return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  }
}

/** A kernel symbol an address falls in (for %pS). */
export interface SymbolHit {
  name: string;
  offset: number;
  size: number;
}

export interface FormatEnv {
  /** A NUL-terminated string of at most `max` bytes (as latin1), or null when it cannot be read. */
  readString(ptr: number, max: number): string | null;
  symbolize?(addr: number): SymbolHit | null;
}

/** A string from guest memory (chunked by page, stopping at NUL); null when the first unreadable byte comes before it. */
export function readGuestString(mem: GuestAccessor, ptr: number, max: number): string | null {
  let out = '';
  let a = ptr >>> 0;
  while (out.length < max) {
    const n = Math.min(max - out.length, PAGE_SIZE - (a & 0xfff));
    let chunk: Uint8Array;
    try {
      chunk = mem.read(a | 0, n);
    } catch (e) {
      if (e instanceof GuestFault) return null;
      throw e;
    }
    const z = chunk.indexOf(0);
    out += Buffer.from(z < 0 ? chunk : chunk.subarray(0, z)).toString('latin1');
    if (z >= 0) {
      mem.used?.(ptr, out.length + 1);
      return out;
    }
    a = (a + n) >>> 0;
  }
  mem.used?.(ptr, out.length);
  return out;
}

/** The environment for guest strings through the kernel's memory accessor. */
export function guestFormatEnv(mem: GuestAccessor, symbolize?: (addr: number) => SymbolHit | null): FormatEnv {
  return { readString: (ptr, max) => readGuestString(mem, ptr, max), symbolize };
}

// Linux's number() flags.
const ZEROPAD = 1, SIGN = 2, PLUS = 4, SPACE = 8, LEFT = 16, SPECIAL = 32, LARGE = 64;

/** Linux's number(): `num` is already signed (SIGN) or unsigned. */
function number(num: bigint, base: number, size: number, precision: number, type: number): string {
  const digits = type & LARGE ? '0123456789ABCDEF' : '0123456789abcdef';
  if (type & LEFT) type &= ~ZEROPAD;
  let sign = '';
  if (type & SIGN) {
    if (num < 0n) {
      sign = '-';
      num = -num;
      size--;
    } else if (type & PLUS) {
      sign = '+';
      size--;
    } else if (type & SPACE) {
      sign = ' ';
      size--;
    }
  }
  if (type & SPECIAL) {
    if (base === 16) size -= 2;
    else if (base === 8) size--;
  }
  let tmp = '';
  if (num === 0n) tmp = '0';
  else {
    const b = BigInt(base);
    while (num !== 0n) {
      tmp = digits[Number(num % b)] + tmp;
      num /= b;
    }
  }
  if (tmp.length > precision) precision = tmp.length;
  size -= precision;
  let out = '';
  if (!(type & (ZEROPAD | LEFT)) && size > 0) {
    out += ' '.repeat(size);
    size = 0;
  }
  out += sign;
  if (type & SPECIAL) {
    if (base === 8) out += '0';
    else if (base === 16) out += type & LARGE ? '0X' : '0x';
  }
  if (!(type & LEFT) && size > 0) {
    out += (type & ZEROPAD ? '0' : ' ').repeat(size);
    size = 0;
  }
  out += '0'.repeat(precision - tmp.length) + tmp;
  if (size > 0) out += ' '.repeat(size);
  return out;
}

/** Linux's string(): `s` padded to `width`, cut at `precision` (−1: no limit). */
function padString(s: string, width: number, precision: number, flags: number): string {
  if (precision >= 0 && s.length > precision) s = s.slice(0, precision);
  const pad = width > s.length ? ' '.repeat(width - s.length) : '';
  return flags & LEFT ? s + pad : pad + s;
}

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isAlnum = (c: string | undefined): boolean => c !== undefined && /^[0-9A-Za-z]$/.test(c);

/**
 * vsnprintf()'s formatting: `fmt` and the result are byte strings (latin1).
 * The whole result is returned; callers truncate to their buffer.
 */
export function vsprintf(fmt: string, args: VarArgs, env: FormatEnv): string {
  let out = '';
  let i = 0;
  while (i < fmt.length) {
    const pct = fmt.indexOf('%', i);
    if (pct < 0) {
      out += fmt.slice(i);
      break;
    }
    out += fmt.slice(i, pct);
    i = pct + 1;
    // Flags.
    let flags = 0;
    for (;;) {
      const c = fmt[i];
      if (c === '-') flags |= LEFT;
      else if (c === '+') flags |= PLUS;
      else if (c === ' ') flags |= SPACE;
      else if (c === '#') flags |= SPECIAL;
      else if (c === '0') flags |= ZEROPAD;
      else break;
      i++;
    }
    // Field width.
    let width = -1;
    if (isDigit(fmt[i])) {
      width = 0;
      while (isDigit(fmt[i])) width = width * 10 + (fmt.charCodeAt(i++) - 48);
    } else if (fmt[i] === '*') {
      i++;
      width = args.next32();
      if (width < 0) {
        width = -width;
        flags |= LEFT;
      }
    }
    // Precision.
    let precision = -1;
    if (fmt[i] === '.') {
      i++;
      if (isDigit(fmt[i])) {
        precision = 0;
        while (isDigit(fmt[i])) precision = precision * 10 + (fmt.charCodeAt(i++) - 48);
      } else if (fmt[i] === '*') {
        i++;
        precision = args.next32();
      } else precision = 0;
      if (precision < 0) precision = 0;
    }
    // Length modifier: h hh l ll L q j z Z t.
    let qual = '';
    const q = fmt[i];
    if (q === 'h' || q === 'l' || q === 'L' || q === 'q' || q === 'j' || q === 'Z' || q === 'z' || q === 't') {
      qual = q;
      i++;
      if (q === 'l' && fmt[i] === 'l') {
        qual = 'L';
        i++;
      } else if (q === 'h' && fmt[i] === 'h') {
        qual = 'H';
        i++;
      }
      if (qual === 'q' || qual === 'j') qual = 'L';
    }
    const conv = fmt[i++];
    let base = 10;
    switch (conv) {
      case undefined:
        // A lone '%' at the end: Linux prints it.
        out += '%';
        continue;
      case 'c': {
        const ch = String.fromCharCode(args.next32() & 0xff);
        out += padString(ch, width, -1, flags);
        continue;
      }
      case 's': {
        const p = args.next32() >>> 0;
        const max = precision >= 0 ? Math.min(precision, MAX_STRING) : MAX_STRING;
        const s = p < PAGE_SIZE ? '(null)' : env.readString(p, max) ?? '(efault)';
        out += padString(s, width, precision, flags);
        continue;
      }
      case 'p': {
        const p = args.next32() >>> 0;
        let ext = '';
        while (isAlnum(fmt[i])) ext += fmt[i++];
        out += pointer(p, ext, width, precision, flags, env);
        continue;
      }
      case 'n':
        args.next32();
        continue;
      case '%':
        out += '%';
        continue;
      case 'o':
        base = 8;
        break;
      case 'X':
        flags |= LARGE;
        base = 16;
        break;
      case 'x':
        base = 16;
        break;
      case 'd':
      case 'i':
        flags |= SIGN;
        break;
      case 'u':
        break;
      default:
        out += '%' + conv;
        continue;
    }
    const signed = (flags & SIGN) !== 0;
    let num: bigint;
    if (qual === 'L') num = signed ? BigInt.asIntN(64, args.next64()) : args.next64();
    else {
      const bits = qual === 'H' ? 8 : qual === 'h' ? 16 : 32;
      const v = BigInt(args.next32() >>> 0);
      num = signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v);
    }
    out += number(num, base, width, precision, flags);
  }
  return out;
}

/** Linux's pointer(): %p and its extensions. */
function pointer(p: number, ext: string, width: number, precision: number, flags: number, env: FormatEnv): string {
  if (p === 0) return padString('(null)', width, precision, flags);
  const kind = ext[0];
  if (kind === 'S' || kind === 'F' || kind === 's' || kind === 'f') {
    const hit = env.symbolize?.(p);
    const text = hit
      ? kind === 'S' || kind === 'F'
        ? `${hit.name}+0x${hit.offset.toString(16)}/0x${hit.size.toString(16)}`
        : hit.name
      : '0x' + p.toString(16);
    return padString(text, width, precision, flags);
  }
  if (width === -1) {
    width = 8;
    flags |= ZEROPAD;
  }
  return number(BigInt(p), 16, width, precision, flags);
}

/** A level prefix taken off a message. */
export interface Leveled {
  text: string;
  /** 0–7, or null when the message had none (or KERN_DEFAULT). */
  level: number | null;
  continuation: boolean;
}

/** Take the `<N>` or `\001N` prefix(es) off a message (printk_get_level() / log_prefix()). */
export function stripLevel(msg: string): Leveled {
  let level: number | null = null;
  let continuation = false;
  const take = (c: string): void => {
    if (c === 'c') continuation = true;
    else if (c === 'd') level = null;
    else level = c.charCodeAt(0) - 48;
  };
  const ok = (c: string | undefined): c is string => c !== undefined && ((c >= '0' && c <= '7') || c === 'c' || c === 'd');
  if (msg[0] === '\x01' && ok(msg[1])) {
    while (msg[0] === '\x01' && ok(msg[1])) {
      take(msg[1]);
      msg = msg.slice(2);
    }
  } else if (msg[0] === '<' && ok(msg[1]) && msg[2] === '>') {
    take(msg[1]);
    msg = msg.slice(3);
  }
  return { text: msg, level, continuation };
}

/** The kernel log: levels, truncation and the console sink. */
export class Printk {
  private lastLevel = DEFAULT_MESSAGE_LOGLEVEL;
  defaultLevel = DEFAULT_MESSAGE_LOGLEVEL;

  constructor(private readonly sink: ConsoleSink) {}

  /** Log an already formatted message (printk's second half); returns the characters logged. */
  emit(formatted: string): number {
    if (formatted.length > PRINTK_BUF_SIZE - 1) formatted = formatted.slice(0, PRINTK_BUF_SIZE - 1);
    const m = stripLevel(formatted);
    const level = m.level ?? (m.continuation ? this.lastLevel : this.defaultLevel);
    this.lastLevel = level;
    this.sink(m.text, level, m.continuation);
    return m.text.length;
  }

  /** printk(fmt, ...) with host-side arguments. */
  printk(fmt: string, args: VarArgs, env: FormatEnv): number {
    return this.emit(vsprintf(fmt, args, env));
  }
}
