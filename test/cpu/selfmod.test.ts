/**
 * Self-modifying code (SDM Vol. 3 §11.6): a write to a code byte must be
 * seen by the next fetch of that byte, including the instruction right
 * after the store in the same decoded block, and code on a page reached by
 * an instruction or block that straddles a 4 KiB boundary. kmemsim caches
 * decoded blocks per physical page, so each case here targets a way the
 * cache could go stale.
 */
import { describe, expect, it } from 'vitest';
import { rd32, reg, regs, runHalted } from '../helpers/asm.js';

describe('self-modifying code', () => {
  it('a loop that patches the immediate of an instruction it executes again', () => {
    const cpu = runHalted(['mov ecx, 3', 'xor ebx, ebx', 'L:', 'patch: mov eax, 0', 'add ebx, eax', 'inc dword ptr [patch+1]', 'loop L', 'mov edx, dword ptr [patch+1]'].join('\n'));
    // iterations see imm = 0, 1, 2
    expect(reg(cpu, 'ebx')).toBe(3);
    expect(reg(cpu, 'edx')).toBe(3);
  });
  it('patching the immediate of the very next instruction (same block)', () => {
    const cpu = runHalted('mov byte ptr [next+1], 0x42\nnext: mov al, 0', regs({ eax: 0 }));
    expect(reg(cpu, 'eax')).toBe(0x42);
  });
  it('patching the opcode of the next instruction: inc eax → dec eax', () => {
    const cpu = runHalted('mov byte ptr [n2], 0x48\nn2: inc eax', regs({ eax: 0 }));
    expect(reg(cpu, 'eax')).toBe(0xffffffff);
  });
  it('a dword store turning the next four instructions into NOPs', () => {
    const cpu = runHalted('mov dword ptr [n3], 0x90909090\nn3: inc eax\ninc eax\ninc eax\ninc eax\nmov ecx, 1', regs({ eax: 0 }));
    expect(reg(cpu, 'eax')).toBe(0);
    expect(reg(cpu, 'ecx')).toBe(1);
  });
  it('a read-modify-write (ADD) on the next instruction’s immediate', () => {
    const cpu = runHalted('add byte ptr [n4+1], 1\nn4: mov cl, 5', regs({ ecx: 0 }));
    expect(reg(cpu, 'ecx')).toBe(6);
  });
  it('rep stosb overwriting the code that follows it', () => {
    const cpu = runHalted('mov edi, offset tgt\nmov al, 0x90\nmov ecx, 2\nrep stosb\ntgt: inc ebx\ninc ebx\ninc ebx', regs({ ebx: 0 }));
    expect(reg(cpu, 'ebx')).toBe(1);
  });
  it('a PUSH whose stack slot is the next instruction', () => {
    const cpu = runHalted('mov esp, offset tgt+4\npush 0x90909090\ntgt: inc eax\ninc eax\ninc eax\ninc eax', regs({ eax: 0 }));
    expect(reg(cpu, 'eax')).toBe(0);
  });
  it('patching a routine between two calls (its block was cached by the first call)', () => {
    const cpu = runHalted('call f\nmov ebx, eax\nmov byte ptr [f+1], 7\ncall f\njmp done\nf: mov al, 1\nret\ndone:', regs({ eax: 0 }));
    expect(reg(cpu, 'ebx')).toBe(1);
    expect(reg(cpu, 'eax')).toBe(7);
  });
});

