/**
 * Console devices (src/devices/debugcon.ts, src/devices/uart16550.ts):
 * QEMU's debug port 0xE9 and the COM1 16550, driven by IN/OUT instructions
 * the way toy kernels drive them.
 */
import { describe, expect, it } from 'vitest';
import { attachPcDevices, type PcDevices } from '../../src/devices/pc.js';
import { Uart16550 } from '../../src/devices/uart16550.js';
import { runSnippet, reg } from '../helpers/asm.js';

function run(src: string): { out: number[]; serial: number[]; debug: number[]; devs: PcDevices; cpu: ReturnType<typeof runSnippet>['cpu'] } {
  const out: number[] = [];
  const serial: number[] = [];
  const debug: number[] = [];
  let devs: PcDevices | null = null;
  const { cpu, stop } = runSnippet(src + '\nhlt', (c) => {
    devs = attachPcDevices(c, (b) => out.push(b as number), {
      serialWrite: (b) => { serial.push(b as number); out.push(b as number); },
      debugconWrite: (b) => { debug.push(b as number); out.push(b as number); },
    });
  });
  expect(stop?.kind).toBe('halted');
  return { out, serial, debug, devs: devs!, cpu };
}

const text = (b: number[]): string => String.fromCharCode(...b);

describe('debugcon (port 0xE9)', () => {
  it('prints every byte written, and reads back 0xE9', () => {
    const r = run(`
      mov al, 'o'
      out 0xe9, al
      mov al, 'k'
      out 0xe9, al
      mov dx, 0xe9
      mov al, 10
      out dx, al
      in al, 0xe9
      movzx ebx, al
    `);
    expect(text(r.debug)).toBe('ok\n');
    expect(reg(r.cpu, 'ebx')).toBe(0xe9);
  });
});

describe('16550 UART at COM1', () => {
  it('polled output: LSR says the transmitter is empty (0x60), THR writes go to the console', () => {
    const r = run(`
      mov dx, 0x3fd
      in al, dx
      movzx ebx, al
      mov esi, offset msg
    next:
      lodsb
      test al, al
      jz done
      mov ah, al
      mov dx, 0x3fd
    wait:
      in al, dx
      test al, 0x20
      jz wait
      mov al, ah
      mov dx, 0x3f8
      out dx, al
      jmp next
    done:
      hlt
    msg: .asciz "serial\\n"
    `);
    expect(reg(r.cpu, 'ebx')).toBe(0x60);
    expect(text(r.serial)).toBe('serial\n');
    expect(r.devs.uart.bytesWritten).toBe(7);
  });

  it('DLAB selects the divisor latch; LCR, IER, MCR and the scratch register read back', () => {
    const r = run(`
      mov dx, 0x3fb
      mov al, 0x80
      out dx, al          # DLAB on
      mov dx, 0x3f8
      mov al, 0x0c
      out dx, al          # DLL (9600 baud)
      mov dx, 0x3f9
      mov al, 0x00
      out dx, al          # DLM
      mov dx, 0x3f8
      in al, dx
      movzx ebx, al       # DLL back
      mov dx, 0x3fb
      mov al, 0x03
      out dx, al          # 8N1, DLAB off
      mov dx, 0x3f9
      mov al, 0x05
      out dx, al          # IER
      in al, dx
      movzx ecx, al
      mov dx, 0x3ff
      mov al, 0x5a
      out dx, al          # scratch
      in al, dx
      movzx esi, al
      mov dx, 0x3fb
      in al, dx
      movzx edi, al
      mov dx, 0x3fa
      in al, dx           # IIR: no interrupt pending
      movzx ebp, al
    `);
    expect(reg(r.cpu, 'ebx')).toBe(0x0c);
    expect(reg(r.cpu, 'ecx')).toBe(0x05);
    expect(reg(r.cpu, 'esi')).toBe(0x5a);
    expect(reg(r.cpu, 'edi')).toBe(0x03);
    expect(reg(r.cpu, 'ebp')).toBe(0x01);
    expect(r.devs.uart.dll).toBe(0x0c);
    expect(r.serial).toEqual([]); // nothing was transmitted: the DLL write did not print
  });

  it('loopback (MCR bit 4): a byte written comes back in RBR and is not printed', () => {
    const r = run(`
      mov dx, 0x3fc
      mov al, 0x1e
      out dx, al          # loopback, RTS, OUT1, OUT2
      mov dx, 0x3f8
      mov al, 0xae
      out dx, al
      mov dx, 0x3fd
      in al, dx
      movzx ecx, al       # LSR: data ready
      mov dx, 0x3f8
      in al, dx
      movzx ebx, al
      mov dx, 0x3fe
      in al, dx
      movzx esi, al       # MSR mirrors MCR
    `);
    expect(reg(r.cpu, 'ebx')).toBe(0xae);
    expect(reg(r.cpu, 'ecx')).toBe(0x61);
    expect(reg(r.cpu, 'esi')).toBe(0xd0); // CTS (RTS), RI (OUT1), DCD (OUT2)
    expect(r.serial).toEqual([]);
  });

  it('MSR reports CTS, DSR and DCD outside loopback; FCR turns the IIR FIFO bits on', () => {
    const u = new Uart16550(() => {});
    expect(u.read(0x3fe)).toBe(0xb0);
    u.write(0x3fa, 0xc7);
    expect(u.read(0x3fa)).toBe(0xc1);
  });
});
