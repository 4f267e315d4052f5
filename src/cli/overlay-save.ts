/**
 * `kmemsim run mod.c --overlay-save FILE`: every write overlay
 * (kmcf_overlay, src/watch/overlay.ts) as it ends — committed, discarded,
 * dropped by kmcf_delete/kmcf_unregister — and those still live after the
 * run, in that order, in the format Overlay.format() describes. The file
 * is created before the run, as --report-json is: a path that cannot be
 * written is a usage error (2) and nothing runs.
 */
import * as fs from 'node:fs';
import { OVERLAY_FILE_HEADER } from '../watch/overlay.js';

export interface OverlaySave {
  sink(text: string): void;
  /** Write the file; an error message, or null. */
  finish(): string | null;
}

/** Create FILE (or return the error message). */
export function openOverlaySave(path: string): OverlaySave | string {
  try {
    fs.writeFileSync(path, OVERLAY_FILE_HEADER);
  } catch (e) {
    return `kmemsim: cannot write ${path}: ${e instanceof Error ? e.message : String(e)}`;
  }
  const parts: string[] = [OVERLAY_FILE_HEADER];
  return {
    sink: (text) => void parts.push(text),
    finish: () => {
      try {
        fs.writeFileSync(path, parts.join(''));
        return null;
      } catch (e) {
        return `kmemsim: cannot write ${path}: ${e instanceof Error ? e.message : String(e)}`;
      }
    },
  };
}
