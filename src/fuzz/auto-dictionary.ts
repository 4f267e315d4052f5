/**
 * The automatic dictionary (AFL++'s "autodictionary", which its LTO
 * instrumentation collects at compile time; libFuzzer's -use_cmp feeds
 * similar values at run time): the immediate operands of the compare-like
 * instructions in the module's code — CMP, SUB, TEST, AND, XOR with a
 * constant of two or four bytes — as little-endian tokens, so a 32-bit
 * magic compared against the input is one dictionary step away without
 * `-x`. Found by decoding the module's executable sections with kmemsim's
 * own decoder, linearly, as `kmemsim disasm` lists them.
 */
import { parseElf32, SHF_EXECINSTR, SHT_NOBITS } from '../elf/elf32.js';
import { decodeOne } from '../cpu/decoder.js';

/** The most tokens taken from one module. */
export const MAX_AUTO_TOKENS = 256;

const COMPARES = new Set(['cmp', 'sub', 'test', 'and', 'xor']);

/** Tokens for the constants the module's code compares with (deduplicated, in code order). */
export function autoDictionary(object: Uint8Array): Uint8Array[] {
  let elf;
  try {
    elf = parseElf32(object, { sectionHeaders: 'required' });
  } catch {
    return [];
  }
  const seen = new Set<string>();
  const tokens: Uint8Array[] = [];
  for (const sec of elf.sections) {
    if (!(sec.flags & SHF_EXECINSTR) || sec.type === SHT_NOBITS || sec.size === 0) continue;
    const data = elf.sectionData(sec);
    let off = 0;
    while (off < data.length && tokens.length < MAX_AUTO_TOKENS) {
      const info = decodeOne(data.subarray(off, Math.min(data.length, off + 15)), off);
      off += info.invalid ? 1 : Math.max(1, info.length);
      if (info.invalid || !COMPARES.has(info.mnemonic)) continue;
      const m = /, (0x[0-9a-f]+|\d+)$/.exec(info.text);
      if (!m) continue;
      const value = Number(m[1]) >>> 0;
      // One-byte constants are what havoc's byte operations find anyway; 0xffff.. masks are no magic.
      if (value < 0x100 || value === 0xffff || value === 0xffffffff || value === 0xffffff00 || value === 0xffff0000) continue;
      const size = value <= 0xffff ? 2 : 4;
      const t = new Uint8Array(size);
      for (let i = 0; i < size; i++) t[i] = (value >>> (8 * i)) & 0xff;
      const key = Buffer.from(t).toString('hex');
      if (seen.has(key)) continue;
      seen.add(key);
      tokens.push(t);
    }
  }
  return tokens;
}
