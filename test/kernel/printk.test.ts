/**
 * printk's formatting (Linux's lib/vsprintf.c rules, which differ from C99
 * in places) and its level handling, host-side. Guest calls are in
 * kapi.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  ArrayVarArgs, Printk, stripLevel, vsprintf, readGuestString, PRINTK_BUF_SIZE, type FormatEnv,
} from '../../src/kernel/printk.js';
import { Kernel } from '../../src/kernel/kernel.js';
import { kva } from '../../src/kernel/layout.js';

const strings: Record<number, string> = { 0xc0100000: 'hello', 0xc0100010: '', 0xc0100020: 'kmemcheck' };
const env: FormatEnv = {
  readString: (p, max) => (p in strings ? strings[p].slice(0, max) : null),
  symbolize: (a) => (a >= 0xc0007800 && a < 0xc0007808 ? { name: 'kmalloc', offset: a - 0xc0007800, size: 8 } : null),
};
const f = (fmt: string, ...args: (number | bigint)[]): string => vsprintf(fmt, new ArrayVarArgs(args), env);

describe('vsprintf conversions', () => {
  it('%d %i %u with signs', () => {
    expect(f('%d %i %d', 42, -5, 0)).toBe('42 -5 0');
    expect(f('%d', 0x80000000)).toBe('-2147483648');
    expect(f('%u', -1)).toBe('4294967295');
    expect(f('%u', 7)).toBe('7');
    expect(f('%+d %+d % d % d', 3, -3, 3, -3)).toBe('+3 -3  3 -3');
  });

  it('%x %X %o and the # flag (Linux number(): %#x of 0 is 0x0, %#o always has its 0)', () => {
    expect(f('%x %X', 0xdeadbeef, 0xdeadbeef)).toBe('deadbeef DEADBEEF');
    expect(f('%x', -1)).toBe('ffffffff');
    expect(f('%o %o', 8, 0)).toBe('10 0');
    expect(f('%#x %#X %#o', 255, 255, 8)).toBe('0xff 0XFF 010');
    expect(f('%#x %#o', 0, 0)).toBe('0x0 00');
    expect(f('%#10x|%#-10x|%#010x', 255, 255, 255)).toBe('      0xff|0xff      |0x000000ff');
  });

  it('field width, zero padding, left justification and precision', () => {
    expect(f('[%5d]', 42)).toBe('[   42]');
    expect(f('[%-5d]', 42)).toBe('[42   ]');
    expect(f('[%05d]', 42)).toBe('[00042]');
    expect(f('[%05d]', -42)).toBe('[-0042]');
    expect(f('[%-05d]', -42)).toBe('[-42  ]');
    expect(f('[%.3d]', 7)).toBe('[007]');
    expect(f('[%6.3d]', -7)).toBe('[  -007]');
    // Unlike C99, Linux keeps zero padding when a precision is given.
    expect(f('[%08.3d]', 7)).toBe('[00000007]');
    // ... and prints the 0 even with precision 0.
    expect(f('[%.0d]', 0)).toBe('[0]');
    expect(f('[%1d]', 12345)).toBe('[12345]');
    expect(f('[%08x]', 0xbeef)).toBe('[0000beef]');
  });

  it('* width and precision from the arguments', () => {
    expect(f('[%*d]', 5, 42)).toBe('[   42]');
    expect(f('[%*d]', -5, 42)).toBe('[42   ]');
    expect(f('[%-*d]', 4, 1)).toBe('[1   ]');
    expect(f('[%.*s]', 2, 0xc0100000)).toBe('[he]');
    expect(f('[%.*d]', -3, 5)).toBe('[5]');
    expect(f('[%*.*d]', 6, 3, 5)).toBe('[   005]');
  });

  it('length modifiers: l, ll (two stack dwords), h, hh, z, t, L, q, j', () => {
    expect(f('%ld %lu %lx', -3, -3, -3)).toBe('-3 4294967293 fffffffd');
    expect(f('%lld', -1n)).toBe('-1');
    expect(f('%lld', -9223372036854775808n)).toBe('-9223372036854775808');
    expect(f('%llu', 1n << 40n)).toBe('1099511627776');
    expect(f('%llu', -1n)).toBe('18446744073709551615');
    expect(f('%llx %llX', 0x123456789abcdefn, 0xfedcba9876543210n)).toBe('123456789abcdef FEDCBA9876543210');
    // The 64-bit argument takes exactly two dwords: the next conversion reads the third.
    expect(f('%lld %d %llu', -2n, 7, 5n)).toBe('-2 7 5');
    expect(f('%Ld %qd %jd', 10n, 11n, 12n)).toBe('10 11 12');
    expect(f('[%020lld]', -123456789012n)).toBe('[-0000000123456789012]');
    expect(f('%hd %hu %hx', 0x12348765, 0xffffffff, 0x12345678)).toBe('-30875 65535 5678');
    expect(f('%hhd %hhu %hhx', 0xff, 0x1ff, 0xabc)).toBe('-1 255 bc');
    expect(f('%zu %zd %Zu %td', 4096, -1, 9, -4)).toBe('4096 -1 9 -4');
  });

  it('%c', () => {
    expect(f('%c%c%c', 0x41, 0x42, 0x143)).toBe('ABC');
    expect(f('[%3c][%-3c]', 0x78, 0x79)).toBe('[  x][y  ]');
  });

  it('%s: width, precision, NULL and unreadable pointers', () => {
    expect(f('%s, %s!', 0xc0100000, 0xc0100020)).toBe('hello, kmemcheck!');
    expect(f('[%10s][%-10s]', 0xc0100000, 0xc0100000)).toBe('[     hello][hello     ]');
    expect(f('[%.3s][%5.2s][%.0s]', 0xc0100020, 0xc0100000, 0xc0100000)).toBe('[kme][   he][]');
    expect(f('[%s]', 0xc0100010)).toBe('[]');
    expect(f('[%s][%8s]', 0, 0x10)).toBe('[(null)][  (null)]');
    expect(f('[%s]', 0xc0dead00)).toBe('[(efault)]');
    // The 0 flag pads strings with spaces.
    expect(f('[%07s]', 0xc0100000)).toBe('[  hello]');
  });

  it('%p: 8 zero-padded lowercase hex digits without 0x, (null) for NULL, extensions consumed', () => {
    expect(f('%p', 0xc0123abc)).toBe('c0123abc');
    expect(f('%p', 0x1234)).toBe('00001234');
    expect(f('%p', 0)).toBe('(null)');
    expect(f('%#p', 0x1234)).toBe('0x001234');
    expect(f('[%12p]', 0xc0123abc)).toBe('[    c0123abc]');
    expect(f('%pS %ps %pF', 0xc0007803, 0xc0007800, 0xc0007800)).toBe('kmalloc+0x3/0x8 kmalloc kmalloc+0x0/0x8');
    expect(f('%pS', 0xc0400000)).toBe('0xc0400000');
    // Every alphanumeric after %p is an extension: "%pabc." prints the pointer then ".".
    expect(f('<%pabc.>', 0xc0000010)).toBe('<c0000010.>');
    expect(f('%pM-%d', 0xc0000010, 5)).toBe('c0000010-5');
  });

  it('%%, %n, unknown conversions and a trailing %', () => {
    expect(f('100%%')).toBe('100%');
    expect(f('a%nb%d', 0xc0100000, 3)).toBe('ab3');
    expect(f('%y%d', 1)).toBe('%y1');
    expect(f('50%')).toBe('50%');
    expect(f('no conversions')).toBe('no conversions');
  });
});

describe('printk levels', () => {
  it('strips <N> and SOH prefixes and keeps the level', () => {
    expect(stripLevel('<3>oops\n')).toEqual({ text: 'oops\n', level: 3, continuation: false });
    expect(stripLevel('\x016info')).toEqual({ text: 'info', level: 6, continuation: false });
    expect(stripLevel('\x01c more')).toEqual({ text: ' more', level: null, continuation: true });
    expect(stripLevel('<c>more')).toEqual({ text: 'more', level: null, continuation: true });
    expect(stripLevel('<d>x')).toEqual({ text: 'x', level: null, continuation: false });
    expect(stripLevel('\x01c\x013x')).toEqual({ text: 'x', level: 3, continuation: true });
    expect(stripLevel('<8>x')).toEqual({ text: '<8>x', level: null, continuation: false });
    expect(stripLevel('<1><2>x')).toEqual({ text: '<2>x', level: 1, continuation: false });
    expect(stripLevel('plain')).toEqual({ text: 'plain', level: null, continuation: false });
  });

  it('sends the text to the console with the level, the default or the previous one; returns the length', () => {
    const out: [string, number, boolean][] = [];
    const log = new Printk((t, l, c) => out.push([t, l, c]));
    expect(log.emit('<2>critical ')).toBe(9);
    expect(log.emit('<c>continued\n')).toBe(10);
    expect(log.emit('no level\n')).toBe(9);
    expect(log.emit('\x017debug\n')).toBe(6);
    expect(log.printk('<6>%s=%d\n', new ArrayVarArgs([0xc0100000, 5]), env)).toBe(8);
    expect(out).toEqual([
      ['critical ', 2, false],
      ['continued\n', 2, true],
      ['no level\n', 4, false],
      ['debug\n', 7, false],
      ['hello=5\n', 6, false],
    ]);
  });

  it('truncates a message to printk_buf (1023 characters, level prefix included)', () => {
    const out: string[] = [];
    const log = new Printk((t) => out.push(t));
    expect(log.emit('<4>' + 'x'.repeat(2000))).toBe(PRINTK_BUF_SIZE - 1 - 3);
    expect(out[0]).toBe('x'.repeat(1020));
  });
});

describe('guest strings', () => {
  it('reads across pages, stops at NUL or max, and returns null when unreadable', () => {
    const k = new Kernel({ memorySize: 4 << 20 });
    const at = kva(0x20ffd) >>> 0;
    k.mem.write(at, new Uint8Array(Buffer.from('abcdef\0zz', 'latin1')));
    expect(readGuestString(k.mem, at, 100)).toBe('abcdef');
    expect(readGuestString(k.mem, at, 4)).toBe('abcd');
    expect(readGuestString(k.mem, 0x1000, 10)).toBeNull();
    // A string running off the end of mapped memory before its NUL cannot be read.
    k.mem.write(kva(0x3ffffe) >>> 0, new Uint8Array([0x61, 0x62]));
    expect(readGuestString(k.mem, kva(0x3ffffe) >>> 0, 10)).toBeNull();
    expect(readGuestString(k.mem, kva(0x3ffffe) >>> 0, 2)).toBe('ab');
  });
});
