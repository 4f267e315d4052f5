/** kmemsim's version, from its own package.json (dist/cli/ and dist/bundle/ are both two levels down), wherever it runs. */
import { createRequire } from 'node:module';

export const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
