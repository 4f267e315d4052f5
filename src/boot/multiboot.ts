/**
 * A Multiboot (version 1, spec 0.6.96) boot loader, doing what
 * `qemu-system-i386 -kernel kernel.elf` does with a Multiboot kernel:
 *
 * 1. Find the Multiboot header: a 32-bit aligned magic 0x1BADB002 within
 *    the first 8192 bytes of the file, followed by `flags` and a
 *    `checksum` such that magic + flags + checksum = 0 (mod 2^32).
 * 2. Refuse requirements it cannot meet: flag bits 0–15 are requirements
 *    (spec §3.1.2). Bit 0 (modules page-aligned) holds trivially — no
 *    modules are loaded — and bit 1 (memory information) is always
 *    provided; bit 2 (a video mode) and the undefined bits 3–15 make the
 *    load fail. Bits 16–31 are optional features; bit 16 says the address
 *    fields of the header are valid.
 * 3. Load the image. With flag bit 16 the header's address fields (the
 *    "a.out kludge") say where: the file from offset
 *    header_offset − (header_addr − load_addr) up to load_end_addr goes to
 *    load_addr, zeroes up to bss_end_addr, entry at entry_addr — the spec
 *    and QEMU use these fields even for ELF files. Otherwise the file must
 *    be an ELF32 executable: every PT_LOAD segment is copied to its
 *    *physical* address p_paddr (paging is off at entry), its BSS
 *    (p_memsz − p_filesz) zeroed, and the entry is e_entry, translated
 *    from virtual to physical through the segment that contains it (so a
 *    higher-half kernel linked with AT() load addresses works, as in QEMU).
 *    Every byte must land in RAM and outside the 0xA0000–0xFFFFF hole
 *    where a PC has video memory and ROM.
 * 4. Build the Multiboot information structure (§3.3) in a 4 KiB "boot
 *    block" in low memory (0x8000, or the first page after the kernel if
 *    the kernel occupies that page): flags bit 0 with mem_lower = 640 and
 *    mem_upper = (RAM − 1 MiB) / 1 KiB; bit 6 with a memory map of two
 *    available (type 1) ranges, 0–0x9FC00 and 1 MiB–end of RAM; bit 9 with
 *    the boot loader name "kmemsim"; bit 2 with the command line when one
 *    is given.
 * 5. Enter the kernel in the state of §3.2 "Machine state": EAX =
 *    0x2BADB002, EBX = the information structure's physical address,
 *    protected mode on (CR0.PE), paging off, CS a flat 32-bit execute/read
 *    code segment (base 0, limit 4 GiB), DS/ES/FS/GS/SS flat 32-bit
 *    read/write data segments, EFLAGS.IF = 0 and VM = 0, CPL 0.
 *
 * How the segment registers are set: the loader writes a three-entry GDT
 * (null, code 0x08, data 0x10) at the start of the boot block and fills
 * the segment registers' hidden descriptor caches from those very
 * descriptors with `setSegmentCache` — the state a real loader reaches
 * with LGDT and a far jump, without running loader code. GDTR points at
 * that GDT, so even a kernel that (against the spec) reloads a segment
 * register before its own LGDT keeps working. IDTR is base 0, limit 0:
 * the spec leaves it to the kernel, and an exception before the kernel's
 * LIDT stops kmemsim with "no IDT installed" instead of running garbage.
 * ESP is 0x7C00 (the spec leaves it undefined; the kernel must set up its
 * own stack); TR and LDTR are null.
 */
import type { CPU } from '../cpu/cpu.js';
import { EAX, EBX } from '../cpu/cpu.js';
import { CS, DS, ES, FS, GS, SS } from '../cpu/instr.js';
import { makeDescriptor, parseDescriptor, setSegmentCache } from '../cpu/segments.js';
import { parseElf32, ElfError, ET_EXEC, PT_LOAD } from '../elf/elf32.js';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie within this many bytes of the start of the file. */
export const MULTIBOOT_SEARCH = 8192;

