/**
 * The package's entry point (`import { Machine } from 'kmemsim'`, package.json
 * `exports`): the embedding API of ./machine.ts and its types.
 */
export { Machine, KmemsimError } from './machine.js';
export type {
  LoadOptions, RunResult, RunReason, RegisterName, AddressRange, CodeHook, MemoryHook, InterruptHook, InterruptEvent, HookHandle,
  Finding, FindingFrame, FindingObject, FindingKind, FindingRegion, CheckerName, StopReason, StackMode,
} from './machine.js';
