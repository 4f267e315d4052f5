// Types of scripts/prepare.mjs, for test/prepare.test.ts.
export const BUILD_INPUTS: readonly string[];
export const BUILD_STAMP: string;
export function distUpToDate(root: string): boolean;