/** Header flag bits (spec §3.1.2). */
export const MBH_PAGE_ALIGN = 1 << 0;
export const MBH_MEMORY_INFO = 1 << 1;
export const MBH_VIDEO_MODE = 1 << 2;
export const MBH_ADDRESS_FIELDS = 1 << 16;

/** Information-structure flag bits (spec §3.3). */
export const MBI_MEMORY = 1 << 0;
export const MBI_CMDLINE = 1 << 2;
export const MBI_MMAP = 1 << 6;
export const MBI_LOADER_NAME = 1 << 9;

export const BOOT_LOADER_NAME = 'kmemsim';
/** Default physical address of the boot block (GDT, information structure, memory map, strings). */
export const BOOT_BLOCK = 0x8000;
const BOOT_BLOCK_SIZE = 0x1000;
/** Offsets inside the boot block. */
const GDT_OFF = 0x00;
const INFO_OFF = 0x40;
const MMAP_OFF = 0xa0;
const NAME_OFF = 0xe0;
const CMDLINE_OFF = 0x100;
export const BOOT_CODE_SELECTOR = 0x08;
export const BOOT_DATA_SELECTOR = 0x10;
export const BOOT_ESP = 0x7c00;

/** Conventional memory reported to the kernel (KiB) and the hole a PC has above it. */
const MEM_LOWER_KIB = 640;
const LOW_RAM_END = 0x9fc00;
const HOLE_START = 0xa0000;
const HOLE_END = 0x100000;

/** A file that cannot be booted: no header, bad checksum, unsupported requirement, bad layout. */
export class MultibootError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MultibootError';
  }
}

export interface MultibootHeader {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  /** The address fields (flag bit 16), else null. */
  addresses: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number } | null;
}

/** A piece of the image: `data` goes to physical `start`, followed by zeroes up to `start + memSize`. */
export interface ImageSegment {
  start: number;
  data: Uint8Array;
  memSize: number;
}

export interface LoadedKernel {
  header: MultibootHeader;
  format: 'elf' | 'a.out kludge';
  segments: ImageSegment[];
  /** Physical entry point. */
  entry: number;
  /** One past the highest physical byte of the image. */
  end: number;
  /** Physical address of the boot block and of the information structure (EBX). */
  bootBlock: number;
  infoAddr: number;
}

export interface MultibootLoadOptions {
  /** Kernel command line (information flag bit 2); none when undefined. */
  cmdline?: string;
}

const hex = (v: number): string => '0x' + (v >>> 0).toString(16);

function u32(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16) | (b[off + 3] << 24)) >>> 0;
}
function put32(b: Uint8Array, off: number, v: number): void {
  b[off] = v & 0xff;
  b[off + 1] = (v >>> 8) & 0xff;
  b[off + 2] = (v >>> 16) & 0xff;
  b[off + 3] = (v >>> 24) & 0xff;
}

/** Find and check the Multiboot header (spec §3.1.1). */
export function findMultibootHeader(bytes: Uint8Array): MultibootHeader {
  if (bytes.length === 0) throw new MultibootError('the file is empty');
  const limit = Math.min(bytes.length, MULTIBOOT_SEARCH) - 12;
  for (let off = 0; off <= limit; off += 4) {
    if (u32(bytes, off) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = u32(bytes, off + 4);
    const checksum = u32(bytes, off + 8);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) {
      throw new MultibootError(
        `Multiboot header at file offset ${hex(off)} has a bad checksum: magic + flags (${hex(flags)}) + checksum (${hex(checksum)}) ` +
          `must be 0 mod 2^32, is ${hex(MULTIBOOT_HEADER_MAGIC + flags + checksum)} (expected checksum ${hex(-(MULTIBOOT_HEADER_MAGIC + flags))})`,
      );
    }
    let addresses: MultibootHeader['addresses'] = null;
    if (flags & MBH_ADDRESS_FIELDS) {
      if (off + 32 > bytes.length) throw new MultibootError(`Multiboot header at file offset ${hex(off)} sets flag bit 16 but the file ends before its address fields`);
      addresses = {
        headerAddr: u32(bytes, off + 12),
        loadAddr: u32(bytes, off + 16),
        loadEndAddr: u32(bytes, off + 20),
        bssEndAddr: u32(bytes, off + 24),
        entryAddr: u32(bytes, off + 28),
      };
    }
    return { offset: off, flags, addresses };
  }
  throw new MultibootError(`no Multiboot header (magic 0x1badb002, 4-byte aligned) in the first ${MULTIBOOT_SEARCH} bytes: not a Multiboot kernel`);
}

