/**
 * QEMU's isa-debug-exit at 0xF4 (src/devices/isa-debug-exit.ts): writing v
 * stops the machine with exit status (v << 1) | 1, whatever the width of
 * the OUT.
 */
import { describe, expect, it } from 'vitest';
import { attachPcDevices } from '../../src/devices/pc.js';
import { exitStatusFor } from '../../src/devices/isa-debug-exit.js';
import { bootExitCode } from '../../src/boot/machine.js';
import { runSnippet } from '../helpers/asm.js';

function exitWith(src: string): { stop: ReturnType<typeof runSnippet>['stop']; icount: number; after: number } {
  const { cpu, stop } = runSnippet(`${src}\nmov ebx, 1\nhlt`, (c) => {
    attachPcDevices(c, () => {});
  });
  return { stop, icount: cpu.icount, after: cpu.regs[3]! };
}

describe('isa-debug-exit', () => {
  it('OUTL of 0x10 stops with status 33, and nothing after the OUT runs', () => {
    const r = exitWith('mov eax, 0x10\nout 0xf4, eax');
    expect(r.stop).toEqual({ kind: 'exited', status: 33 });
    expect(r.icount).toBe(2);
    expect(r.after).toBe(0);
    expect(bootExitCode(r.stop!)).toBe(33);
  });

  it('OUTB and OUTW work too; the status is (v << 1) | 1', () => {
    expect(exitWith('mov al, 0\nout 0xf4, al').stop).toEqual({ kind: 'exited', status: 1 });
    expect(exitWith('mov eax, 0x12345\nmov dx, 0xf4\nout dx, ax').stop).toEqual({ kind: 'exited', status: (0x2345 << 1) | 1 });
    expect(exitWith('mov al, 0x7f\nout 0xf5, al').stop).toEqual({ kind: 'exited', status: 0xff });
  });

  it('a host process sees the low 8 bits of the status, as with QEMU', () => {
    const r = exitWith('mov eax, 0x80\nout 0xf4, eax');
    expect(r.stop).toEqual({ kind: 'exited', status: 0x101 });
    expect(exitStatusFor(0x101)).toBe(1);
    expect(bootExitCode(r.stop!)).toBe(1);
  });

  it('reads 0', () => {
    const { cpu } = runSnippet('mov eax, -1\nin al, 0xf4\nhlt', (c) => {
      attachPcDevices(c, () => {});
    });
    expect(cpu.regs[0]! & 0xff).toBe(0);
  });

  it('exit statuses for the other stops: halted 0, budget 124, faults 125', () => {
    expect(bootExitCode({ kind: 'halted' })).toBe(0);
    expect(bootExitCode({ kind: 'budget', executed: 5 })).toBe(124);
    expect(bootExitCode({ kind: 'triple-fault', chain: [], message: '' })).toBe(125);
    expect(bootExitCode({ kind: 'fault', vector: 13, errorCode: 0, eip: 0, message: '' })).toBe(125);
  });
});
