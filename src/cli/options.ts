/**
 * The one parser for the numeric options of every command (`--max-instructions`,
 * `--memory`, `--runs`, ...). yargs hands them over as strings; a value that is
 * not what the option expects is a usage error (exit status 2), never silently
 * NaN or 0.
 *
 * - Counts (`--max-instructions 10M`): a non-negative whole number, written
 *   plainly (`1000000`, `1_000_000` is not accepted), in exponent form (`1e9`),
 *   or with a decimal suffix K, M, G, T (10^3, 10^6, 10^9, 10^12; `2.5G` is
 *   2,500,000,000), as `timeout(1)`-style tools and `dd` count.
 * - Sizes (`--memory 256M`): like QEMU's `-m`: a plain number is MiB; suffixes
 *   K, M, G (binary: KiB, MiB, GiB; a trailing `B`/`iB` is allowed: `256MiB`).
 *   The result is in bytes and must be a whole number of 4 KiB pages.
 */

/** The help of `--max-instructions` (run, boot). */
export const MAX_INSTRUCTIONS_HELP = 'stop after N guest instructions (exit status 124); N is a whole number: 1000000, 1e9, or with a decimal suffix K/M/G/T (10M, 2G); default 10G';

/** A command-line mistake: one message, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const DECIMAL: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
const BINARY: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function text(value: unknown, option: string): string {
  if (Array.isArray(value)) throw new UsageError(`${option} given more than once`);
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string') throw new UsageError(`${option} needs a value`);
  const t = value.trim();
  if (t === '') throw new UsageError(`${option} needs a value (got an empty string)`);
  return t;
}

/**
 * A count: a whole number from `min` to `max` (default 0 .. 2^53-1), e.g.
 * `1000000`, `1e6`, `10M`, `2.5G`.
 */
export function parseCount(value: unknown, option: string, range: { min?: number; max?: number } = {}): number {
  const t = text(value, option);
  const min = range.min ?? 0;
  const max = range.max ?? Number.MAX_SAFE_INTEGER;
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)([kmgt]?)$/i.exec(t);
  const n = m ? Number(m[1]) * DECIMAL[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new UsageError(`${option}: '${t}' is not a whole number (write e.g. 1000000, 1e6 or 1M)`);
  }
  if (n < min || n > max) throw new UsageError(`${option} must be from ${min} to ${max} (got ${t})`);
  return n;
}

/**
 * A memory size in bytes, QEMU `-m` style: `256` (MiB), `256M`, `1G`,
 * `65536K`; from `min` to `max` bytes, a multiple of 4 KiB.
 */
export function parseSize(value: unknown, option: string, range: { min: number; max: number }): number {
  const t = text(value, option);
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(i?b)?$/i.exec(t);
  const unit = m ? (m[2] ? BINARY[m[2].toLowerCase()]! : BINARY.m!) : NaN;
  const n = m ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${option}: '${t}' is not a size (write e.g. 256M, 1G or 256 for MiB)`);
  if (n < range.min || n > range.max) {
    throw new UsageError(`${option} must be from ${formatSize(range.min)} to ${formatSize(range.max)} (got ${t})`);
  }
  if (n % 4096 !== 0) throw new UsageError(`${option} must be a whole number of 4 KiB pages (got ${t})`);
  return n;
}

/** "64 MiB", "1 GiB", "12.5 MiB": for messages. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3} GiB`;
  if (bytes >= 1024 ** 2) return `${Math.round((bytes / 1024 ** 2) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KiB`;
  return `${bytes} bytes`;
}
