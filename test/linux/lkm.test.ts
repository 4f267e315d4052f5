/**
 * Linux modules in kmemsim (issue 11 items 1, 2, 4; issue 15 item 5): the
 * <linux/*.h> headers, `kmemsim cc` (files and Kbuild directories), a misc
 * device and its /proc file driven by a static glibc program (open, ioctl,
 * read, write, pread, lseek, -EFAULT for bad user pointers), busybox
 * insmod/lsmod/rmmod (init_module/finit_module/delete_module, /proc/modules,
 * parameters, EXPORT_SYMBOL between modules, rmmod of a module in use), and
 * the library routines in a module run on its own.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseElf32 } from '../../src/elf/elf32.js';
import { MODULE_CFLAGS, INCLUDE_DIR } from '../../src/cli/compile.js';
import { CDEV, DEVICE, FILE, FILE_OPERATIONS, INODE, MISCDEVICE, MODULE, PROC_OPS } from '../../src/linux/module-abi.js';
import { parseKbuild } from '../../src/cli/cc-command.js';
import { splitFlags } from '../../src/cli/compiler-options.js';
import { cli, hasGcc, NO_GCC } from '../module/helpers.js';
import { buildProgram, findBusybox, gccM32Missing, ROOT } from './harness.js';

const M = join(ROOT, 'test/linux/modules');
if (!hasGcc) console.warn(`test/linux/lkm.test.ts: ${NO_GCC}`);
const m32 = hasGcc ? gccM32Missing() : NO_GCC;
if (m32) console.warn(`test/linux/lkm.test.ts: the glibc program tests are skipped: ${m32}`);
const bb = findBusybox();
if (bb.skip) console.warn(`test/linux/lkm.test.ts: the busybox tests are skipped: ${bb.skip}`);

const scratch = (): string => mkdtempSync(join(tmpdir(), 'kmemsim-lkm-'));

describe.skipIf(!hasGcc)('the headers', () => {
  it('every <linux/*.h> and <asm/*.h> compiles with the module flags, and the structures have the layouts the kernel reads', () => {
    const dir = scratch();
    const headers = [
      ...readdirSync(join(INCLUDE_DIR, 'linux')).map((h) => `linux/${h}`),
      ...readdirSync(join(INCLUDE_DIR, 'asm')).map((h) => `asm/${h}`),
    ];
    const asserts: string[] = [];
    const check = (struct: string, layout: Record<string, number>, skip: string[] = []): void => {
      for (const [field, off] of Object.entries(layout)) {
        if (field === 'size') asserts.push(`_Static_assert(sizeof(struct ${struct}) == ${off}, "sizeof ${struct}");`);
        else if (!skip.includes(field)) asserts.push(`_Static_assert(offsetof(struct ${struct}, ${field}) == ${off}, "${struct}.${field}");`);
      }
    };
    check('file', FILE);
    check('inode', INODE);
    check('file_operations', FILE_OPERATIONS);
    check('proc_ops', PROC_OPS);
    check('miscdevice', MISCDEVICE);
    check('cdev', CDEV);
    check('module', MODULE, ['nameLength']);
    check('device', DEVICE);
    const src = join(dir, 'all.c');
    writeFileSync(src, [...headers.map((h) => `#include <${h}>`), ...asserts, ''].join('\n'));
    const r = spawnSync('gcc', [...MODULE_CFLAGS, '-Wall', '-Werror', `-I${INCLUDE_DIR}`, '-fsyntax-only', src], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(headers.length).toBeGreaterThan(50);
  });

  it('what the headers lack fails at compile time (no stub links)', () => {
    const dir = scratch();
    const src = join(dir, 'missing.c');
    writeFileSync(src, '#include <linux/module.h>\n#include <linux/netdevice.h>\nint init_module(void) { return register_netdev(0); }\n');
    const r = spawnSync('gcc', [...MODULE_CFLAGS, '-Werror=implicit-function-declaration', `-I${INCLUDE_DIR}`, '-c', src, '-o', join(dir, 'm.o')], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/netdevice\.h|register_netdev/);
  });

  it('a module run on its own: lists, hash tables, kstrto*, sscanf, kmalloc(0), krealloc, atomics, irqsave spinlocks, do_div, jiffies, WARN_ON, get_user without a process', () => {
    const r = cli(['run', join(M, 'libs.c')]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe([
      'hash found 30',
      'list sum 150, count 6, first 0, last 50',
      'kstrtoint 0 -42',
      'kstrtoint bad -22, range -34',
      'kstrtoul hex 0 31',
      'sscanf 3: 7 -3 word',
      'kmalloc(0) ZERO_SIZE_PTR',
      'krealloc kept duplicate, ksize 128',
      'strlcpy 9, strstr stack, strrchr /c',
      'atomic 6 1 0',
      'irqs disabled 1, locked 1',
      'flags restored 1, locked 0',
      'do_div 142857142857 rem 1',
      'jiffies after INITIAL_JIFFIES 1, ktime monotonic 1',
      'get_user without a process -14, value 0',
      '------------[ cut here ]------------',
      `WARNING: CPU: 0 PID: 0 at ${join(M, 'libs.c')}:85 init_module+0x${r.stdout.match(/init_module\+0x([0-9a-f]+)/)![1]}/0x${r.stdout.match(/init_module\+0x[0-9a-f]+\/0x([0-9a-f]+)/)![1]}`,
      '---[ end trace 0000000000000000 ]---',
      'empty 1 1',
      '',
    ].join('\n'));
  });
});

describe.skipIf(!hasGcc)('kmemsim cc', () => {
  it('builds a module from a Kbuild Makefile: two C files, ccflags-y with $(src), NAME.mod.c with __this_module and name= in .modinfo', () => {
    const out = join(scratch(), 'pair.ko');
    const r = cli(['cc', join(M, 'kbuild'), '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const elf = parseElf32(new Uint8Array(readFileSync(out)));
    expect(elf.header.type).toBe(1); // ET_REL, as a Linux .ko
    const modinfo = Buffer.from(elf.sectionData(elf.sectionByName('.modinfo')!)).toString('latin1').split('\0');
    expect(modinfo).toContain('name=pair');
    expect(modinfo).toContain('license=GPL');
    expect(modinfo).toContain('parmtype_desc_extra=extra:added to PAIR_BASE');
    const tm = elf.sectionByName('.gnu.linkonce.this_module')!;
    expect(Buffer.from(elf.sectionData(tm).subarray(MODULE.name, MODULE.name + 5)).toString('latin1')).toBe('pair\0');
    for (const s of ['pair_sum', 'init_module', 'cleanup_module', '__this_module']) {
      expect(elf.symbols.some((x) => x.name === s && x.shndx !== 0)).toBe(true);
    }
    // The .ko runs as any module object (.modinfo and .gnu.linkonce.this_module are loaded like other sections).
    const run = cli(['run', out]);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^pair: 42 for nobody \(module pair, [01] call\)\npair: bye nobody\n$/);
  });

  it('reads obj-m, NAME-y/NAME-objs and ccflags-y, the kbuild branch of ifneq ($(KERNELRELEASE),)', () => {
    const kb = parseKbuild(join(M, 'kbuild'));
    expect(kb.modules).toEqual([{ name: 'pair', sources: [join(M, 'kbuild/pair-main.c'), join(M, 'kbuild/pair-util.c')] }]);
    expect(kb.cflags).toEqual(['-DPAIR_BASE=40', `-I${join(M, 'kbuild')}/inc`]);
    expect(splitFlags(`-DX='a b' -O1 "-DY=\\"q\\""`)).toEqual(['-DX=a b', '-O1', '-DY="q"']);
  });

  it('-I, -D, -O and --cflags come after the module flags; --verbose prints the gcc and ld commands', () => {
    const dir = scratch();
    const r = cli(['cc', join(M, 'kbuild/pair-util.c'), join(M, 'kbuild/pair-main.c'), `-I${join(M, 'kbuild/inc')}`, '-DPAIR_BASE=1', '-O0', '--cflags', '-Wall -g3', '-o', join(dir, 'p.ko'), '--verbose']);
    expect(r.status).toBe(0);
    const gcc = r.stderr.split('\n').find((l) => l.includes('pair-main.c'))!;
    expect(gcc.indexOf('-O2')).toBeLessThan(gcc.indexOf('-O0'));
    expect(gcc).toContain(`-DKBUILD_MODNAME="p" -DKBUILD_BASENAME="pair_main" -I${join(M, 'kbuild/inc')} -DPAIR_BASE=1 -O0 -Wall -g3`);
    expect(r.stderr).toMatch(/^ld -m elf_i386 -r -o /m);
  });

  it('kmemsim run takes several .c files as one module, with -I/-D/-O after the module flags (--verbose prints the commands)', () => {
    const r = cli(['run', join(M, 'kbuild/pair-main.c'), join(M, 'kbuild/pair-util.c'), '-DPAIR_BASE=1', '-I', join(M, 'kbuild/inc'), '-O1', '--verbose']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^pair: 3 for nobody \(module pair_main, [01] call\)\npair: bye nobody\n$/);
    expect(r.stderr).toMatch(/-O2 .*-I\S+inc -DPAIR_BASE=1 -O1 .*pair-util\.c/);
    const one = cli(['run', join(M, 'libs.c'), '-O0', '--verbose']);
    expect(one.status).toBe(0);
    expect(one.stderr).toMatch(/^gcc .* -O2 .* -O0 .*libs\.c/m);
  });

  it('errors: gcc\'s messages and 1; no obj-m, a missing file or not a C file: 2', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'bad.c'), '#include <linux/module.h>\nint init_module(void) { return undeclared; }\n');
    let r = cli(['cc', join(dir, 'bad.c'), '-o', join(dir, 'bad.ko')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/undeclared/);
    expect(r.stderr).toMatch(/kmemsim cc: compiling .*bad\.c failed/);
    mkdirSync(join(dir, 'k'));
    writeFileSync(join(dir, 'k/Makefile'), 'all:\n\techo nothing\n');
    r = cli(['cc', join(dir, 'k')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no obj-m/);
    r = cli(['cc', join(dir, 'nope.c')]);
    expect(r.status).toBe(2);
    r = cli(['cc', join(dir, 'k/Makefile')]);
    expect(r.status).toBe(2);
  });
});

describe.skipIf(m32 !== null)('a misc device and its /proc file, driven by a static glibc program', () => {
  const prog = m32 === null ? buildProgram('echo-user', scratch()) : '';

  it('open/ioctl/read/write/pread/lseek on /dev/kmemsim_echo (10:127), bad user pointers give EFAULT, /proc/kmemsim_echo through seq_file', () => {
    const r = cli(['run', '--module', join(M, 'echo.c'), prog]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe([
      'dev 10:127 chr 1',
      'set 0',
      'add 51',
      'get 0 value 51',
      'get kernel address -1 errno 14',
      'set NULL -1 errno 14',
      'unknown -1 errno 25',
      'write 13',
      'write bad -1 errno 14',
      "pread 5 'modul'",
      "read 13 'hello, module'",
      'read eof 0',
      'lseek 2',
      "read 3 'llo'",
      'proc: value 51',
      'proc: bytes 13',
      'proc: opens 1 releases 1',
      'proc: minor 127',
      '',
    ].join('\n'));
    // printk goes to the console (kmemsim's stderr), not the program's stdout.
    expect(r.stderr).toBe('echo: loaded, minor 127\necho: open minor 127 (misc kmemsim_echo)\n');
  });

  it('--kmemcheck over the program and its module: an uninitialized read in the ioctl path, reported with the module\'s functions and lines', () => {
    const user = buildProgram('stats-user', scratch());
    const json = join(scratch(), 'r.json');
    const r = cli(['run', '--kmemcheck', '--report-json', json, '--module', join(M, 'uninit-ioctl.c'), user]);
    expect(r.stdout).toBe('ioctl 0\n');
    expect(r.status).toBe(99);
    expect(r.stderr).toContain('WARNING: kmemcheck: Caught 32-bit read from uninitialized memory');
    expect(r.stderr).toMatch(/EIP is at stats_total\S*\+0x[0-9a-f]+\/0x[0-9a-f]+ \[\S*uninit-ioctl\.c:33\]/);
    expect(r.stderr).toMatch(/\] \? stats_ioctl\+0x[0-9a-f]+\/0x[0-9a-f]+ \[\S*uninit-ioctl\.c:57\]/);
    expect(r.stderr).toMatch(/kmemsim: kmemcheck: 1 error reported \(\d+ faults on hidden pages, \d+ single steps\)/);
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    expect(doc.findings).toHaveLength(1);
    expect(doc.findings[0]).toMatchObject({ kind: 'uninitialized', region: 'heap', checker: 'kmemcheck', access: 'read', size: 4, line: 33 });
    expect(doc.findings[0].stack.map((f: { function: string }) => f.function)).toContain('stats_ioctl');
    expect(doc.exit).toEqual({ status: 99, stop: null });
    // Without the checker the same run is clean; a program with --kmemcheck needs a module to check.
    expect(cli(['run', '--module', join(M, 'uninit-ioctl.c'), user]).status).toBe(0);
    const u = cli(['run', '--kmemcheck', user]);
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/--module/);
  });

  it('an oops in a driver\'s ioctl kills the calling process (SIGSEGV: 139), with the oops on the console, never a JavaScript stack trace', () => {
    const user = buildProgram('stats-user', scratch());
    const r = cli(['run', '--module', join(M, 'oops-ioctl.c'), user]);
    expect(r.status).toBe(139);
    expect(r.stderr).toMatch(/^Oops: SIGSEGV: #PF page fault accessing 0xc \(supervisor read, page not present\)/m);
    expect(r.stderr).toMatch(/^EIP is at o_ioctl\+0x3\/0x6 \[oops_ioctl\], pid 1 killed$/m);
    expect(r.stderr).not.toMatch(/ at .*\.js:\d+/);
  });

  it('a module that fails to load or whose init fails stops the run before the program: 126 / 1', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'fails.c'), '#include <linux/module.h>\nstatic int __init f(void) { return -ENODEV; }\nmodule_init(f);\n');
    writeFileSync(join(dir, 'unknown.c'), '#include <linux/module.h>\nvoid no_such_function(void);\nstatic int __init f(void) { no_such_function(); return 0; }\nmodule_init(f);\n');
    let r = cli(['run', '--module', join(dir, 'fails.c'), prog]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/insmod fails\.c: init_module returned -19 \(No such device\)/);
    r = cli(['run', '--module', join(dir, 'unknown.c'), prog]);
    expect(r.status).toBe(126);
    expect(r.stderr).toMatch(/Unknown symbol no_such_function/);
  });
});

describe.skipIf(!hasGcc || !!bb.skip)('busybox insmod, lsmod, rmmod', () => {
  it('insmod (parameters), lsmod and /proc/modules, /dev nodes, rmmod refused while a file is open or another module uses its exports', () => {
    const dir = scratch();
    for (const [args, out] of [[[join(M, 'echo.c')], 'echo.ko'], [[join(M, 'kbuild')], 'pair.ko'], [[join(M, 'pair-user.c')], 'pair_user.ko']] as const) {
      const r = cli(['cc', ...args, '-o', join(dir, out)]);
      expect(r.status, r.stderr).toBe(0);
    }
    const script = [
      `insmod ${dir}/pair_user.ko; echo "insmod without pair $?"`,
      `insmod ${dir}/pair.ko extra=5 who=ann loud; echo "insmod pair $?"`,
      `insmod ${dir}/pair_user.ko; echo "insmod pair_user $?"`,
      `insmod ${dir}/echo.ko; echo "insmod echo $?"`,
      'lsmod',
      "sed 's/0x[0-9a-f]*$/ADDR/' /proc/modules",
      'ls -l /dev/kmemsim_echo | cut -c1-10,35-',
      'exec 3</dev/kmemsim_echo',
      'rmmod echo; echo "rmmod echo while open $?"',
      'exec 3<&-',
      'rmmod pair; echo "rmmod pair while used $?"',
      'rmmod pair_user echo pair; echo "rmmod $?"',
      'lsmod; ls /dev/kmemsim_echo 2>&1',
      `insmod ${dir}/pair.ko extra=x; echo "bad parameter $?"`,
      'rmmod nothing; echo "rmmod unknown $?"',
      'dmesg -r | grep -c "^<6>pair: bye ann$"',
      'dmesg -r | grep -c "^<4>pair_user: Unknown symbol pair_sum (err -2)$"',
    ].join('\n');
    const r = cli(['run', bb.path!, '--', 'sh', '-c', script]);
    expect(r.status).toBe(0);
    expect(r.stdout.replace(/^(\w+) +\d+ /gm, '$1 SIZE ')).toBe([
      'insmod without pair 2', // busybox insmod exits with the errno (ENOENT: an unknown symbol)
      'insmod pair 0',
      'insmod pair_user 0',
      'insmod echo 0',
      'Module                  Size  Used by    Not tainted',
      'echo SIZE  0 ',
      'pair_user SIZE  0 ',
      'pair SIZE  1 pair_user',
      'echo SIZE 0 - Live ADDR',
      'pair_user SIZE 0 - Live ADDR',
      'pair SIZE 1 pair_user, Live ADDR',
      'crw-rw-rw-  10, 127 Jan  1  1970 /dev/kmemsim_echo',
      'rmmod echo while open 1',
      'rmmod pair while used 1',
      'rmmod 0',
      'Module                  Size  Used by    Not tainted',
      'ls: /dev/kmemsim_echo: No such file or directory',
      'bad parameter 22', // EINVAL
      'rmmod unknown 1',
      '1', // dmesg: the kernel log through syslog(2), with the levels
      '2', // (busybox insmod tried finit_module, then init_module)
      '',
    ].join('\n'));
    expect(r.stderr).toContain('pair_user: Unknown symbol pair_sum (err -2)');
    expect(r.stderr).toContain('pair: 45 for ann! (module pair');
    expect(r.stderr).toContain("rmmod: can't unload module 'echo': Resource temporarily unavailable");
    expect(r.stderr).toContain("pair: 'x' invalid for parameter 'extra'");
    expect(r.stderr).toContain('pair: bye ann');
    expect(r.stderr).toContain("rmmod: can't unload module 'nothing': No such file or directory");
  });

  it('register_chrdev() with a dynamic major (254, in /proc/devices), its node made with mknod; mknod outside /dev is EPERM, a node without a driver ENXIO', () => {
    const script = [
      'grep hichr /proc/devices',
      'mknod /dev/hichr c 254 0 && cat /dev/hichr',
      'ls -l /dev/hichr | cut -c1-10,35-',
      'mknod /tmp/x c 254 0; echo "outside /dev $?"',
      'mknod /dev/hichr c 1 1; echo "again $?"',
      'mknod /dev/other c 77 0; cat /dev/other; echo "no driver $?"',
    ].join('\n');
    const r = cli(['run', '--module', join(M, 'chrdev.c'), bb.path!, '--', 'sh', '-c', script]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('254 hichr\nchardev says hi\ncrw-r--r-- 254,   0 Jan  1  1970 /dev/hichr\noutside /dev 1\nagain 1\nno driver 1\n');
    expect(r.stderr).toContain('mknod: /tmp/x: Operation not permitted');
    expect(r.stderr).toContain("cat: can't open '/dev/other': No such device or address");
  });
});
