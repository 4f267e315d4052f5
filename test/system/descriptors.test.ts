/**
 * The builders in src/rings/descriptors.ts against encodings fixed by the
 * SDM (Vol. 3 Figures 3-8, 5-8, 6-2, 7-2, 7-3) and by what i386 Linux puts in
 * its GDT, and against the CPU's own descriptor parser.
 */
import { describe, expect, it } from 'vitest';
import { parseDescriptor } from '../../src/cpu/segments.js';
import {
  callGate, codeSegment, dataSegment, descriptorBytes, interruptGate, ioBitmap, ldtDescriptor, selector, segmentDescriptor,
  tableBytes, taskGate, trapGate, tss32Image, tssDescriptor, tssLimit, TSS32,
} from '../../src/rings/descriptors.js';

const hex = (d: [number, number]): string => ((BigInt(d[1] >>> 0) << 32n) | BigInt(d[0] >>> 0)).toString(16).padStart(16, '0');

describe('segment descriptors', () => {
  it('flat 4 GiB code and data at DPL 0 and 3 encode as in Linux i386 (0x00cf9a000000ffff, ...)', () => {
    expect(hex(codeSegment({ dpl: 0 }))).toBe('00cf9a000000ffff');
    expect(hex(dataSegment({ dpl: 0 }))).toBe('00cf92000000ffff');
    expect(hex(codeSegment({ dpl: 3 }))).toBe('00cffa000000ffff');
    expect(hex(dataSegment({ dpl: 3 }))).toBe('00cff2000000ffff');
  });
  it('base and byte-granular limit are split across the fields', () => {
    const d = dataSegment({ base: 0x12345678, limit: 0xabcde, dpl: 2, writable: false, big: false });
    const p = parseDescriptor(...d);
    expect(p.base >>> 0).toBe(0x12345678);
    expect(p.limit).toBe(0xabcde);
    expect(p.access).toBe(0x80 | (2 << 5) | 0x10 | 0x0);
    expect(p.flags).toBe(0); // byte granularity, B = 0
    expect(d[0] >>> 0).toBe(0x5678bcde);
    expect(d[1] >>> 0).toBe(0x120ad034); // base 31:24, G D/B L AVL, limit 19:16, P DPL S type, base 23:16
  });
  it('page granularity is chosen above 1 MiB and requires the low 12 bits set', () => {
    expect(parseDescriptor(...dataSegment({ limit: 0x1fffff })).limit).toBe(0x1fffff);
    expect(parseDescriptor(...dataSegment({ limit: 0x1fffff })).flags & 8).toBe(8);
    expect(() => dataSegment({ limit: 0x200000 })).toThrow(RangeError);
    expect(parseDescriptor(...dataSegment({ limit: 0xfff, granularity: 'page' })).limit).toBe(0xfff);
    expect(parseDescriptor(...dataSegment({ limit: 0xfff, granularity: 'page' })).flags & 8).toBe(8);
  });
  it('type bits: conforming, execute-only, expand-down, accessed, not present', () => {
    expect(parseDescriptor(...codeSegment({ conforming: true })).access).toBe(0x9e);
    expect(parseDescriptor(...codeSegment({ readable: false })).access).toBe(0x98);
    expect(parseDescriptor(...dataSegment({ expandDown: true })).access).toBe(0x96);
    expect(parseDescriptor(...dataSegment({ accessed: true })).access).toBe(0x93);
    expect(parseDescriptor(...dataSegment({ present: false })).access).toBe(0x12);
    expect(parseDescriptor(...codeSegment({ d32: false, limit: 0xffff })).flags).toBe(0);
  });
  it('the general form rejects a bad DPL', () => {
    expect(() => segmentDescriptor({ base: 0, limit: 0, type: 2, s: true, dpl: 4, present: true, db: true })).toThrow(RangeError);
  });
});