/** Spec §3.1.2: requirement bits 0–15 the loader cannot satisfy make the load fail. */
function checkRequirements(flags: number): void {
  if (flags & MBH_VIDEO_MODE) {
    throw new MultibootError('the kernel requires a video mode (Multiboot header flag bit 2); kmemsim has no display and does not support it');
  }
  const unknown = flags & 0xfff8;
  if (unknown) {
    const bits = [];
    for (let b = 3; b < 16; b++) if (unknown & (1 << b)) bits.push(b);
    throw new MultibootError(`the kernel requires unknown Multiboot features (header flag bit${bits.length > 1 ? 's' : ''} ${bits.join(', ')}); refusing to boot, as the spec demands`);
  }
}

function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

function elfImage(bytes: Uint8Array): { segments: ImageSegment[]; entry: number } {
  let elf;
  try {
    elf = parseElf32(bytes);
  } catch (e) {
    if (e instanceof ElfError) throw new MultibootError(`bad ELF file: ${e.message}`);
    throw e;
  }
  if (elf.header.type !== ET_EXEC) throw new MultibootError(`ELF type ${elf.header.typeName} is not an executable (ET_EXEC); link the kernel with ld`);
  const segments: ImageSegment[] = [];
  let entry = -1;
  const e = elf.header.entry >>> 0;
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD || ph.memsz === 0) continue;
    segments.push({ start: ph.paddr >>> 0, data: elf.segmentData(ph), memSize: ph.memsz });
    if (entry < 0 && e >= ph.vaddr >>> 0 && e < (ph.vaddr >>> 0) + ph.memsz) entry = (ph.paddr >>> 0) + (e - (ph.vaddr >>> 0));
  }
  if (segments.length === 0) throw new MultibootError('the ELF file has no PT_LOAD segments: nothing to load');
  if (entry < 0) throw new MultibootError(`the ELF entry point ${hex(e)} is not inside any PT_LOAD segment`);
  return { segments, entry };
}

function aoutImage(bytes: Uint8Array, h: MultibootHeader): { segments: ImageSegment[]; entry: number } {
  const a = h.addresses!;
  if (a.loadAddr > a.headerAddr) {
    throw new MultibootError(`Multiboot address fields: load_addr ${hex(a.loadAddr)} is above header_addr ${hex(a.headerAddr)}`);
  }
  const fileOff = h.offset - (a.headerAddr - a.loadAddr);
  if (fileOff < 0) {
    throw new MultibootError(
      `Multiboot address fields: header_addr ${hex(a.headerAddr)} − load_addr ${hex(a.loadAddr)} puts the start of the image before the start of the file`,
    );
  }
  let size: number;
  if (a.loadEndAddr === 0) size = bytes.length - fileOff;
  else {
    if (a.loadEndAddr < a.loadAddr) throw new MultibootError(`Multiboot address fields: load_end_addr ${hex(a.loadEndAddr)} is below load_addr ${hex(a.loadAddr)}`);
    size = a.loadEndAddr - a.loadAddr;
  }
  if (fileOff + size > bytes.length) {
    throw new MultibootError(`Multiboot address fields: the image (${hex(size)} bytes from file offset ${hex(fileOff)}) extends past the end of the file (${bytes.length} bytes)`);
  }
  let memSize = size;
  if (a.bssEndAddr !== 0) {
    if (a.bssEndAddr < a.loadAddr + size) throw new MultibootError(`Multiboot address fields: bss_end_addr ${hex(a.bssEndAddr)} is below the end of the loaded image ${hex(a.loadAddr + size)}`);
    memSize = a.bssEndAddr - a.loadAddr;
  }
  if (a.entryAddr < a.loadAddr || a.entryAddr >= a.loadAddr + memSize) {
    throw new MultibootError(`Multiboot address fields: entry_addr ${hex(a.entryAddr)} is outside the image ${hex(a.loadAddr)}..${hex(a.loadAddr + memSize)}`);
  }
  return { segments: [{ start: a.loadAddr, data: bytes.slice(fileOff, fileOff + size), memSize }], entry: a.entryAddr };
}

