/**
 * Files a module run writes besides its reports: `--overlay-save FILE`
 * (every write overlay as it ends and those live after the run, in
 * Overlay.format()'s text, src/watch/overlay.ts) and `--mmiotrace FILE`
 * (Linux's mmiotrace log, src/mmio/mmiotrace.ts). Each is created before
 * the run, as --report-json is — a path that cannot be written is a usage
 * error (2) and nothing runs — and written whole after it.
 */
import * as fs from 'node:fs';

export interface RunOutputFile {
  sink(text: string): void;
  /** Write the file: an error message, or null. */
  finish(): string | null;
}

/** Create `path` with `header` (or return the error message). */
export function openRunOutput(path: string, header = ''): RunOutputFile | string {
  try {
    fs.writeFileSync(path, header);
  } catch (e) {
    return `kmemsim: cannot write ${path}: ${e instanceof Error ? e.message : String(e)}`;
  }
  const parts: string[] = [header];
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
