/** Human text for a stop reason: the short explanation `kmemsim run` prints on stderr. */
import type { StopReason } from '../cpu/stop.js';
import { errLine } from './io.js';

export function describeStop(stop: StopReason, instructions: number): string {
  switch (stop.kind) {
    case 'exited': return `kmemsim: guest exited with status ${stop.status}`;
    case 'halted': return `kmemsim: ${stop.message ?? 'machine halted'}`;
    case 'budget': return `kmemsim: instruction budget exhausted after ${instructions} instructions (use --max-instructions to raise it)`;
    case 'fault': return `kmemsim: guest killed: ${stop.message}`;
    case 'unsupported': return `kmemsim: ${stop.message}`;
    case 'triple-fault': return `kmemsim: ${stop.message} (the machine shut down)`;
    case 'internal-error': return `kmemsim: ${stop.message}`;
    case 'yield': return 'kmemsim: the kernel yielded the processor';
  }
}

/** "kmemsim: warning: FILE: ..." when a program's section headers were unusable (it still runs, without symbols). */
export function warnSections(file: string, sectionError: string | null): void {
  if (sectionError !== null) errLine(`kmemsim: warning: ${file}: section headers ignored (${sectionError}); no symbols`);
}
