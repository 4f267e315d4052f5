/**
 * Hardware task switches (SDM Vol. 3 chapter 7). i386 Linux reached its
 * double-fault handler through a task gate; kmemsim's kernels use an
 * interrupt gate with a known-good stack instead, and a task gate in the
 * IDT stops the machine with a clear message rather than switching tasks.
 */
import type { CPU } from './cpu.js';

export function taskSwitchForGate(cpu: CPU, tssSelector: number, vector: number, _errorCode: number): void {
  cpu.stop({
    kind: 'unsupported',
    eip: cpu.eip,
    bytes: [],
    mnemonic: 'task gate',
    message: `vector ${vector} goes through a task gate (TSS selector 0x${tssSelector.toString(16)}); hardware task switches are not modelled`,
  });
}
