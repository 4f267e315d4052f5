/**
 * Dictionaries in AFL's `-x` format (afl-fuzz's load_extras_file()): one
 * token a line, `name="value"` or `"value"`; `name@LEVEL="value"` tokens
 * with a level above 0 are skipped, as afl-fuzz does at its default
 * dictionary level 0; `#` starts a
 * comment; inside the quotes `\\`, `\"` and `\xNN` escape, every other
 * byte must be printable. A directory is not supported (one file).
 */
import * as fs from 'node:fs';

export class DictionaryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DictionaryError';
  }
}

/** AFL's MAX_DICT_FILE: the longest token (128 bytes). */
export const MAX_TOKEN = 128;

/** Parse a dictionary's text; `where` names it in errors ("FILE:LINE: ..."). */
export function parseDictionary(text: string, where: string): Uint8Array[] {
  const tokens: Uint8Array[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:[A-Za-z0-9_]*(?:@(\d+))?\s*=\s*)?"(.*)"$/.exec(line);
    if (!m) throw new DictionaryError(`${where}:${n + 1}: not a dictionary line (expected name="value" or "value")`);
    if (m[1] !== undefined && Number(m[1]) > 0) continue;
    const bytes: number[] = [];
    const body = m[2]!;
    for (let i = 0; i < body.length; i++) {
      const c = body.charCodeAt(i);
      if (c === 0x5c) {
        const e = body[i + 1];
        if (e === '\\' || e === '"') {
          bytes.push(e.charCodeAt(0));
          i++;
        } else if (e === 'x' && /^[0-9a-fA-F]{2}$/.test(body.slice(i + 2, i + 4))) {
          bytes.push(Number.parseInt(body.slice(i + 2, i + 4), 16));
          i += 3;
        } else throw new DictionaryError(`${where}:${n + 1}: bad escape (use \\\\, \\" or \\xNN)`);
      } else if (c < 0x20 || c > 0x7e || c === 0x22) {
        throw new DictionaryError(`${where}:${n + 1}: non-printable or unescaped character in the token`);
      } else bytes.push(c);
    }
    if (bytes.length === 0) throw new DictionaryError(`${where}:${n + 1}: empty token`);
    if (bytes.length > MAX_TOKEN) throw new DictionaryError(`${where}:${n + 1}: token longer than ${MAX_TOKEN} bytes`);
    tokens.push(Uint8Array.from(bytes));
  }
  return tokens;
}

/** Read and parse a dictionary file. */
export function readDictionary(path: string): Uint8Array[] {
  let text: string;
  try {
    text = fs.readFileSync(path, 'latin1');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DictionaryError(`cannot read dictionary ${path}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message}`);
  }
  return parseDictionary(text, path);
}
