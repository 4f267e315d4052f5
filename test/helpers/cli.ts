/**
 * The CLI run in-process (src/cli/main.ts's `main` with captured streams and
 * an empty stdin): what a test sees of `kmemsim ARGS`, without a child
 * process per call.
 */
import { main } from '../../src/cli/main.js';

export interface CliResult {
  status: number;
  stdout: string;
  stderr: string;
}

export async function kmemsim(args: string[]): Promise<CliResult> {
  let stdout = '', stderr = '';
  const status = await main(args, {
    stdout: (b) => void (stdout += Buffer.from(b).toString('latin1')),
    stderr: (b) => void (stderr += Buffer.from(b).toString('latin1')),
    stdin: () => new Uint8Array(0),
  });
  return { status, stdout, stderr };
}