function overlaps(a0: number, a1: number, b0: number, b1: number): boolean {
  return a0 < b1 && b0 < a1;
}

/** Parse and check a kernel image without touching a machine. */
export function parseMultibootKernel(bytes: Uint8Array, ramSize: number): Omit<LoadedKernel, 'bootBlock' | 'infoAddr'> {
  const header = findMultibootHeader(bytes);
  checkRequirements(header.flags);
  let image: { segments: ImageSegment[]; entry: number };
  let format: LoadedKernel['format'];
  if (header.addresses) {
    image = aoutImage(bytes, header);
    format = 'a.out kludge';
  } else if (isElf(bytes)) {
    image = elfImage(bytes);
    format = 'elf';
  } else {
    throw new MultibootError('the kernel is not an ELF file and its Multiboot header does not give load addresses (flag bit 16): cannot tell where to load it');
  }
  let end = 0;
  for (const s of image.segments) {
    const last = s.start + s.memSize;
    if (last > ramSize) {
      throw new MultibootError(
        `segment at physical ${hex(s.start)}..${hex(last)} lies outside RAM (${ramSize / (1024 * 1024)} MiB, ends at ${hex(ramSize)}); use --memory to give the machine more`,
      );
    }
    if (overlaps(s.start, last, HOLE_START, HOLE_END)) {
      throw new MultibootError(`segment at physical ${hex(s.start)}..${hex(last)} overlaps the PC's video/ROM hole ${hex(HOLE_START)}..${hex(HOLE_END)}, where there is no RAM`);
    }
    end = Math.max(end, last);
  }
  const sorted = [...image.segments].sort((x, y) => x.start - y.start);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!;
    const q = sorted[i]!;
    if (p.start + p.memSize > q.start) {
      throw new MultibootError(`segments at physical ${hex(p.start)} and ${hex(q.start)} overlap`);
    }
  }
  return { header, format, segments: image.segments, entry: image.entry, end };
}

/** Where the boot block goes: 0x8000, or the first free page after the kernel. */
function chooseBootBlock(segments: ImageSegment[], end: number, ramSize: number): number {
  const free = (at: number): boolean => !segments.some((s) => overlaps(s.start, s.start + s.memSize, at, at + BOOT_BLOCK_SIZE));
  if (free(BOOT_BLOCK)) return BOOT_BLOCK;
  let at = Math.ceil(end / BOOT_BLOCK_SIZE) * BOOT_BLOCK_SIZE;
  if (overlaps(at, at + BOOT_BLOCK_SIZE, HOLE_START, HOLE_END)) at = HOLE_END;
  while (at + BOOT_BLOCK_SIZE <= ramSize && !free(at)) at += BOOT_BLOCK_SIZE;
  if (at + BOOT_BLOCK_SIZE > ramSize) throw new MultibootError('no room in RAM for the Multiboot information structure after the kernel');
  return at;
}

/**
 * Load `bytes` into the machine and set the processor up to enter it.
 * Throws MultibootError (nothing written yet) for a file that cannot boot.
 */
