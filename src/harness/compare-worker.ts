/**
 * The worker thread of `kmemsim compare --jobs N` (./compare-jobs.ts): it
 * receives one program at a time, runs every strategy on it with
 * compareProgram — exactly what the main thread does without --jobs — and
 * posts its progress and its result back. Each worker has its own machines,
 * so programs cannot affect each other.
 */
import { parentPort } from 'node:worker_threads';
import { compareProgram, type CompareOptions } from './compare.js';
import type { CompareJob, CompareWorkerMessage } from './compare-jobs.js';

const port = parentPort;
if (port === null) throw new Error('compare-worker runs only as a worker thread');

port.on('message', (job: CompareJob) => {
  const post = (m: CompareWorkerMessage): void => port.postMessage(m);
  const opts: CompareOptions = {
    ...job.options,
    onProgress: (ev) => post({ kind: 'progress', index: job.index, ev }),
    findings: job.wantFindings ? (program, strategy, findings) => post({ kind: 'findings', program, strategy, findings }) : undefined,
  };
  try {
    post({ kind: 'result', index: job.index, result: compareProgram(job.program, opts) });
  } catch (e) {
    post({ kind: 'result', index: job.index, result: { program: job.program.name, results: [], error: e instanceof Error ? e.message : String(e) } });
  }
});
