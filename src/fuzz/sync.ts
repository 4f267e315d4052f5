/**
 * Parallel fuzzing through AFL++'s sync directory (afl-fuzz-run.c
 * sync_fuzzers()): instances started with `-M NAME` / `-S NAME` share
 * `-o OUT`, each in `OUT/NAME/`; every so often an instance looks at the
 * other directories of OUT that have a `queue/`, runs the entries it has
 * not seen yet (those with an id at least the one recorded in
 * `OUT/NAME/.synced/OTHER`, a little-endian u32 as AFL++ writes it) and
 * keeps those that add coverage, as `id:NNNNNN,sync:OTHER,src:NNNNNN`. So
 * kmemsim instances on one machine or on several sharing the directory,
 * and real afl-fuzz instances fuzzing a native build of the same target,
 * exchange their finds.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';

/** An entry of another instance's queue not imported yet. */
export interface SyncCandidate {
  instance: string;
  id: number;
  path: string;
}

/** The other instances' directories in OUT (those with a queue/), sorted by name. */
export function otherInstances(out: string, self: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(out).sort();
  } catch {
    return [];
  }
  return names.filter((n) => n !== self && !n.startsWith('.') && isDir(join(out, n, 'queue')));
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The first id of OTHER's queue this instance has not imported (AFL++'s min_accept; 0 when never synced). */
export function syncedUpTo(selfDir: string, other: string): number {
  try {
    const b = fs.readFileSync(join(selfDir, '.synced', other));
    return b.length >= 4 ? b.readUInt32LE(0) : 0;
  } catch {
    return 0;
  }
}

/** Record that OTHER's queue was imported up to `next` (exclusive), written then renamed like every other file. */
export function markSynced(selfDir: string, other: string, next: number): void {
  const dir = join(selfDir, '.synced');
  fs.mkdirSync(dir, { recursive: true });
  const b = Buffer.alloc(4);
  b.writeUInt32LE(next >>> 0, 0);
  const tmp = join(dir, `.${other}.tmp`);
  fs.writeFileSync(tmp, b);
  fs.renameSync(tmp, join(dir, other));
}

/** The new entries of every other instance, in instance then id order, at most `maxLength` bytes each. */
export function syncCandidates(out: string, self: string, maxLength: number): { instance: string; next: number; entries: SyncCandidate[] }[] {
  const selfDir = join(out, self);
  const result: { instance: string; next: number; entries: SyncCandidate[] }[] = [];
  for (const other of otherInstances(out, self)) {
    const from = syncedUpTo(selfDir, other);
    let next = from;
    const entries: SyncCandidate[] = [];
    let names: string[];
    try {
      names = fs.readdirSync(join(out, other, 'queue')).sort();
    } catch {
      continue;
    }
    for (const n of names) {
      const m = /^id:(\d{6,})/.exec(n);
      if (!m) continue;
      const id = Number(m[1]);
      if (id < from) continue;
      next = Math.max(next, id + 1);
      const path = join(out, other, 'queue', n);
      try {
        const st = fs.statSync(path);
        if (!st.isFile() || st.size > maxLength) continue;
      } catch {
        continue;
      }
      entries.push({ instance: other, id, path });
    }
    result.push({ instance: other, next, entries });
  }
  return result;
}
