import { it, expect } from 'vitest';
import { runSnippet, reg, flagStr, assemble } from '../helpers/asm.js';
it('smoke', () => {
  const { cpu, stop } = runSnippet('mov eax, 0x7fffffff\nadd eax, 1\nmov ebx, offset lbl\nlbl: hlt');
  console.log(stop, reg(cpu,'eax').toString(16), reg(cpu,'ebx').toString(16), flagStr(cpu), Buffer.from(assemble('mov eax, 0x7fffffff\nadd eax, 1\nmov ebx, offset lbl\nlbl: hlt')).toString('hex'));
  expect(stop).toEqual({ kind: 'halted' });
});