describe('code straddling a page boundary', () => {
  it('patching the second-page bytes of an instruction and block that start on the first page', () => {
    // strad at 0x1ffe: B8 imm32 (0x1ffe..0x2002), 83 C0 ib (0x2003..0x2005), C3 (0x2006)
    const src = [
      'xor esi, esi', 'xor ebx, ebx',
      'again: call strad', 'add ebx, eax',
      'mov byte ptr [strad+3], 0x11', // imm32 byte 2, at 0x2001
      'mov byte ptr [strad+7], 0x10', // add's imm8, at 0x2005
      'inc esi', 'cmp esi, 2', 'jne again', 'hlt',
      '.org 0xffe', 'strad: mov eax, 0', 'add eax, 1', 'ret',
    ].join('\n');
    const cpu = runHalted(src);
    // pass 1: 0 + 1 = 1; pass 2: 0x00110000 + 0x10 = 0x00110010
    expect(reg(cpu, 'eax')).toBe(0x00110010);
    expect(reg(cpu, 'ebx')).toBe(0x00110011);
    expect(rd32(cpu, 0x1fff)).toBe(0x00110000);
  });
  it('patching the first-page byte of a straddling instruction', () => {
    const src = [
      'call strad', 'mov ebx, eax', 'mov byte ptr [strad+1], 0x22', 'call strad', 'hlt',
      '.org 0xffd', 'strad: mov eax, 0x01000000', 'ret',
    ].join('\n');
    // strad at 0x1ffd: B8 at 0x1ffd, imm bytes 0x1ffe 0x1fff | 0x2000 0x2001
    const cpu = runHalted(src);
    expect(reg(cpu, 'ebx')).toBe(0x01000000);
    expect(reg(cpu, 'eax')).toBe(0x01000022);
  });
  it('a dword store straddling the boundary patches code at the start of the second page', () => {
    const src = [
      'call tgt', 'mov ebx, eax',
      'mov dword ptr [0x1ffe], 0x77b89090', // 0x1ffe=90 0x1fff=90 | 0x2000=B8 0x2001=77
      'call tgt', 'hlt',
      '.org 0xffe', '.byte 0x90, 0x90', 'tgt: mov eax, 0', 'ret',
    ].join('\n');
    const cpu = runHalted(src);
    expect(reg(cpu, 'ebx')).toBe(0);
    expect(reg(cpu, 'eax')).toBe(0x77);
  });
});

describe('self-modifying code across pages and mappings', () => {
  it('a loop patching a routine on another page between calls (cached, possibly chained, blocks)', () => {
    const src = [
      'mov ecx, 4', 'xor ebx, ebx',
      'L: call f', 'add ebx, eax', 'inc byte ptr [f+1]', 'loop L', 'hlt',
      '.org 0x1000', 'f: mov eax, 0x10', 'ret', // f at 0x2000: B8 imm32
    ].join('\n');
    const cpu = runHalted(src);
    // f returns 0x10, 0x11, 0x12, 0x13
    expect(reg(cpu, 'ebx')).toBe(0x46);
  });
  it('a store through a second linear mapping (paging alias) of the code page is seen', () => {
    // linear 0x50000 → physical 0x2000, where f lives (identity-mapped at 0x2000)
    const src = ['call f', 'mov ebx, eax', 'mov byte ptr [0x50001], 0x55', 'call f', 'hlt', '.org 0x1000', 'f: mov eax, 0x11', 'ret'].join('\n');
    const cpu = runHalted(src, (c) => {
      const PD = 0x90000, PT = 0x91000;
      c.mem.write32(PD, PT | 3);
      for (let i = 0; i < 256; i++) c.mem.write32(PT + 4 * i, (i * 0x1000) | 3);
      c.mem.write32(PT + 4 * 0x50, 0x2000 | 3);
      c.writeControlRegister(3, PD);
      c.writeControlRegister(0, c.cr0 | 0x80000001);
    });
    expect(reg(cpu, 'ebx')).toBe(0x11);
    expect(reg(cpu, 'eax')).toBe(0x55);
  });
  it('rep movsb copying new code over a routine that already ran', () => {
    const src = [
      'call f', 'mov ebx, eax',
      'mov esi, offset g', 'mov edi, offset f', 'mov ecx, 6', 'rep movsb',
      'call f', 'hlt',
      'g: mov eax, 0x22', 'ret',
      '.org 0x1000', 'f: mov eax, 0x11', 'ret',
    ].join('\n');
    const cpu = runHalted(src);
    expect(reg(cpu, 'ebx')).toBe(0x11);
    expect(reg(cpu, 'eax')).toBe(0x22);
  });
});
