/**
 * `kmemsim boot <kernel.elf>`: read the file, boot it (src/boot/machine.ts),
 * pass the console through to stdout, explain on stderr why the machine
 * stopped when it was not a clean exit, and return the exit status:
 *
 * - (v << 1) | 1 when the kernel wrote v to isa-debug-exit (port 0xF4), as QEMU;
 * - 0 when it halted with interrupts disabled;
 * - 124 when the instruction budget ran out;
 * - 125 triple fault (with the chain of exceptions), unhandled exception,
 *   unsupported instruction, internal error (with EIP, the bytes there and
 *   the registers);
 * - 126 the file is not a bootable Multiboot kernel; 127 it does not exist;
 *   2 bad options (and a gdb port that cannot be listened on).
 *
 * `-s` / `--gdb PORT` serve the GDB remote protocol (src/gdb) on 127.0.0.1,
 * as QEMU's `-s` (tcp::1234) and `-gdb`; `-S` stops before the first
 * instruction until gdb connects and continues, as QEMU's `-S`.
 */
import { readInput } from './input.js';
import { errLine, out } from './io.js';
import type { StopReason } from '../cpu/stop.js';
import { vectorName } from '../cpu/stop.js';
import { hexBytes } from '../cpu/disasm.js';
import { bootMultiboot, codeBytesAt, BootOptionError, DEFAULT_BOOT_MEMORY_MIB, MIN_BOOT_MEMORY_MIB, MAX_BOOT_MEMORY_MIB, type BootResult } from '../boot/machine.js';
import { MultibootError } from '../boot/multiboot.js';
import { describeStop } from './describe.js';
import type { GdbSession } from '../gdb/session.js';
import { DEFAULT_BUDGET } from '../kernel/process.js';
import type { CliCommand } from './command.js';
import { MAX_INSTRUCTIONS_HELP, parseCount, parseSize, UsageError } from './options.js';

export interface BootCommandOptions {
  memoryMiB?: number;
  maxInstructions?: number;
  traceEvents?: boolean;
  verbose?: boolean;
  cmdline?: string;
  /** `-s`/`--gdb PORT` (with `-S`: stop before the first instruction). */
  gdb?: { port: number; stop: boolean };
}

const h8 = (v: number): string => '0x' + (v >>> 0).toString(16).padStart(8, '0');

/** What `kmemsim boot` prints on stderr for a stop that is not a clean exit. */
export function explainBootStop(r: Pick<BootResult, 'stop' | 'instructions' | 'cpu'>): string {
  const stop: StopReason = r.stop;
  const lines = [describeStop(stop, r.instructions)];
  if (stop.kind === 'triple-fault') {
    lines.push('  exceptions, each raised while delivering the one before:');
    for (const c of stop.chain) {
      lines.push(`    ${vectorName(c.vector)}${c.errorCode !== null ? ` (error code 0x${c.errorCode.toString(16)})` : ''} at EIP ${h8(c.eip)}`);
    }
  }
  if (stop.kind === 'fault' || stop.kind === 'triple-fault' || stop.kind === 'unsupported' || stop.kind === 'internal-error' || stop.kind === 'budget') {
    const eip = r.cpu.eip;
    const bytes = codeBytesAt(r.cpu, eip);
    lines.push(`  at EIP ${h8(eip)}: ${bytes.length ? hexBytes(bytes) : '(not in memory)'}`);
    for (const l of r.cpu.dumpRegisters().split('\n')) lines.push('  ' + l);
  }
  return lines.join('\n');
}

export async function bootCommand(file: string, opts: BootCommandOptions): Promise<number> {
  const bytes = readInput(file);
  if (typeof bytes === 'number') return bytes;
  let gdb: GdbSession | null = null;
  if (opts.gdb) {
    const { GdbSession, GdbListenError } = await import('../gdb/session.js');
    try {
      gdb = GdbSession.listen({ port: opts.gdb.port, onFinding: false, log: errLine });
    } catch (e) {
      if (!(e instanceof GdbListenError)) throw e;
      errLine(`kmemsim: --gdb: ${e.message}`);
      return 2;
    }
  }
  let code = 125;
  try {
    code = boot(file, bytes, opts, gdb);
  } finally {
    gdb?.finish(code);
  }
  return code;
}

