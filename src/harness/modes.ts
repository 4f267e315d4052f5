/**
 * The checker choices a module run can make (`kmemsim run --kmemcheck
 * --stack MODE`, `kmemsim compare`), apart from the checkers themselves so
 * that the command line can offer them without loading the checkers
 * (start-up time: README "Speed").
 */

/** The heap checker: fault-driven kmemcheck or the precise inline checker. */
export type HeapMode = 'kmemcheck' | 'inline';
/** The stack strategy: Vegard's CPL-1 tracker, Ingo's ftrace poisoning, or the precise oracle. */
export type StackMode = 'cpl1' | 'ftrace' | 'precise';
export const STACK_MODES: readonly StackMode[] = ['cpl1', 'ftrace', 'precise'];

/** valgrind's convention: a distinct exit status when a checker found something (`--error-exitcode`). */
export const DEFAULT_ERROR_EXITCODE = 99;

/**
 * How the page-hiding service learns an access's size (`--access-size`): the decoder and a single
 * step, debug-register breakpoints during the step, or emulation in the #PF handler
 * (src/harness/module-services.ts sets them up).
 */
export const ACCESS_SIZE_STRATEGIES = ['decode', 'debugreg', 'emulate'] as const;
export type AccessSizeStrategy = (typeof ACCESS_SIZE_STRATEGIES)[number];
