/**
 * Files a module run writes besides its reports: `--overlay-save FILE`
 * (every write overlay as it ends and those live after the run, in
 * Overlay.format()'s text, src/watch/overlay.ts) and `--mmiotrace FILE`
 * (Linux's mmiotrace log, src/mmio/mmiotrace.ts). Each is created before
 * the run, as --report-json is — a path that cannot be written is a usage
 * error (2) and nothing runs — and written whole after it.
 */
import * as fs from 'node:fs';
import { OVERLAY_FILE_HEADER } from '../watch/overlay.js';
import { parseUserProgram } from '../kernel/process.js';
import type { AccessSizeStrategy, ModuleServiceOptions } from '../harness/module-services.js';

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

/** The module services' options of a run (`--overlay-save`, `--mmiotrace`, `--access-size`) with their files created. */
export interface ServiceOutputs {
  services: ModuleServiceOptions;
  /** Write the files after the run: `status`, or 2 when one could not be written and the run had succeeded. */
  finish(status: number): number;
}

/** Create the run's --overlay-save and --mmiotrace files: the services' options, or the error message (exit status 2). */
export function openServiceOutputs(o: { overlaySave?: string; mmiotrace?: string; vdev?: string; accessSize?: AccessSizeStrategy }, errLine: (line: string) => void): ServiceOutputs | string {
  const vdev = o.vdev === undefined ? null : readVdev(o.vdev);
  if (typeof vdev === 'string') return vdev;
  const files: RunOutputFile[] = [];
  const open = (path: string | undefined, header: string): RunOutputFile | null | string => {
    if (path === undefined) return null;
    const f = openRunOutput(path, header);
    if (typeof f !== 'string') files.push(f);
    return f;
  };
  const overlays = open(o.overlaySave, OVERLAY_FILE_HEADER);
  const trace = open(o.mmiotrace, '');
  for (const f of [overlays, trace]) if (typeof f === 'string') return f;
  const services: ModuleServiceOptions = {
    accessSize: o.accessSize,
    onDiagnostic: errLine,
    watch: overlays && typeof overlays !== 'string' ? { overlaySink: overlays.sink } : {},
    mmio: { ...(trace && typeof trace !== 'string' ? { traceSink: trace.sink } : {}), ...(vdev ? { vdev } : {}) },
  };
  const finish = (status: number): number => {
    let failed = false;
    for (const f of files) {
      const e = f.finish();
      if (e !== null) {
        errLine(e);
        failed = true;
      }
    }
    return failed && status === 0 ? 2 : status;
  };
  return { services, finish };
}

/** `--vdev "PROGRAM [ARGS]"`: the program's bytes and argv, or the error message. */
function readVdev(spec: string): { elf: Uint8Array; argv: string[] } | string {
  const argv = spec.trim().split(/\s+/);
  try {
    const elf = new Uint8Array(fs.readFileSync(argv[0]!));
    parseUserProgram(elf);
    return { elf, argv };
  } catch (e) {
    return `kmemsim: --vdev ${argv[0]}: cannot run it: ${e instanceof Error ? e.message : String(e)}`;
  }
}
