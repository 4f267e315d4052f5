/**
 * `kmemsim disasm`: every executable section of an ELF32 file, or one
 * function, in Intel syntax from kmemsim's own decoder, objdump-style:
 * symbol labels, addresses, raw bytes, instruction text.
 */
import { parseElf32, ET_REL, PF_X, PT_LOAD, SHF_EXECINSTR, SHT_NOBITS, STT_FUNC, STT_NOTYPE, type Elf32, type Elf32Section } from '../elf/elf32.js';
import { decodeOne } from '../cpu/decoder.js';
import { hexBytes } from '../cpu/disasm.js';
import { ElfError } from '../elf/elf32.js';
import type { CliCommand } from './command.js';
import { warnSections } from './describe.js';
import { readInput } from './input.js';
import { errLine, out } from './io.js';

export class DisasmError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DisasmError';
  }
}

/** Section address base: executables use sh_addr; relocatable objects start each section at 0. */
function sectionBase(s: Elf32Section): number {
  return s.addr;
}

/**
 * The listing, and why the section headers were ignored (null when they were
 * fine). An executable with damaged section headers is still disassembled,
 * from its executable PT_LOAD segments and without symbols, as a program
 * loads without them (src/kernel/process.ts); an object file needs them.
 */
export function disassembleFile(bytes: Uint8Array, fn?: string): { text: string; sectionError: string | null } {
  const rel = bytes.length > 17 && bytes[16] === ET_REL && bytes[17] === 0;
  const elf = parseElf32(bytes, { sectionHeaders: rel ? 'required' : 'optional' });
  return { text: listing(elf, fn), sectionError: elf.sectionError };
}

function listing(elf: Elf32, fn: string | undefined): string {
  const out: string[] = [];
  const sections = elf.sections.filter((s) => s.flags & SHF_EXECINSTR && s.type !== SHT_NOBITS && s.size > 0);
  if (fn !== undefined) {
    const sym = elf.symbols.find((s) => s.name === fn && (s.type === STT_FUNC || s.type === STT_NOTYPE) && s.shndx > 0 && s.shndx < elf.sections.length);
    if (!sym) throw new DisasmError(`no function named '${fn}' in the symbol table`);
    const sec = elf.sections[sym.shndx];
    const base = sectionBase(sec);
    const data = elf.sectionData(sec);
    const start = sym.value - base;
    const end = sym.size ? start + sym.size : nextLabel(elf, sec.index, sym.value) - base;
    out.push(`${hex(sym.value)} <${sym.name}>:`);
    disassembleRange(out, data, start, Math.min(end, data.length), base, labelsFor(elf, sec.index));
    return out.join('\n') + '\n';
  }
  if (elf.sectionError !== null) {
    for (const ph of elf.programHeaders) {
      if (ph.type !== PT_LOAD || !(ph.flags & PF_X) || ph.filesz === 0) continue;
      out.push(`Disassembly of segment ${ph.index} (PT_LOAD, executable):`);
      disassembleRange(out, elf.segmentData(ph), 0, ph.filesz, ph.vaddr, new Map());
      out.push('');
    }
    return out.join('\n') + '\n';
  }
  for (const sec of sections) {
    out.push(`Disassembly of section ${sec.name}:`);
    disassembleRange(out, elf.sectionData(sec), 0, sec.size, sectionBase(sec), labelsFor(elf, sec.index));
    out.push('');
  }
  return out.join('\n') + '\n';
}

function labelsFor(elf: Elf32, shndx: number): Map<number, string> {
  const m = new Map<number, string>();
  for (const s of elf.symbols) {
    if (s.shndx === shndx && s.name && (s.type === STT_FUNC || s.type === STT_NOTYPE) && !s.name.startsWith('.')) {
      if (!m.has(s.value)) m.set(s.value, s.name);
    }
  }
  return m;
}

function nextLabel(elf: Elf32, shndx: number, after: number): number {
  const sec = elf.sections[shndx];
  let best = sectionBase(sec) + sec.size;
  for (const s of elf.symbols) if (s.shndx === shndx && s.value > after && s.value < best) best = s.value;
  return best;
}

function disassembleRange(out: string[], data: Uint8Array, start: number, end: number, base: number, labels: Map<number, string>): void {
  let off = start;
  while (off < end) {
    const addr = (base + off) >>> 0;
    const label = labels.get(addr);
    if (label && !(off === start && out[out.length - 1]?.includes(`<${label}>`))) {
      if (off !== start) out.push('');
      out.push(`${hex(addr)} <${label}>:`);
    }
    const info = decodeOne(data.subarray(off, Math.min(end, off + 15)), addr);
    const len = info.invalid ? 1 : Math.max(1, info.length);
    const b = Array.from(data.subarray(off, off + len));
    const text = info.invalid ? '(bad)' : info.text;
    out.push(`  ${addr.toString(16).padStart(8, ' ')}:\t${hexBytes(b).toLowerCase().padEnd(21)}\t${text}`);
    off += len;
  }
}

function hex(v: number): string {
  return (v >>> 0).toString(16).padStart(8, '0');
}

export const disasmCli: CliCommand = {
  command: 'disasm <file>',
  describe: 'Disassemble an ELF file (Intel syntax) with kmemsim\'s own decoder',
  builder: (y) =>
    y
      .positional('file', { type: 'string', describe: 'ELF32 file (executable or object)', demandOption: true })
      .option('function', { type: 'string', describe: 'only this function (symbol name)' }),
  run: (a) => disasmCommand(a.file as string, a.function as string | undefined),
};

/** `kmemsim disasm FILE [--function NAME]`: 0; 126 not ELF; 127 no such file; 2 no such function. */
function disasmCommand(file: string, fn: string | undefined): number {
  const bytes = readInput(file);
  if (typeof bytes === 'number') return bytes;
  try {
    const r = disassembleFile(bytes, fn);
    warnSections(file, r.sectionError);
    out(r.text);
    return 0;
  } catch (e) {
    if (e instanceof ElfError || e instanceof DisasmError) {
      errLine(`kmemsim: ${e.message}`);
      return e instanceof ElfError ? 126 : 2;
    }
    throw e;
  }
}
