/**
 * The Linux side of exec for the first process: the personality, the
 * task with its descriptors 0–2, working directory and VMAs for the
 * program's segments, and what create_elf_tables() needs from it
 * (AT_HWCAP from CPUID, the ids, AT_EXECFN).
 */
import * as path from 'node:path';
import type { Kernel } from '../kernel/kernel.js';
import type { Elf32 } from '../elf/elf32.js';
import { PT_LOAD } from '../elf/elf32.js';
import { PAGE_SIZE, TASK_SIZE } from '../kernel/layout.js';
import { LinuxSystem, HOST_GID, HOST_UID, cpuidLeaf } from './linux.js';
import { UserMm, elfSegmentVmas } from './mm.js';
import { FdTable } from './fd-table.js';
import { TlsSlots } from './tls.js';
import { SignalState } from './signals.js';
import { Task } from './task.js';
import { StdinFile, StdoutFile, type TerminalOps } from './fs/stdio.js';
import { devString } from './sys-mm.js';
import { Vfs } from './fs/vfs.js';
import type { KernelApiHook } from './sys-module.js';

export interface LinuxStartOptions {
  argv: string[];
  env?: string[];
  stdin?: Uint8Array;
  verbose?: boolean;
  onDiagnostic?(line: string): void;
  /** The kernel console (printk of loaded modules). */
  onConsole?(text: string): void;
  /** A checker's options for the module kernel's API (kmemcheck over loaded modules). */
  kernelApi?: KernelApiHook;
  root?: string;
  readOnly?: boolean;
  exePath?: string;
  cwd?: string;
  stdioIsTty?: [boolean, boolean, boolean];
}

export interface LinuxProcess {
  system: LinuxSystem;
  execfn: string;
  hwcap: number;
  uid: number;
  gid: number;
}

export function startLinuxProcess(
  k: Kernel, elf: Elf32, opts: LinuxStartOptions,
  sinks: { stdout(b: Uint8Array): void; stderr(b: Uint8Array): void }, stackPages: number,
): LinuxProcess {
  const sys = new LinuxSystem(k, {
    diagnostic: (l) => opts.onDiagnostic?.(l),
    verbose: !!opts.verbose,
    ...(opts.onConsole ? { console: opts.onConsole } : {}),
  }, { root: opts.root, readOnly: opts.readOnly, ...(opts.kernelApi ? { kernelApi: opts.kernelApi } : {}) });
  sys.install();
  const argv = opts.argv.length ? opts.argv : ['a.out'];
  const cwd = opts.cwd ?? (opts.root ? '/' : process.cwd());
  const given = opts.exePath ?? argv[0]!;
  // /proc/self/exe names the file itself: the absolute guest path with links resolved (d_path()).
  let exe = opts.root ? path.posix.resolve('/', given) : path.resolve(cwd, given);
  let dev = '00:00', inode = 0;
  try {
    const r = sys.vfs.resolve(exe, cwd, true);
    exe = r.guest;
    const st = sys.vfs.stat(r);
    dev = devString(st.dev);
    inode = st.ino;
  } catch {
    /* a program given as bytes only: keep the name */
  }

  const mm = new UserMm(k, k.as);
  const segments = elfSegmentVmas(elf);
  mm.setupExec(segments, { path: exe, dev, inode }, TASK_SIZE - stackPages * PAGE_SIZE);

  const files = new FdTable();
  const term: TerminalOps = { writeUser: (a, d) => sys.ua.write(a, d), pgrp: () => sys.task.pgid };
  const tty = opts.stdioIsTty ?? [false, false, false];
  files.install(0, new StdinFile(opts.stdin ?? new Uint8Array(0), { pos: 0 }, tty[0], term));
  files.install(1, new StdoutFile(sinks.stdout, 11, tty[1], term));
  files.install(2, new StdoutFile(sinks.stderr, 12, tty[2], term));

  const pid = 1;
  const task = new Task(pid, 0, mm, files, cwd, new TlsSlots(), new SignalState(), exe, argv, opts.env ?? []);
  task.setComm(given); // as execve() was given it (kmemsim run's file name)
  sys.tasks.set(pid, task);
  sys.task = task;
  return { system: sys, execfn: given, hwcap: cpuidLeaf(k, 1).edx, uid: HOST_UID, gid: HOST_GID };
}

/** The host file behind a guest program path under --root (resolved inside the root, links included); null when missing. */
export function hostPathInRoot(root: string, guestPath: string): string | null {
  const vfs = new Vfs({ root, mounts: new Map() });
  try {
    const r = vfs.resolve(guestPath, '/', true);
    return r.kind === 'host' && r.stat ? r.host : null;
  } catch {
    return null;
  }
}
