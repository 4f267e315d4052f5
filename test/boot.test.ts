/**
 * `kmemsim boot`: the Multiboot loader (src/boot/multiboot.ts), the machine
 * (src/boot/machine.ts) and the command (src/cli/boot-command.ts), with the
 * test kernels of test/kernels/*.S (built by scripts/build-guests.mjs into
 * build/kernels/*.elf; without binutils these tests skip with a message).
 *
 * When qemu-system-i386 is on PATH, the same kernels also boot in QEMU and
 * their console output and exit status are compared; otherwise that part
 * is skipped with a message.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bootMultiboot, BootOptionError, type BootResult } from '../src/boot/machine.js';
import {
  loadMultiboot, MultibootError, findMultibootHeader, BOOT_BLOCK, MULTIBOOT_BOOTLOADER_MAGIC, BOOT_CODE_SELECTOR, BOOT_DATA_SELECTOR,
} from '../src/boot/multiboot.js';
import { CPU } from '../src/cpu/cpu.js';
import { IF } from '../src/cpu/flags.js';
import { assemble } from './helpers/asm.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const KDIR = join(ROOT, 'build/kernels');
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

function hasTool(t: string): boolean {
  return !spawnSync(t, ['--version']).error;
}

/** Build the kernels (incrementally); null when they can exist, else why they cannot. */
function prepareKernels(): string | null {
  if (!hasTool('as') || !hasTool('ld')) return 'GNU as/ld not found: test kernels not built';
  try {
    execFileSync(process.execPath, [join(ROOT, 'scripts/build-guests.mjs'), '--kind=kernels', '--quiet'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; stdout?: Buffer };
    throw new Error(`building the test kernels failed:\n${err.stderr?.toString() ?? ''}${err.stdout?.toString() ?? ''}`);
  }
  if (!existsSync(join(KDIR, 'hello.elf'))) return 'the build script did not produce build/kernels/hello.elf (see its message)';
  return null;
}

const skipKernels = prepareKernels();
if (skipKernels) console.log(`test/boot.test.ts: kernel tests skipped: ${skipKernels}`);
const kernel = (name: string): Uint8Array => new Uint8Array(readFileSync(join(KDIR, `${name}.elf`)));

/** What each test kernel must do. */
interface KernelSpec {
  name: string;
  console: string;
  status: number;
  stop: string;
  /** QEMU: status it exits with (null: it never exits by itself, killed after the timeout). */
  qemuStatus: number | null;
}
const HELLO = 'Hello from kmemsim boot\n';
const KERNELS: KernelSpec[] = [
  { name: 'hello', console: HELLO + HELLO, status: 33, stop: 'exited', qemuStatus: 33 },
  { name: 'halt', console: 'Halting with interrupts disabled\n', status: 0, stop: 'halted', qemuStatus: null },
  { name: 'triple', console: 'About to triple fault\n', status: 125, stop: 'triple-fault', qemuStatus: 0 },
  { name: 'timer', console: 'timer: waiting for 10 ticks ..........\ntimer: 10 ticks\n', status: 35, stop: 'exited', qemuStatus: 35 },
  { name: 'pagefault', console: 'paging on, touching 0x00300000\npage fault at 0x00300000 error 0x00000002\n', status: 37, stop: 'exited', qemuStatus: 37 },
  {
    name: 'tasks',
    console:
      'main: jmp to task1\n' +
      'task1: entered by jmp, nt=0 tr=0x00000020\n' +
      "main: back after task1's jmp, ebx=0x00001234 cr0.ts=1 busy=1,0\n" +
      'main: call through the task gate\n' +
      'task1: entered by call, nt=1 back link=0x00000018 busy=1,1\n' +
      'main: back after iret, nt=0 busy=1,0\n' +
      'main: int 0x40\n' +
      'task1: entered by int 0x40, nt=1 back link=0x00000018\n' +
      'main: back after iret, ebx=0x00005678 busy=1,0\n' +
      'main: paging on, esp=0x00301000, pushing into the not-present page below\n' +
      'double fault task: error code 0x00000000 back link=0x00000018 nt=1\n' +
      'faulting task: esp=0x00301000 eip at fault_here: 1 cr2=0x00300ffc\n',
    status: 41,
    stop: 'exited',
    qemuStatus: 41,
  },
  {
    name: 'debug',
    console:
      'dr6=0xffff0ff0 dr7=0x00000400\n' +
      // nop → trap at 1; int 0x41 (2 bytes) none, nor in its handler, nor after its IRET; nop → 4, nop → 5;
      // int3 none; nop → 7; pushf → 8; and (7 bytes) → 15; the popf clearing TF began with it set → 16.
      'traps at: 1 4 5 7 8 15 16\n' +
      'handler ran 2 times, with tf=0; dr6 at the last trap=0xffff4ff0\n' +
      '#UD count after mov from dr4 with cr4.de=1: 1\n',
    status: 43,
    stop: 'exited',
    qemuStatus: 43,
  },
];

describe.skipIf(skipKernels !== null)('test kernels under bootMultiboot', () => {
  for (const k of KERNELS) {
    it(`${k.name}.elf prints what it should and exits with ${k.status}`, () => {
      const r = bootMultiboot(kernel(k.name), { maxInstructions: 100_000_000 });
      expect(text(r.console)).toBe(k.console);
      expect(r.stop.kind).toBe(k.stop);
      expect(r.exitCode).toBe(k.status);
    });
  }

  it('hello.elf writes the same line to each device', () => {
    const r = bootMultiboot(kernel('hello'));
    expect(text(r.debugcon)).toBe(HELLO);
    expect(text(r.serialOut)).toBe(HELLO);
    expect(r.devices.uart.bytesWritten).toBe(HELLO.length);
  });

  it('streams the console in chunks as the kernel prints', () => {
    const chunks: string[] = [];
    const serial: string[] = [];
    bootMultiboot(kernel('hello'), { stdout: (b) => chunks.push(text(b)), serial: (b) => serial.push(text(b)) });
    expect(chunks).toEqual([HELLO]);
    expect(serial).toEqual([HELLO]);
  });

  it('the triple fault carries the chain #BP → #GP → #DF → #GP', () => {
    const r = bootMultiboot(kernel('triple'));
    expect(r.stop.kind).toBe('triple-fault');
    if (r.stop.kind !== 'triple-fault') return;
    expect(r.stop.chain.map((c) => c.vector)).toEqual([3, 13, 8, 13]);
    expect(r.stop.chain[1]!.errorCode).toBe(3 * 8 + 2); // IDT entry 3, not external
  });

  it('timer.elf: ten IRQ0s one PIT period (11932 clocks ≈ 1 000 015 instructions) apart', () => {
    const r = bootMultiboot(kernel('timer'));
    expect(r.devices.pit.irqCount).toBe(10);
    expect(r.instructions).toBeGreaterThan(10_000_000);
    expect(r.instructions).toBeLessThan(10_100_000);
    // Deterministic: the same run twice.
    expect(bootMultiboot(kernel('timer')).instructions).toBe(r.instructions);
  });

  it('mbinfo.elf sees EAX = 0x2BADB002 and the information structure the spec describes', () => {
    const r = bootMultiboot(kernel('mbinfo'), { memoryMiB: 64 });
    expect(text(r.console)).toBe(
      'eax=0x2badb002 flags=0x00000241\n' +
        'mem_lower=640 mem_upper=64512\n' +
        'mmap base=0x00000000 length=0x0009fc00 type=1\n' +
        'mmap base=0x00100000 length=0x03f00000 type=1\n' +
        'loader=kmemsim\n',
    );
    expect(r.exitCode).toBe(39);
  });

  it('runs out of budget with 124', () => {
    const r = bootMultiboot(kernel('timer'), { maxInstructions: 5000 });
    expect(r.stop.kind).toBe('budget');
    expect(r.exitCode).toBe(124);
  });

  it('boots in as little as 2 MiB', () => {
    expect(bootMultiboot(kernel('hello'), { memoryMiB: 2 }).exitCode).toBe(33);
  });

  it('rejects bad options', () => {
    expect(() => bootMultiboot(kernel('hello'), { memoryMiB: 1 })).toThrow(BootOptionError);
    expect(() => bootMultiboot(kernel('hello'), { memoryMiB: 2048 })).toThrow(/from 2 to 1024/);
    expect(() => bootMultiboot(kernel('hello'), { memoryMiB: 1.5 })).toThrow(BootOptionError);
    expect(() => bootMultiboot(kernel('hello'), { maxInstructions: -1 })).toThrow(/max-instructions/);
  });
});

describe.skipIf(skipKernels !== null)('machine state at entry (Multiboot spec §3.2)', () => {
  it('protected mode, paging off, flat segments, IF=0, EAX magic, EBX → information structure', () => {
    const r = bootMultiboot(kernel('hello'), { maxInstructions: 0 });
    const cpu = r.cpu;
    expect(r.stop.kind).toBe('budget');
    expect(cpu.eip >>> 0).toBe(r.kernel.entry);
    expect(cpu.cr0 & 1).toBe(1);
    expect(cpu.cr0 & 0x80000000).toBe(0);
    expect(cpu.regs[0]! >>> 0).toBe(MULTIBOOT_BOOTLOADER_MAGIC);
    expect(cpu.regs[3]! >>> 0).toBe(r.kernel.infoAddr);
    expect(cpu.getEflags() & IF).toBe(0);
    expect(cpu.cpl).toBe(0);
    expect(cpu.codeSize32).toBe(true);
    expect(cpu.segSel[1]).toBe(BOOT_CODE_SELECTOR);
    for (let s = 0; s < 6; s++) {
      expect(cpu.segBase[s]).toBe(0);
      expect(cpu.segLimit[s]! >>> 0).toBe(0xffffffff);
      if (s !== 1) {
        expect(cpu.segSel[s]).toBe(BOOT_DATA_SELECTOR);
        expect(cpu.segAttr[s]! & 0x1a).toBe(0x12); // data, writable
      } else {
        expect(cpu.segAttr[s]! & 0x1a).toBe(0x1a); // code, readable
      }
    }
    // The GDT the caches came from is in memory, so a reload gives the same segments.
    expect(cpu.gdtrBase).toBe(BOOT_BLOCK);
    expect(cpu.gdtrLimit).toBe(23);
    expect(cpu.idtrLimit).toBe(0);
  });

  it('the information structure: flags 0, 6, 9 (and 2 with a command line), memory, map, name', () => {
    const r = bootMultiboot(kernel('hello'), { maxInstructions: 0, memoryMiB: 128, cmdline: 'console=ttyS0 quiet' });
    const m = r.cpu.mem;
    const info = r.kernel.infoAddr;
    const str = (a: number): string => {
      let s = '';
      for (let c = m.read8(a); c !== 0; c = m.read8(++a)) s += String.fromCharCode(c);
      return s;
    };
    expect(m.read32(info) >>> 0).toBe((1 << 0) | (1 << 2) | (1 << 6) | (1 << 9));
    expect(m.read32(info + 4)).toBe(640);
    expect(m.read32(info + 8)).toBe(127 * 1024);
    expect(str(m.read32(info + 16))).toBe('console=ttyS0 quiet');
    expect(m.read32(info + 44)).toBe(48);
    const map = m.read32(info + 48);
    const entries = [0, 1].map((i) => [0, 4, 8, 12, 16, 20].map((o) => m.read32(map + i * 24 + o) >>> 0));
    expect(entries).toEqual([
      [20, 0, 0, 0x9fc00, 0, 1],
      [20, 0x100000, 0, 127 * 1024 * 1024, 0, 1],
    ]);
    expect(str(m.read32(info + 64))).toBe('kmemsim');
  });

  it('loads PT_LOAD segments at p_paddr and zeroes the BSS', () => {
    const cpu = new CPU({ memorySize: 4 << 20 });
    // Dirty the BSS area first: the loader must clear it.
    cpu.writePhys(0x101000, new Uint8Array(0x4000).fill(0xcc));
    const k = loadMultiboot(cpu, kernel('pagefault'));
    expect(k.format).toBe('elf');
    expect(k.segments.map((s) => s.start)).toEqual([0x100000, 0x101000]);
    const data = k.segments[1]!;
    expect(data.memSize).toBeGreaterThan(data.data.length);
    for (let a = data.start + data.data.length; a < data.start + data.memSize; a += 64) expect(cpu.mem.read8(a)).toBe(0);
    expect(cpu.mem.read32(0x100000) >>> 0).toBe(0x1badb002);
  });
});

/** A flat binary kernel with the a.out-kludge address fields (flag bit 16). */
function aoutKernel(opts: { bssExtra?: number; headerAddrDelta?: number; flags?: number; body?: string } = {}): Uint8Array {
  const flags = opts.flags ?? 0x00010003;
  return assemble(`
    header:
      .long 0x1BADB002
      .long ${flags}
      .long -(0x1BADB002 + ${flags})
      .long header + ${opts.headerAddrDelta ?? 0}
      .long header
      .long load_end
      .long load_end + ${opts.bssExtra ?? 0x1000}
      .long start
    start:
      ${opts.body ?? `mov al, 'K'
      out 0xe9, al
      mov eax, dword ptr [bss]
      mov al, 10
      out 0xe9, al
      mov eax, 0x10
      out 0xf4, eax`}
    load_end:
    .set bss, load_end + 16
  `, { base: 0x200000 });
}

describe('the a.out kludge (Multiboot header flag bit 16)', () => {
  it('loads the file at load_addr, zeroes up to bss_end_addr and enters at entry_addr', () => {
    const r = bootMultiboot(aoutKernel());
    expect(r.kernel.format).toBe('a.out kludge');
    expect(r.kernel.entry).toBe(0x200020);
    expect(r.kernel.segments[0]!.start).toBe(0x200000);
    expect(text(r.console)).toBe('K\n');
    expect(r.exitCode).toBe(33);
  });

  it('an exception before the kernel has an IDT stops with 125 and says so', () => {
    const r = bootMultiboot(aoutKernel({ body: 'nop\nud2' }));
    expect(r.stop).toMatchObject({ kind: 'fault', vector: 6, eip: 0x200021 });
    expect(r.exitCode).toBe(125);
    if (r.stop.kind === 'fault') expect(r.stop.message).toMatch(/#UD .* with no IDT installed/);
  });

  it('an unmodelled instruction is named, as under kmemsim run', () => {
    const r = bootMultiboot(aoutKernel({ body: 'movaps xmm0, [0x200000]' }));
    expect(r.stop.kind).toBe('unsupported');
    expect(r.exitCode).toBe(125);
    if (r.stop.kind === 'unsupported') expect(r.stop.message).toMatch(/^unsupported instruction MOVAPS \(0F 28 05 00 00 20 00\) at 0x00200020: .*SSE/);
  });

  it('rejects address fields that point outside the file', () => {
    // header_addr 64 bytes above load_addr, but the header is at file offset 0.
    expect(() => bootMultiboot(aoutKernel({ headerAddrDelta: 64 }))).toThrow(/before the start of the file/);
  });
});

describe('files that cannot boot', () => {
  const header = (flags: number, checksum = -(0x1badb002 + flags)): Uint8Array => {
    const b = new Uint8Array(64);
    const dv = new DataView(b.buffer);
    dv.setUint32(16, 0x1badb002, true);
    dv.setUint32(20, flags >>> 0, true);
    dv.setUint32(24, checksum >>> 0, true);
    return b;
  };
  const boot = (b: Uint8Array): void => {
    bootMultiboot(b, { memoryMiB: 4 });
  };

  it('an empty file, or one without the magic in its first 8 KiB', () => {
    expect(() => boot(new Uint8Array(0))).toThrow(/empty/);
    expect(() => boot(new Uint8Array(20000))).toThrow(/no Multiboot header/);
    const late = new Uint8Array(10000);
    new DataView(late.buffer).setUint32(8192, 0x1badb002, true);
    expect(() => boot(late)).toThrow(MultibootError);
    const unaligned = new Uint8Array(64);
    unaligned.set(header(0).subarray(16, 28), 18);
    expect(() => findMultibootHeader(unaligned)).toThrow(/no Multiboot header/);
  });

  it('a bad checksum', () => {
    expect(() => boot(header(3, 0x1234))).toThrow(/bad checksum/);
  });

  it('requirements the loader cannot meet: a video mode, unknown bits 3–15', () => {
    expect(() => boot(header(0x4))).toThrow(/video mode .*flag bit 2/);
    expect(() => boot(header(0x0108))).toThrow(/bits 3, 8/);
  });

  it('neither ELF nor address fields', () => {
    expect(() => boot(header(0x3))).toThrow(/not an ELF file.*flag bit 16/);
  });

  it.skipIf(skipKernels !== null)('an ELF object file, a truncated ELF, segments outside RAM or in the 640K–1M hole', () => {
    const obj = new Uint8Array(readFileSync(join(KDIR, 'obj/hello.o')));
    expect(() => boot(obj)).toThrow(/ET_REL/);
    const elf = kernel('hello');
    expect(() => boot(elf.subarray(0, 0x1100))).toThrow(/bad ELF file: truncated/);
    // Move the first PT_LOAD's physical address: e_phoff is at 28, p_paddr at +12 in the program header.
    const moved = (paddr: number): Uint8Array => {
      const b = new Uint8Array(elf);
      const dv = new DataView(b.buffer);
      dv.setUint32(dv.getUint32(28, true) + 12, paddr, true);
      return b;
    };
    expect(() => bootMultiboot(moved(0x7ff00000), { memoryMiB: 4 })).toThrow(/outside RAM \(4 MiB/);
    expect(() => bootMultiboot(moved(0xa0000), { memoryMiB: 4 })).toThrow(/video\/ROM hole/);
    expect(() => bootMultiboot(moved(0x101000), { memoryMiB: 4 })).toThrow(/overlap/);
    // Entry point outside every segment: e_entry at 24.
    const noEntry = new Uint8Array(elf);
    new DataView(noEntry.buffer).setUint32(24, 0x500000, true);
    expect(() => boot(noEntry)).toThrow(/entry point 0x500000 is not inside any PT_LOAD/);
  });
});

// ---- the command line ------------------------------------------------------------

/** The CLI can be run when dist/ is at least as new as every source file. */
function cliState(): string | null {
  const main = join(ROOT, 'dist/cli/boot-command.js');
  if (!existsSync(main)) return 'dist/ has no boot command: run `npm run build` first';
  const built = statSync(main).mtimeMs;
  const newer = (dir: string): boolean =>
    readdirSync(dir, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? newer(join(dir, e.name)) : e.name.endsWith('.ts') && statSync(join(dir, e.name)).mtimeMs > built,
    );
  if (newer(join(ROOT, 'src'))) return 'dist/ is older than src/: run `npm run build` to test the built CLI';
  return null;
}
const skipCli = skipKernels ?? cliState();
if (skipCli && !skipKernels) console.log(`test/boot.test.ts: CLI tests skipped: ${skipCli}`);

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/kmemsim.js'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe.skipIf(skipCli !== null)('kmemsim boot (the built CLI)', () => {
  for (const k of KERNELS) {
    it(`kmemsim boot build/kernels/${k.name}.elf → status ${k.status}`, () => {
      const r = cli(['boot', `build/kernels/${k.name}.elf`]);
      expect(r.stdout).toBe(k.console);
      expect(r.status).toBe(k.status);
      if (k.status === 125) {
        expect(r.stderr).toMatch(/triple fault: #BP breakpoint → #GP general protection → #DF double fault → #GP general protection/);
        expect(r.stderr).toMatch(/at EIP 0x[0-9a-f]{8}: CC /);
        expect(r.stderr).toMatch(/EAX=2bad/);
      } else {
        expect(r.stderr).toBe('');
      }
    });
  }

  it('budget, bad files and bad options give their statuses and one-line messages, never a stack trace', () => {
    const budget = cli(['boot', 'build/kernels/timer.elf', '--max-instructions', '1000']);
    expect(budget.status).toBe(124);
    expect(budget.stderr).toMatch(/instruction budget exhausted after 1000 instructions/);
    const missing = cli(['boot', 'build/kernels/nope.elf']);
    expect(missing.status).toBe(127);
    expect(missing.stderr).toBe('kmemsim: cannot read build/kernels/nope.elf: no such file\n');
    const notKernel = cli(['boot', 'package.json']);
    expect(notKernel.status).toBe(126);
    expect(notKernel.stderr).toMatch(/^kmemsim: cannot boot package.json: no Multiboot header/);
    const memory = cli(['boot', 'build/kernels/hello.elf', '--memory', '0']);
    expect(memory.status).toBe(2);
    expect(memory.stderr).toMatch(/--memory must be/);
    for (const r of [budget, missing, notKernel, memory]) expect(r.stderr).not.toMatch(/\n\s+at .*\.(js|ts):\d+/);
  });

  it('--verbose says how it ended; --memory is honoured', () => {
    const r = cli(['boot', 'build/kernels/mbinfo.elf', '--memory', '16', '--verbose']);
    expect(r.stdout).toMatch(/mem_upper=15360/);
    expect(r.stderr).toMatch(/wrote 0x13 to isa-debug-exit: exit status 39/);
    expect(r.status).toBe(39);
  });

  it('--help lists boot; boot --help documents its options', () => {
    const top = cli(['--help']);
    expect(top.status).toBe(0);
    expect(top.stdout).toMatch(/kmemsim boot <kernel>/);
    const help = cli(['boot', '--help']);
    expect(help.status).toBe(0);
    for (const o of ['--memory', '--max-instructions', '--trace-events', '--append', 'isa-debug-exit']) expect(help.stdout).toContain(o);
  });
});

// ---- QEMU ------------------------------------------------------------------------

const QEMU = 'qemu-system-i386';
const qemuMissing = skipKernels ?? (hasTool(QEMU) ? null : `${QEMU} not found on PATH`);
if (qemuMissing && !skipKernels) console.log(`test/boot.test.ts: QEMU comparison skipped: ${qemuMissing}`);

describe.skipIf(qemuMissing !== null)('the same kernels under qemu-system-i386', () => {
  for (const k of KERNELS) {
    it(`${k.name}.elf: same debugcon and serial output${k.qemuStatus !== null ? ' and exit status' : ''} as QEMU`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'kmemsim-qemu-'));
      try {
        const dbg = join(dir, 'debugcon.txt');
        const ser = join(dir, 'serial.txt');
        const q = spawnSync(
          QEMU,
          ['-kernel', join(KDIR, `${k.name}.elf`), '-m', '128', '-display', 'none', '-no-reboot', '-monitor', 'none',
            '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-debugcon', `file:${dbg}`, '-serial', `file:${ser}`],
          { timeout: k.qemuStatus === null ? 3000 : 30_000, encoding: 'latin1' },
        );
        const ours: BootResult = bootMultiboot(kernel(k.name), { maxInstructions: 100_000_000 });
        expect(readFileSync(dbg, 'latin1')).toBe(text(ours.debugcon));
        expect(readFileSync(ser, 'latin1')).toBe(text(ours.serialOut));
        if (k.qemuStatus !== null) {
          expect(q.status).toBe(k.qemuStatus);
          if (k.stop === 'exited') expect(ours.exitCode).toBe(q.status);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
