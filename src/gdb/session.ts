/**
 * A debugging session: `kmemsim run FILE --gdb PORT [--gdb-on-finding]`.
 *
 * 1. Before anything runs, the stub listens on 127.0.0.1:PORT (a port in
 *    use is a usage error, exit status 2).
 * 2. When the machine is ready — a module loaded with every checker
 *    attached, before init_module(); a program loaded, before its first
 *    instruction — the stub joins the single-step loop, prints how to
 *    connect (for a module, the exact `add-symbol-file` commands with
 *    every loaded section's address, as `gdb` needs them for a relocatable
 *    object: the module and the guest runtime linked with it), waits for
 *    gdb to connect, and stops there, as `qemu-i386 -g PORT` and gdbserver
 *    stop a program before its first instruction.
 * 3. With `--gdb-on-finding`, each finding a checker saves stops the guest
 *    at the instruction it reports, its report printed on stderr and on
 *    gdb's console.
 * 4. At the end, gdb is told the exit status (`W`), as gdbserver does.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kernel } from '../kernel/kernel.js';
import type { LoadedModule } from '../kernel/module.js';
import { addSymbolFileCommand } from './symbol-file.js';
import type { CPU } from '../cpu/cpu.js';
import { PageHidingService } from '../kernel/page-hiding.js';
import { MachineView } from './machine-view.js';
import { SingleStepper, type DebugView } from './step-loop.js';
import type { ErrorQueue } from '../shadow/errors.js';
import { formatReport, type FindingRegion, type SourceLocator, type Symbolizer } from '../shadow/report.js';
import { GdbConnection } from './connection.js';
import { GdbStub } from './stub.js';

export { GdbListenError } from './connection.js';

export interface GdbSessionOptions {
  port: number;
  /** `--gdb-on-finding`. */
  onFinding: boolean;
  /** stderr lines. */
  log(line: string): void;
}

/** What the checkers save into, and how their reports are written (src/harness/checked-run.ts onAttached). */
export interface FindingSources {
  queues: { region: FindingRegion; errors: ErrorQueue }[];
  symbolize: Symbolizer;
  locate: SourceLocator;
}

export { addSymbolFileCommand };

export class GdbSession {
  stub: GdbStub | null = null;
  private tempDir: string | null = null;

  private constructor(
    private readonly conn: GdbConnection,
    private readonly opts: GdbSessionOptions,
  ) {}

  /** Listen (throws GdbListenError). */
  static listen(opts: GdbSessionOptions): GdbSession {
    return new GdbSession(GdbConnection.listen(opts.port), opts);
  }

  get port(): number {
    return this.conn.port;
  }

  /**
   * A module is loaded: print the add-symbol-file commands (the object is
   * written to a temporary file when it came from a .c file), attach,
   * wait for gdb and stop before init_module().
   */
  attachModule(kernel: Kernel, mod: LoadedModule, object: { path: string | null; bytes: Uint8Array }, findings: FindingSources | null, runtimePath: string | null): void {
    let path = object.path;
    if (path === null) {
      this.tempDir = fs.mkdtempSync(join(tmpdir(), 'kmemsim-gdb-'));
      path = join(this.tempDir, `${mod.object.name.replace(/\.[^.]*$/, '')}.o`);
      fs.writeFileSync(path, object.bytes);
    }
    const commands = [addSymbolFileCommand(path, mod.object)];
    if (mod.runtime && runtimePath !== null) commands.push(addSymbolFileCommand(runtimePath, mod.runtime));
    this.opts.log(`kmemsim: gdb: load the module's symbols with:`);
    for (const c of commands) this.opts.log(`  ${c}`);
    this.attach(kernel, findings);
  }

  /** A program is loaded: attach, wait for gdb, stop before its first instruction. */
  attachProgram(kernel: Kernel, file: string): void {
    this.opts.log(`kmemsim: gdb: its symbols are in the program: gdb-multiarch ${file}`);
    this.attach(kernel, null);
  }

  /**
   * A bare machine (`kmemsim boot -s`/`-S`, QEMU's options): with `stop`
   * (-S) wait for gdb and stop before the first instruction; without it
   * the guest runs at once and stops when gdb connects, as QEMU's
   * `-s` alone. Memory is read through the guest's own page tables.
   */
  attachMachine(cpu: CPU, file: string, stop: boolean): void {
    this.opts.log(`kmemsim: gdb: its symbols are in the kernel: gdb-multiarch ${file}`);
    this.attachCpu(cpu, new MachineView(cpu), null, { kill: () => cpu.stop({ kind: 'halted', message: 'gdb killed the guest' }), wait: stop });
  }

  private attach(kernel: Kernel, findings: FindingSources | null): void {
    this.attachCpu(kernel.cpu, new PageHidingService(kernel), findings, {
      kill: () => kernel.cpu.stop({ kind: 'halted', message: 'gdb killed the guest' }),
      wait: true,
    });
  }

  private attachCpu(cpu: CPU, view: DebugView, findings: FindingSources | null, how: { kill(): void; wait: boolean }): void {
    let newFinding: (() => { eip: number; report: string } | null) | undefined;
    if (this.opts.onFinding && findings !== null) {
      const seen = findings.queues.map((q) => q.errors.saved);
      newFinding = () => {
        for (let i = 0; i < findings.queues.length; i++) {
          const q = findings.queues[i]!;
          if (q.errors.saved === seen[i]) continue;
          seen[i] = q.errors.saved;
          const e = q.errors.last();
          if (e === null) continue;
          return { eip: e.eip, report: formatReport(e, { symbolize: findings.symbolize, locate: findings.locate, region: q.region }) };
        }
        return null;
      };
    }
    const stub = new GdbStub(this.conn, cpu, view, { log: this.opts.log, kill: how.kill, newFinding });
    this.stub = stub;
    SingleStepper.of(cpu, view).add(stub);
    if (!how.wait) {
      this.opts.log(`kmemsim: gdb: listening on 127.0.0.1:${this.conn.port} (target remote :${this.conn.port}); the guest runs until gdb connects`);
      stub.stopWhenConnected();
      return;
    }
    this.opts.log(`kmemsim: gdb: waiting for gdb on 127.0.0.1:${this.conn.port} (target remote :${this.conn.port})`);
    this.conn.waitForClient();
    stub.stopAtNext();
  }

  /** The run is over: tell gdb the status, close, remove the temporary object. */
  finish(status: number): void {
    this.stub?.exited(status);
    this.conn.close();
    if (this.tempDir !== null) fs.rmSync(this.tempDir, { recursive: true, force: true });
  }
}
