/**
 * The GDB remote serial protocol's framing (gdb manual, "Overview" of
 * "Remote Protocol"): a packet is `$data#cc`, `cc` the two-hex-digit sum of
 * the data bytes modulo 256; `}` escapes `$`, `#`, `}` and `*` (the byte
 * XOR 0x20) in binary data; the receiver answers `+` (good) or `-` (bad
 * checksum: send again) until QStartNoAckMode turns acknowledgements off;
 * a lone 0x03 between packets is an interrupt (Ctrl-C in gdb).
 *
 * Malformed input never throws: a bad checksum is NAKed, bytes outside a
 * packet are skipped, a packet longer than MAX_PACKET is dropped (NAK), and
 * end of input (the client disconnected, even mid-packet) is `eof`.
 */

/** The largest packet accepted (gdb is told PacketSize, below it). */
export const MAX_PACKET = 0x10000;
/** What qSupported advertises: gdb sends no packet longer than this. */
export const PACKET_SIZE = 0x4000;

/** The byte source: blocking reads, null at the end. */
export interface ByteSource {
  readByte(): number | null;
  write(data: string | Uint8Array): void;
}

export type Incoming = { kind: 'packet'; data: Uint8Array } | { kind: 'interrupt' } | { kind: 'eof' };

export function checksum(data: Uint8Array): number {
  let s = 0;
  for (const b of data) s = (s + b) & 0xff;
  return s;
}

const hexDigit = (b: number): number => (b >= 0x30 && b <= 0x39 ? b - 0x30 : b >= 0x61 && b <= 0x66 ? b - 0x57 : b >= 0x41 && b <= 0x46 ? b - 0x37 : -1);

/** Reads packets from a byte source, acknowledging them (unless no-ack mode is on). */
export class PacketReader {
  noAck = false;
  /** Packets refused for a bad checksum or length (for tests and --verbose). */
  rejected = 0;

  constructor(private readonly io: ByteSource) {}

  next(): Incoming {
    for (;;) {
      const b = this.io.readByte();
      if (b === null) return { kind: 'eof' };
      if (b === 0x03) return { kind: 'interrupt' };
      if (b !== 0x24 /* $ */) continue; // acks and noise between packets
      const body: number[] = [];
      let tooLong = false;
      let c: number | null;
      for (c = this.io.readByte(); c !== null && c !== 0x23 /* # */; c = this.io.readByte()) {
        if (c === 0x24) {
          // A new packet started inside this one: gdb gave up on the old one.
          body.length = 0;
          tooLong = false;
          continue;
        }
        if (body.length < MAX_PACKET) body.push(c);
        else tooLong = true;
      }
      if (c === null) return { kind: 'eof' };
      const h = this.io.readByte();
      const l = h === null ? null : this.io.readByte();
      if (h === null || l === null) return { kind: 'eof' };
      const raw = Uint8Array.from(body);
      const sum = (hexDigit(h) << 4) | hexDigit(l);
      if (!this.noAck && (tooLong || hexDigit(h) < 0 || hexDigit(l) < 0 || sum !== checksum(raw))) {
        this.rejected++;
        this.io.write('-');
        continue;
      }
      if (tooLong) {
        this.rejected++;
        continue;
      }
      if (!this.noAck) this.io.write('+');
      return { kind: 'packet', data: unescape(raw) };
    }
  }
}

/** Undo `}` escapes (binary data: X packets, and any packet may carry them). */
export function unescape(raw: Uint8Array): Uint8Array {
  if (!raw.includes(0x7d)) return raw;
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] === 0x7d && i + 1 < raw.length) out.push(raw[++i]! ^ 0x20);
    else out.push(raw[i]!);
  }
  return Uint8Array.from(out);
}

/** A packet ready to send: `$` escaped data `#` checksum. */
export function frame(data: string | Uint8Array): Uint8Array {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const out: number[] = [0x24];
  for (const b of bytes) {
    if (b === 0x24 || b === 0x23 || b === 0x7d || b === 0x2a) out.push(0x7d, b ^ 0x20);
    else out.push(b);
  }
  const body = Uint8Array.from(out.slice(1));
  const sum = checksum(body);
  out.push(0x23, ...Buffer.from(sum.toString(16).padStart(2, '0'), 'latin1'));
  return Uint8Array.from(out);
}

export const toHex = (bytes: ArrayLike<number>): string => {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += (bytes[i]! & 0xff).toString(16).padStart(2, '0');
  return s;
};

/** Hex text to bytes; null when it is not an even number of hex digits. */
export function fromHex(text: string): Uint8Array | null {
  if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) return null;
  return Uint8Array.from(Buffer.from(text, 'hex'));
}

/** A little-endian register value as gdb's hex (`size` bytes). */
export function hexLE(v: number, size: number): string {
  let s = '';
  for (let i = 0; i < size; i++) s += ((v >>> (8 * i)) & 0xff).toString(16).padStart(2, '0');
  return s;
}
