/**
 * What a file argument holds when a command takes kernel modules
 * (`kmemsim run`, `kmemsim compare`): C source, by its `.c` name, to be
 * compiled (./compile.ts); a relocatable ELF object (`gcc -c` output, a
 * `.o` or `.ko`), by its content whatever its name — as insmod looks at the
 * file, not its name; or something else.
 */

/** ELF with e_type ET_REL (1, little-endian): a kernel module object (ELF spec, e_ident and e_type). */
export function isRelocatable(b: Uint8Array): boolean {
  return b.length >= 18 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46 && b[16] === 1 && b[17] === 0;
}
