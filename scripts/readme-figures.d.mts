// Types of scripts/readme-figures.mjs, for test/readme-figures.test.ts.
export const ROOT: string;
export const COUNT_COLUMNS: readonly string[];
export interface FigureBlock { args: string[]; selector: 'aggregate' | 'tables'; text: string; index: number; length: number; marker: string }
export function figureBlocks(markdown: string): FigureBlock[];
export function selectOutput(stdout: string, selector: 'aggregate' | 'tables'): string;
export function countsOf(text: string): string[];
export function runKmemsim(args: string[], opts?: { timeout?: number }): string;