function boot(file: string, bytes: Uint8Array, opts: BootCommandOptions, gdb: GdbSession | null): number {
  let r: BootResult;
  try {
    r = bootMultiboot(bytes, {
      onReady: gdb ? (cpu) => gdb.attachMachine(cpu, file, opts.gdb!.stop) : undefined,
      memoryMiB: opts.memoryMiB,
      maxInstructions: opts.maxInstructions,
      traceEvents: opts.traceEvents ? errLine : undefined,
      stdout: (b) => out(b),
      cmdline: opts.cmdline,
    });
  } catch (e) {
    if (e instanceof MultibootError) {
      errLine(`kmemsim: cannot boot ${file}: ${e.message}`);
      return 126;
    }
    if (e instanceof BootOptionError) {
      errLine(`kmemsim: ${e.message}`);
      return 2;
    }
    errLine(`kmemsim: internal error: ${e instanceof Error ? e.message : String(e)}`);
    return 125;
  }
  const clean = r.stop.kind === 'exited' || r.stop.kind === 'halted';
  if (!clean) errLine(explainBootStop(r));
  if (opts.verbose) {
    if (r.stop.kind === 'exited') {
      errLine(`kmemsim: the kernel wrote 0x${r.devices.debugExit.lastValue.toString(16)} to isa-debug-exit: exit status ${r.exitCode}`);
    } else if (r.stop.kind === 'halted') {
      errLine('kmemsim: HLT with interrupts disabled: the machine halted (exit status 0)');
    }
    errLine(`kmemsim: ${r.instructions} instructions executed`);
  }
  return r.exitCode;
}

export const bootCli: CliCommand = {
  command: 'boot <kernel>',
  describe: 'Boot a Multiboot kernel on a bare simulated PC, as qemu-system-i386 -kernel does',
  builder: (y) =>
    y
      .epilogue(
        [
          'Boot a Multiboot (v1) kernel (an i386 ELF executable, or an image with the header\'s',
          'address fields) on a bare simulated PC, as qemu-system-i386 -kernel does. The debug',
          'console (port 0xE9) and COM1 go to stdout.',
          '',
          'Exit status:',
          '  (v << 1) | 1  the kernel wrote v to isa-debug-exit (port 0xF4)',
          '  0             HLT with nothing left to wake the processor',
          '  124           the instruction budget ran out',
          '  125           triple fault, unhandled exception, unsupported instruction (explained on stderr)',
          '  126           not a bootable Multiboot kernel',
          '  127           no such file',
          '  2             usage error',
        ].join('\n'),
      )
      .positional('kernel', { type: 'string', describe: 'Multiboot kernel image (i386 ELF executable)', demandOption: true })
      .option('memory', { type: 'string', describe: `RAM, like qemu -m: 128M, 1G, or a plain number of MiB (${MIN_BOOT_MEMORY_MIB} MiB to ${MAX_BOOT_MEMORY_MIB} MiB, whole MiB)`, default: String(DEFAULT_BOOT_MEMORY_MIB) })
      .option('max-instructions', { type: 'string', describe: MAX_INSTRUCTIONS_HELP })
      .option('trace-events', { type: 'boolean', describe: 'one line per exception or interrupt on stderr', default: false })
      .option('append', { type: 'string', describe: 'kernel command line (Multiboot cmdline)' })
      .option('verbose', { type: 'boolean', describe: 'say how the machine stopped, on stderr', default: false })
      .option('s', { type: 'boolean', describe: 'serve gdb on 127.0.0.1:1234, as qemu -s (shorthand for --gdb 1234)', default: false })
      .option('S', { type: 'boolean', describe: 'with -s or --gdb: stop before the first instruction until gdb connects and continues, as qemu -S', default: false })
      .option('gdb', { type: 'string', describe: 'serve the GDB remote protocol on 127.0.0.1:PORT (0: any free port, printed)' })
      .example('$0 boot build/kernels/hello.elf', 'exits with status 33')
      .example('$0 boot k.elf --trace-events', 'trace interrupts'),
  run(a) {
    const memory = parseSize(a.memory, '--memory', { min: MIN_BOOT_MEMORY_MIB * 2 ** 20, max: MAX_BOOT_MEMORY_MIB * 2 ** 20 });
    if (memory % 2 ** 20 !== 0) throw new UsageError(`--memory must be a whole number of MiB (got ${String(a.memory)})`);
    if (a.s && a.gdb !== undefined) throw new UsageError('-s is --gdb 1234: give one of them');
    const gdbPort = a.s ? 1234 : a.gdb === undefined ? null : parseCount(a.gdb, '--gdb', { max: 65535 });
    if (a.S && gdbPort === null) throw new UsageError('-S needs -s or --gdb PORT (there is no monitor to continue from)');
    return bootCommand(a.kernel as string, {
      gdb: gdbPort === null ? undefined : { port: gdbPort, stop: a.S as boolean },
      memoryMiB: memory / 2 ** 20,
      maxInstructions: a['max-instructions'] === undefined ? DEFAULT_BUDGET : parseCount(a['max-instructions'], '--max-instructions'),
      traceEvents: a['trace-events'] as boolean,
      verbose: a.verbose as boolean,
      cmdline: a.append as string | undefined,
    });
  },
};
