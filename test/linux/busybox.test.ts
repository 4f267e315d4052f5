/**
 * Debian 12's busybox-static (i386) run natively and under kmemsim, applet
 * by applet, in scratch directories with the same files (fixed timestamps):
 * stdout, stderr and exit status must be identical, including sh with
 * pipes, redirections, loops, $(...) and #! scripts; `sort -n` and `awk`
 * run on the x87 FPU. On a host that cannot execute i386 binaries the
 * reference is qemu-i386 (qemu-user) when installed, less the cases that
 * run busybox again through /proc/self/exe, which under qemu-user is
 * qemu itself (QEMU_ONLY_NATIVE).
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { differential, findBusybox, qemuReference, type RunSpec } from './harness.js';

const found = findBusybox();
// The comparison needs a reference run: the host running busybox (a kernel without IA32 emulation, or a sandbox
// such as gVisor, refuses it), else qemu-i386.
const reference = found.path ? qemuReference() : false;
const qemu = reference === true;
const bb = typeof reference === 'string' ? { skip: reference } : found;
if (bb.skip) console.warn(`test/linux/busybox.test.ts skipped: ${bb.skip}`);
else if (qemu) console.warn('test/linux/busybox.test.ts: the reference is qemu-i386 (this host cannot execute i386 binaries)');
/** Cases that execute busybox again through /proc/self/exe: under qemu-user that is qemu's own binary. */
const QEMU_ONLY_NATIVE = new Set(['xargs', 'a #! script', '/proc/PID/comm']);

const T = new Date('2020-01-02T03:04:05Z');
function files(dir: string): void {
  mkdirSync(join(dir, 'd/sub'), { recursive: true });
  writeFileSync(join(dir, 'd/a.txt'), 'hello\nworld\nhello\n');
  writeFileSync(join(dir, 'd/sub/b.txt'), 'pear 3\napple 10\nfig 2\napple 10\n');
  writeFileSync(join(dir, 'lines.txt'), Array.from({ length: 500 }, (_, i) => `row ${(i * 7919) % 501} ${i % 3 ? 'x' : 'y'}\n`).join(''));
  for (const p of ['d/a.txt', 'd/sub/b.txt', 'd/sub', 'd', 'lines.txt']) utimesSync(join(dir, p), T, T);
}

const CASES: [string, string[], string?][] = [
  ['echo', ['echo', 'hello', 'world']],
  ['cat', ['cat', 'd/a.txt', 'd/sub/b.txt']],
  ['cat stdin', ['cat'], 'from stdin\n'],
  ['ls -l', ['ls', '-l', 'd']],
  ['ls -lR', ['ls', '-lR', 'd']],
  ['sort', ['sort', 'd/sub/b.txt']],
  ['sort -n -k2', ['sort', '-n', '-k2', 'd/sub/b.txt']],
  ['sort 500 lines', ['sort', 'lines.txt']],
  ['uniq -c', ['uniq', '-c', 'd/a.txt']],
  ['wc', ['wc', 'd/a.txt', 'lines.txt']],
  ['head', ['head', '-n', '3', 'lines.txt']],
  ['tail', ['tail', '-n', '2', 'lines.txt']],
  ['sed', ['sed', '-e', 's/o/0/g', '-e', '2d', 'd/a.txt']],
  ['awk', ['awk', '{ n[$3]++; s += length($0) } END { print n["x"], n["y"], s }', 'lines.txt']],
  ['grep', ['grep', '-n', 'row 1', 'lines.txt']],
  ['grep no match', ['grep', 'zebra', 'd/a.txt']],
  ['cut', ['cut', '-d', ' ', '-f', '2', 'd/sub/b.txt']],
  ['tr', ['tr', 'a-z', 'A-Z'], 'shout it\n'],
  ['expr', ['expr', '6', '*', '7']],
  ['seq', ['seq', '-s', ',', '3', '2', '17']],
  ['printf', ['printf', '%s=%d %x\\n', 'answer', '42', '255']],
  ['md5sum', ['md5sum', 'd/a.txt', 'lines.txt']],
  ['sha256sum', ['sha256sum', 'lines.txt']],
  ['gzip -c', ['gzip', '-c', 'lines.txt']],
  ['find', ['find', 'd', '-name', '*.txt']],
  ['od', ['od', '-A', 'x', '-t', 'x1z', 'd/a.txt']],
  ['cmp same', ['cmp', 'd/a.txt', 'd/a.txt']],
  ['cmp differ', ['cmp', 'd/a.txt', 'lines.txt']],
  ['cat missing file', ['cat', 'no-such-file']],
  ['readlink /proc/self/exe is absolute', ['sh', '-c', 'case $(readlink /proc/self/exe) in /*) echo absolute;; esac']],
  ['sh: pipes', ['sh', '-c', 'cat lines.txt | grep y | sort | uniq | wc -l']],
  ['sh: redirections', ['sh', '-c', 'echo one > out.txt; echo two >> out.txt; cat < out.txt; ls nothing 2> err.txt; cat err.txt; echo status $?']],
  ['sh: loops and $(...)', ['sh', '-c', 'i=0; while [ $i -lt 5 ]; do i=$(expr $i + 1); printf "%s," $i; done; echo; for f in $(ls d); do echo "[$f]"; done']],
  ['sh: exit status of a pipeline and of a killed child', ['sh', '-c', 'false | true; echo $?; sh -c "kill -9 \$\$"; echo $?']],
  ['gzip -c | gunzip -c', ['sh', '-c', 'gzip -c lines.txt | gunzip -c | md5sum; md5sum < lines.txt']],
  ['tar c | tar t', ['sh', '-c', 'tar c d | tar t | sort']],
  ['xargs', ['sh', '-c', 'find d -type f | sort | xargs wc -c']],
  ['a #! script', ['sh', '-c', 'printf "#!%s sh\\necho script \\$1\\n" "$(readlink /proc/self/exe)" > s.sh; chmod +x s.sh; ./s.sh arg; cat s.sh | wc -l']],
  ['missing command', ['sh', '-c', 'no-such-command; echo $?']],
  // comm is the base name execve() was given (a symlink's, a script's), 15 characters at most; a fork keeps it.
  ['/proc/PID/comm', ['sh', '-c', 'b=$(readlink /proc/self/exe); cat /proc/$$/comm; ln -s "$b" cat; ./cat /proc/self/comm; printf "#!%s sh\\ncat /proc/\\$\\$/comm\\n" "$b" > twenty-characters.sh; chmod +x twenty-characters.sh; ./twenty-characters.sh; (cat /proc/self/comm)']],
];

describe.skipIf(!bb.path)('busybox-static i386: native vs kmemsim', () => {
  for (const [name, argv, stdin] of CASES) {
    it.skipIf(qemu && QEMU_ONLY_NATIVE.has(name))(name, () => {
      const spec: RunSpec = { exe: bb.path!, args: argv, stdin, setup: files };
      const { native, kmemsim } = differential(spec, qemu);
      expect(kmemsim).toEqual(native);
    });
  }

  it('tar c in kmemsim lists (tar t natively) the same members', () => {
    const { native, kmemsim } = differential({ exe: bb.path!, args: ['tar', 'c', 'd'], setup: files }, qemu);
    expect(kmemsim.status).toBe(0);
    expect(kmemsim.stdout.length).toBe(native.stdout.length);
    expect(kmemsim.stdout).toEqual(native.stdout);
  });
});
