/**
 * Write overlays (onlyonemac's question in seed 001): writes to a watched
 * buffer land in an overlay while the buffer itself keeps its original
 * bytes; reads see the overlay's bytes where it was written and the
 * original elsewhere. The watch framework implements it on its single
 * step (src/watch/watch.ts): before a watched instruction runs, the bytes
 * it touches are saved and, where it reads, the overlay's bytes are put in
 * place; after the step, what it wrote is taken into the overlay and the
 * saved original bytes are put back. So the memory holds the original
 * whenever no watched instruction is running, whatever the instruction
 * (MOV, ADD [m], REP MOVSB, ...).
 *
 * This file holds the overlay's bytes and its file format.
 */

/** The bytes written through the overlay of one buffer. */
export class Overlay {
  /** Overlay bytes by offset in the buffer (only written bytes are present). */
  private readonly bytes = new Map<number, number>();

  constructor(readonly start: number, readonly len: number) {}

  get size(): number {
    return this.bytes.size;
  }

  /** The overlay's byte at `offset`, or -1 where nothing was written. */
  get(offset: number): number {
    return this.bytes.get(offset) ?? -1;
  }

  set(offset: number, b: number): void {
    if (offset >= 0 && offset < this.len) this.bytes.set(offset, b & 0xff);
  }

  /** Written offsets, ascending. */
  offsets(): number[] {
    return [...this.bytes.keys()].sort((a, b) => a - b);
  }

  clear(): void {
    this.bytes.clear();
  }

  /**
   * The overlay as text (`--overlay-save FILE`): a header line per buffer,
   * `buffer ADDRESS LENGTH` (hex address, decimal length), then one line
   * per run of consecutive written bytes, `OFFSET ORIGINAL OVERLAY`: the
   * offset in hex (4 digits at least) and the original and overlay bytes
   * as hex strings of the same length — a diff of the buffer against its
   * overlay. `original(offset)` gives a byte of the buffer (-1: unreadable,
   * written `??`).
   */
  format(original: (offset: number) => number, why: string): string {
    const lines = [`buffer ${(this.start >>> 0).toString(16).padStart(8, '0')} ${this.len} ${why}`];
    const offs = this.offsets();
    const hex2 = (b: number): string => (b < 0 ? '??' : b.toString(16).padStart(2, '0'));
    for (let i = 0; i < offs.length;) {
      let j = i;
      while (j + 1 < offs.length && offs[j + 1] === offs[j]! + 1) j++;
      let orig = '';
      let over = '';
      for (let k = i; k <= j; k++) {
        orig += hex2(original(offs[k]!));
        over += hex2(this.get(offs[k]!));
      }
      lines.push(`${offs[i]!.toString(16).padStart(4, '0')} ${orig} ${over}`);
      i = j + 1;
    }
    return lines.join('\n') + '\n';
  }
}

/** The first line of an overlay file. */
export const OVERLAY_FILE_HEADER = '# kmemsim overlay 1: buffer ADDRESS LENGTH WHY, then OFFSET ORIGINAL OVERLAY (hex)\n';