describe('system descriptors and gates', () => {
  it('TSS descriptor: type 9 available, 0xB busy, byte limit', () => {
    expect(hex(tssDescriptor(0xc0003000, 0x67))).toBe('c0008900300000' + '67');
    expect(parseDescriptor(...tssDescriptor(0x3000, 0x2068, { busy: true })).access).toBe(0x8b);
    expect(parseDescriptor(...tssDescriptor(0x3000, 0x2068)).limit).toBe(0x2068);
  });
  it('LDT descriptor: type 2', () => {
    expect(parseDescriptor(...ldtDescriptor(0x6000, 0x7f)).access).toBe(0x82);
  });
  it('call gate: selector, split offset, DPL, type 0xC, parameter count in bits 4:0', () => {
    const g = callGate({ selector: 0x08, offset: 0x12345678, dpl: 3, paramCount: 2 });
    expect(g[0] >>> 0).toBe(0x00085678);
    expect(g[1] >>> 0).toBe(0x1234ec02);
    expect(callGate({ selector: 0x08, offset: 0x1234, is32: false })[1] >>> 0).toBe(0x0000e400);
    expect(() => callGate({ selector: 8, offset: 0, paramCount: 32 })).toThrow(RangeError);
  });
  it('interrupt, trap and task gates', () => {
    expect(hex(interruptGate({ selector: 0x60, offset: 0xc0107000 }))).toBe('c0108e0000607000');
    expect(hex(trapGate({ selector: 0x60, offset: 0xc0107000, dpl: 3 }))).toBe('c010ef0000607000');
    expect(hex(interruptGate({ selector: 0x08, offset: 0x1234, is32: false }))).toBe('0000860000081234');
    expect(hex(taskGate({ tssSelector: 0x48 }))).toBe('0000850000480000');
    expect(interruptGate({ selector: 8, offset: 0, present: false })[1] & 0x8000).toBe(0);
  });
  it('selectors', () => {
    expect(selector(7, 3)).toBe(0x3b);
    expect(selector(1, 0, true)).toBe(0x0c);
  });
  it('bytes are little-endian, lo dword first; tables leave holes null', () => {
    expect(Array.from(descriptorBytes([0x04030201, 0x08070605]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const t = tableBytes([undefined, [1, 2]]);
    expect(t.length).toBe(16);
    expect(Array.from(t.subarray(0, 8))).toEqual(new Array(8).fill(0));
    expect(t[8]).toBe(1);
    expect(t[12]).toBe(2);
  });
});

describe('32-bit TSS image', () => {
  it('puts SSn:ESPn, CR3, the registers and the I/O map base at the SDM offsets', () => {
    const img = tss32Image({ esp0: 0x1000, ss0: 0x10, esp1: 0x2000, ss1: 0x21, esp2: 0x3000, ss2: 0x32, cr3: 0x9000, eip: 0x1234, ldt: 0x50, trap: true });
    const v = new DataView(img.buffer);
    expect(img.length).toBe(0x68);
    expect(tssLimit(img)).toBe(0x67);
    expect(v.getUint32(TSS32.ESP0, true)).toBe(0x1000);
    expect(v.getUint16(TSS32.SS0, true)).toBe(0x10);
    expect(v.getUint32(TSS32.ESP1, true)).toBe(0x2000);
    expect(v.getUint16(TSS32.SS1, true)).toBe(0x21);
    expect(v.getUint32(TSS32.ESP2, true)).toBe(0x3000);
    expect(v.getUint16(TSS32.SS2, true)).toBe(0x32);
    expect(v.getUint32(0x1c, true)).toBe(0x9000);
    expect(v.getUint32(0x20, true)).toBe(0x1234);
    expect(v.getUint16(0x60, true)).toBe(0x50);
    expect(v.getUint16(0x64, true)).toBe(1);
    expect(v.getUint16(0x66, true)).toBe(0x68); // no bitmap: base just past the limit
  });
  it('an I/O bitmap follows the fixed part, with the trailing all-ones byte', () => {
    const bm = ioBitmap([0x60, [0x3f8, 0x3ff]]);
    expect(bm.length).toBe(0x2001);
    expect(bm[0x60 >> 3]).toBe(0xfe);
    expect(bm[0x3f8 >> 3]).toBe(0x00);
    expect(bm[0x2000]).toBe(0xff);
    const img = tss32Image({ ioBitmap: bm });
    expect(img.length).toBe(0x68 + 0x2001);
    expect(new DataView(img.buffer).getUint16(0x66, true)).toBe(0x68);
    expect(img[0x68 + (0x60 >> 3)]).toBe(0xfe);
  });
});
