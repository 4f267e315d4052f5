/**
 * scripts/prepare.mjs (npm's `prepare`, which npm also runs on the first
 * `npx kmemsim` in a clone): dist/ counts as up to date only when the
 * bundle, the build's last output, is newer than every build input, so an
 * edited source, tsconfig, package.json or bundle script rebuilds, and
 * nothing else does.
 */
import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { BUILD_INPUTS, BUILD_STAMP, distUpToDate } from '../scripts/prepare.mjs';

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'kmemsim-prepare-'));
  const files = ['src/cli/main.ts', 'src/cpu/cpu.ts', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/bundle.mjs', 'README.md', BUILD_STAMP];
  for (const f of files) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), '');
    utimesSync(join(root, f), 1000, 1000);
  }
  utimesSync(join(root, BUILD_STAMP), 2000, 2000);
  return root;
}

describe('prepare: is dist/ up to date?', () => {
  it('yes when the bundle is newer than every input; no without a bundle', () => {
    const root = tree();
    try {
      expect(distUpToDate(root)).toBe(true);
      rmSync(join(root, BUILD_STAMP));
      expect(distUpToDate(root)).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  for (const input of ['src/cpu/cpu.ts', 'tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/bundle.mjs']) {
    it(`no when ${input} changed after the build`, () => {
      const root = tree();
      try {
        utimesSync(join(root, input), 3000, 3000);
        expect(distUpToDate(root)).toBe(false);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  }

  it('a file that is not an input (README.md) does not count', () => {
    const root = tree();
    try {
      utimesSync(join(root, 'README.md'), 3000, 3000);
      expect(distUpToDate(root)).toBe(true);
      expect(BUILD_INPUTS).toContain('src');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
