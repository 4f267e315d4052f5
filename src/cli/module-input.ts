/**
 * What a file argument holds when a command takes kernel modules
 * (`kmemsim run`, `kmemsim compare`): C source, by its `.c` name, to be
 * compiled (./compile.ts); a relocatable ELF object (`gcc -c` output, a
 * `.o` or `.ko`), by its content whatever its name — as insmod looks at the
 * file, not its name; or something else.
 */
import * as fs from 'node:fs';

/** ELF with e_type ET_REL (1, little-endian): a kernel module object (ELF spec, e_ident and e_type). */
export function isRelocatable(b: Uint8Array): boolean {
  return b.length >= 18 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46 && b[16] === 1 && b[17] === 0;
}

/** The largest module object read (a kernel module is kilobytes; Linux's own largest are a few MiB). */
export const MAX_MODULE_OBJECT_BYTES = 64 * 1024 * 1024;

/** A module file argument: C source to compile, an object's bytes, or why it is neither. */
export type ModuleInput =
  | { kind: 'source' }
  | { kind: 'object'; bytes: Uint8Array }
  | { kind: 'other'; reason: string };

/**
 * What `path` holds, for a command that takes kernel modules: `.c` names
 * source (not read here: the compiler reads it); anything else is read only
 * when it is a regular file no larger than MAX_MODULE_OBJECT_BYTES whose
 * header says ET_REL — so `/dev/zero` or a FIFO is refused without reading
 * it. Throws the file system's error (ENOENT, EACCES, ...) when it cannot be
 * opened.
 */
export function readModuleInput(path: string): ModuleInput {
  if (path.endsWith('.c')) return { kind: 'source' };
  // stat before open: opening a FIFO for reading would wait for a writer.
  if (!fs.statSync(path).isFile()) return { kind: 'other', reason: 'not a regular file' };
  const fd = fs.openSync(path, 'r');
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) return { kind: 'other', reason: 'not a regular file' };
    const head = new Uint8Array(18);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (!isRelocatable(head.subarray(0, n))) {
      const elf = n >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
      return {
        kind: 'other',
        reason: elf
          ? 'an ELF file but not a relocatable object (a kernel module is gcc -c output: ET_REL)'
          : 'neither C source (.c) nor a relocatable ELF object (.o, .ko)',
      };
    }
    if (st.size > MAX_MODULE_OBJECT_BYTES) {
      return { kind: 'other', reason: `${st.size} bytes: larger than the ${MAX_MODULE_OBJECT_BYTES / (1024 * 1024)} MiB a module object may have` };
    }
    const bytes = new Uint8Array(st.size);
    let off = 0;
    while (off < bytes.length) {
      const got = fs.readSync(fd, bytes, off, bytes.length - off, off);
      if (got === 0) break;
      off += got;
    }
    return { kind: 'object', bytes: bytes.subarray(0, off) };
  } finally {
    fs.closeSync(fd);
  }
}
