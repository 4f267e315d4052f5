/**
 * Just enough ELF32 to read a static executable's symbol table, so that an
 * EIP from a kmemsim fault ("#GP at 0x08049123") can be mapped back to the
 * generated step (`S17 + 0x5`). Kept separate from src/elf on purpose: the
 * test's diagnosis must not depend on the code under test.
 */
export interface Sym {
  name: string;
  value: number;
}

export function readSymbols(elf: Uint8Array): Sym[] {
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (elf.length < 52 || dv.getUint32(0, false) !== 0x7f454c46 || elf[4] !== 1) return [];
  const shoff = dv.getUint32(0x20, true);
  const shentsize = dv.getUint16(0x2e, true);
  const shnum = dv.getUint16(0x30, true);
  const sec = (i: number) => {
    const o = shoff + i * shentsize;
    return { type: dv.getUint32(o + 4, true), offset: dv.getUint32(o + 16, true), size: dv.getUint32(o + 20, true), link: dv.getUint32(o + 24, true) };
  };
  const out: Sym[] = [];
  for (let i = 0; i < shnum; i++) {
    const s = sec(i);
    if (s.type !== 2 /* SHT_SYMTAB */) continue;
    const str = sec(s.link);
    for (let o = s.offset; o + 16 <= s.offset + s.size; o += 16) {
      const nameOff = dv.getUint32(o, true);
      const value = dv.getUint32(o + 4, true);
      let end = str.offset + nameOff;
      while (end < elf.length && elf[end] !== 0) end++;
      const name = Buffer.from(elf.subarray(str.offset + nameOff, end)).toString('latin1');
      if (name) out.push({ name, value });
    }
  }
  return out.sort((a, b) => a.value - b.value);
}

/** "S17+0x5" for the closest symbol at or below `addr` whose name matches `filter`. */
export function symbolize(syms: Sym[], addr: number, filter: (name: string) => boolean = () => true): string {
  let best: Sym | undefined;
  for (const s of syms) {
    if (s.value <= addr && filter(s.name) && (!best || s.value >= best.value)) best = s;
  }
  if (!best) return `0x${addr.toString(16)}`;
  const d = addr - best.value;
  return d === 0 ? best.name : `${best.name}+0x${d.toString(16)}`;
}
