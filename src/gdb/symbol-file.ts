/**
 * gdb's `add-symbol-file` command for a relocatable object loaded at its
 * sections' addresses (`add-symbol-file FILE -s .text ADDR -s .data ADDR
 * ...`: every loaded section with its load address, as a kernel module's
 * .ko needs). Printed by `kmemsim run --gdb` (src/gdb/session.ts) and by
 * `kmemsim run MODULE --verbose`.
 */
import type { LoadedObject } from '../kernel/module.js';

export function addSymbolFileCommand(path: string, object: LoadedObject): string {
  const secs = object.sections.filter((s) => s.size > 0);
  return `add-symbol-file ${path} ${secs.map((s) => `-s ${s.name} 0x${(s.address >>> 0).toString(16)}`).join(' ')}`;
}