export function loadMultiboot(cpu: CPU, bytes: Uint8Array, opts: MultibootLoadOptions = {}): LoadedKernel {
  const ram = cpu.mem.size;
  const k = parseMultibootKernel(bytes, ram);
  const cmdline = opts.cmdline !== undefined ? new TextEncoder().encode(opts.cmdline) : null;
  if (cmdline && CMDLINE_OFF + cmdline.length + 1 > BOOT_BLOCK_SIZE) {
    throw new MultibootError(`kernel command line too long (${cmdline.length} bytes, at most ${BOOT_BLOCK_SIZE - CMDLINE_OFF - 1})`);
  }
  const block = chooseBootBlock(k.segments, k.end, ram);

  // The image, BSS included.
  const zeroes = new Uint8Array(0x10000);
  for (const s of k.segments) {
    cpu.writePhys(s.start, s.data);
    for (let a = s.start + s.data.length; a < s.start + s.memSize; a += zeroes.length) {
      cpu.writePhys(a, zeroes.subarray(0, Math.min(zeroes.length, s.start + s.memSize - a)));
    }
  }

  // The boot block: GDT, information structure, memory map, strings.
  const b = new Uint8Array(BOOT_BLOCK_SIZE);
  const code = makeDescriptor(0, 0xffffffff, 0x9b, 0xc);
  const data = makeDescriptor(0, 0xffffffff, 0x93, 0xc);
  put32(b, GDT_OFF + BOOT_CODE_SELECTOR, code[0]);
  put32(b, GDT_OFF + BOOT_CODE_SELECTOR + 4, code[1]);
  put32(b, GDT_OFF + BOOT_DATA_SELECTOR, data[0]);
  put32(b, GDT_OFF + BOOT_DATA_SELECTOR + 4, data[1]);

  let flags = MBI_MEMORY | MBI_MMAP | MBI_LOADER_NAME;
  put32(b, INFO_OFF + 4, MEM_LOWER_KIB);
  put32(b, INFO_OFF + 8, Math.floor((ram - HOLE_END) / 1024));
  // Memory map: entries of { size (20, not counting itself), base_addr (u64), length (u64), type }.
  const mmap: [number, number][] = [[0, LOW_RAM_END], [HOLE_END, ram - HOLE_END]];
  mmap.forEach(([base, len], i) => {
    const o = MMAP_OFF + i * 24;
    put32(b, o, 20);
    put32(b, o + 4, base);
    put32(b, o + 8, 0);
    put32(b, o + 12, len);
    put32(b, o + 16, 0);
    put32(b, o + 20, 1);
  });
  put32(b, INFO_OFF + 44, mmap.length * 24);
  put32(b, INFO_OFF + 48, block + MMAP_OFF);
  b.set(new TextEncoder().encode(BOOT_LOADER_NAME), NAME_OFF);
  put32(b, INFO_OFF + 64, block + NAME_OFF);
  if (cmdline) {
    b.set(cmdline, CMDLINE_OFF);
    put32(b, INFO_OFF + 16, block + CMDLINE_OFF);
    flags |= MBI_CMDLINE;
  }
  put32(b, INFO_OFF, flags);
  cpu.writePhys(block, b);

  // Processor state (spec §3.2).
  cpu.cr0 = 0x11; // PE, ET; paging off
  cpu.cr3 = 0;
  cpu.cr4 = 0;
  cpu.flushTlb();
  cpu.gdtrBase = block + GDT_OFF;
  cpu.gdtrLimit = 3 * 8 - 1;
  cpu.idtrBase = 0;
  cpu.idtrLimit = 0;
  cpu.ldtr = 0;
  cpu.ldtBase = 0;
  cpu.ldtLimit = 0;
  cpu.tr = 0;
  cpu.trBase = 0;
  cpu.trLimit = 0;
  cpu.setCpl(0);
  setSegmentCache(cpu, CS, BOOT_CODE_SELECTOR, parseDescriptor(code[0], code[1]));
  const flat = parseDescriptor(data[0], data[1]);
  for (const s of [DS, ES, FS, GS, SS]) setSegmentCache(cpu, s, BOOT_DATA_SELECTOR, flat);
  cpu.setEflags(0, ~0); // IF = 0, VM = 0, everything else clear (bit 1 reads as 1)
  cpu.regs.fill(0);
  cpu.regs[EAX] = MULTIBOOT_BOOTLOADER_MAGIC | 0;
  cpu.regs[EBX] = block + INFO_OFF;
  cpu.regs[4] = BOOT_ESP;
  cpu.eip = k.entry | 0;
  return { ...k, bootBlock: block, infoAddr: block + INFO_OFF };
}
