/**
 * Reading DWARF sections (.debug_line, .debug_info, .debug_abbrev): little-
 * endian integers, LEB128, strings, offsets and addresses, with a clear
 * DwarfError on truncated data. Shared by the line-table reader
 * (./dwarf-line.ts) and the function-parameter reader (./dwarf-info.ts).
 */

export class DwarfError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DwarfError';
  }
}

export class DwarfReader {
  pos: number;
  readonly dv: DataView;
  /** `what` names the section in errors. */
  constructor(readonly buf: Uint8Array, readonly what: string, pos = 0) {
    this.pos = pos;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new DwarfError(`truncated ${this.what} at offset 0x${this.pos.toString(16)}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  i8(): number {
    const v = this.u8();
    return v >= 0x80 ? v - 0x100 : v;
  }
  u16(): number {
    this.need(2);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u24(): number {
    return this.u16() | (this.u8() << 16);
  }
  u32(): number {
    this.need(4);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): number {
    const lo = this.u32();
    const hi = this.u32();
    return hi * 0x1_0000_0000 + lo;
  }
  /** An offset: 4 bytes in 32-bit DWARF, 8 in 64-bit. */
  offset(is64: boolean): number {
    return is64 ? this.u64() : this.u32();
  }
  uleb(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
      if (!(b & 0x80)) return result;
    }
  }
  sleb(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
      if (!(b & 0x80)) {
        if (b & 0x40) result -= mul;
        return result;
      }
    }
  }
  cstr(): string {
    const start = this.pos;
    while (this.pos < this.buf.length && this.buf[this.pos] !== 0) this.pos++;
    if (this.pos >= this.buf.length) throw new DwarfError(`unterminated string in ${this.what}`);
    const s = new TextDecoder().decode(this.buf.subarray(start, this.pos));
    this.pos++;
    return s;
  }
  addr(size: number): number {
    switch (size) {
      case 1: return this.u8();
      case 2: return this.u16();
      case 4: return this.u32();
      case 8: return this.u64();
      default: throw new DwarfError(`unsupported address size ${size}`);
    }
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
}
