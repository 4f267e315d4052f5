/**
 * Findings as SARIF 2.1.0 (OASIS "Static Analysis Results Interchange
 * Format", the format code-scanning dashboards take): `--report-sarif FILE`
 * of `kmemsim run`, `compare` and `fuzz`. Built on the one finding schema
 * (src/shadow/report.ts `Finding`), nothing else:
 *
 * - one `result` per finding; its `ruleId` names the kind and the region
 *   (`heap-uninitialized`, `heap-unallocated`, `heap-freed`,
 *   `stack-uninitialized`, `stack-poisoned`, ...), and `run.tool.driver.rules`
 *   describes every rule used, in order of first use;
 * - `locations`: the faulting instruction's source position (file and line
 *   from the module's DWARF line table; the column is not known), or its
 *   address when there is none;
 * - the stack, innermost frame first, as `stacks` (SARIF §3.44) and, in
 *   execution order (outermost caller first), as a `codeFlows` thread flow
 *   (§3.36), which dashboards show as the path to the bug;
 * - `partialFingerprints["kmemsimFinding/v1"]`: a SHA-256 over the rule, the
 *   access, its size and the function names of the stack — no addresses,
 *   no line numbers, so the fingerprint survives unrelated edits and is
 *   the same on every run;
 * - a heap finding's allocation and free stacks (src/shadow/object-owner.ts)
 *   are two more `stacks`, and the object (cache, size, offset) is in the
 *   result's properties; the allocation and free calls, and a stack
 *   finding's origin, are `relatedLocations`;
 * - a finding silenced by a suppression (src/report/suppressions.ts) stays
 *   in the log with `suppressions: [{ kind: "external", justification }]`,
 *   as SARIF records suppressed results (§3.27.23): dashboards hide it.
 *
 * Paths: a source file under `baseDir` (the current directory) is given
 * relative to it, with `uriBaseId` `%SRCROOT%` (defined in the run's
 * `originalUriBaseIds`); others as absolute `file://` URIs.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Finding, FindingFrame } from '../shadow/report.js';

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
export const SARIF_VERSION = '2.1.0';
const SRCROOT = '%SRCROOT%';

/** A finding and, when a suppression silenced it, the suppression's name. */
export interface SarifFinding {
  finding: Finding;
  suppressedBy?: string;
}

/** One SARIF run: the findings of one invocation (or, for `compare`, one strategy). */
export interface SarifRunInput {
  findings: SarifFinding[];
  /** `automationDetails.id`: e.g. `kmemsim/compare/cpl1/` (a category per strategy). */
  category?: string;
  commandLine?: string;
  exitCode?: number;
}

export interface SarifOptions {
  /** kmemsim's version (package.json). */
  version: string;
  /** Paths under this directory are relative to `%SRCROOT%` (default: the current directory). */
  baseDir?: string;
}

interface RuleText {
  name: string;
  short: string;
  full: string;
}

const KIND_TEXT: Record<Finding['kind'], RuleText> = {
  uninitialized: { name: 'UninitializedMemoryAccess', short: 'Read of uninitialized memory', full: 'The code read memory that was allocated but never written (kmemcheck\'s "read from uninitialized memory"): the value is whatever was there before.' },
  unallocated: { name: 'UnallocatedMemoryAccess', short: 'Access to unallocated memory', full: 'The code accessed memory that belongs to no live allocation (past the end of an object, slab padding or metadata).' },
  freed: { name: 'FreedMemoryAccess', short: 'Access to freed memory', full: 'The code accessed memory after it was freed (use after free).' },
  poisoned: { name: 'PoisonedStackValue', short: 'Dead stack value passed on', full: 'A value read from a dead stack frame (ftrace\'s stack poison pattern) was passed as a function argument: an uninitialized local.' },
  overflow: { name: 'WatchedBufferOverflow', short: 'Access next to a watched buffer', full: 'The code accessed a watched page outside every watched buffer on it (the watch framework\'s foreign access, reported with kmcf_set_overflow_report(1)): a buffer overflow or underflow.' },
};

/** The rule id of a finding: its region and kind (`heap-freed`, `stack-uninitialized`). */
export function ruleId(f: Finding): string {
  return `${f.region}-${f.kind}`;
}

const hex = (v: number): string => '0x' + (v >>> 0).toString(16).padStart(8, '0');

/** `copy_thing+0x13` or the address. */
function frameName(fr: FindingFrame): string {
  return fr.function !== null ? `${fr.function}+0x${(fr.offset ?? 0).toString(16)}` : hex(fr.address);
}

/** The stable fingerprint: rule, access, size and the stack's function names (unknown frames as `?`). */
export function fingerprint(f: Finding): string {
  const frames = f.stack.map((fr) => fr.function ?? '?').join('>');
  return createHash('sha256').update(`${ruleId(f)}|${f.access}|${f.size}|${frames}`).digest('hex');
}

function message(f: Finding): string {
  const where = f.region === 'stack' ? ' stack' : '';
  const what = f.kind === 'poisoned'
    ? 'poisoned stack value passed as an argument'
    : `${8 * f.size}-bit ${f.access} ${f.access === 'write' ? 'to' : 'from'} ${f.kind}${where} memory at ${hex(f.address)}`;
  return `${what} in ${frameName(f.stack[0] ?? f)} (${f.checker})`;
}

/** A `location` for a frame: its source position when known, else its address; with the function as a logical location. */
function location(fr: FindingFrame, uri: (file: string) => { uri: string; uriBaseId?: string }, msg?: string): Record<string, unknown> {
  const physical: Record<string, unknown> = { address: { absoluteAddress: fr.address >>> 0 } };
  if (fr.file) {
    physical['artifactLocation'] = uri(fr.file);
    if (fr.line) physical['region'] = { startLine: fr.line };
  }
  return {
    physicalLocation: physical,
    ...(fr.function !== null ? { logicalLocations: [{ name: fr.function, fullyQualifiedName: fr.function, kind: 'function' }] } : {}),
    ...(msg ? { message: { text: msg } } : {}),
  };
}

/** Where the memory came from, as related locations: the allocation and free calls, a stack origin. */
function relatedOf(f: Finding, uri: (file: string) => { uri: string; uriBaseId?: string }): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const add = (fr: FindingFrame | undefined, text: string): void => {
    if (fr) out.push({ id: out.length, ...location(fr, uri, text) });
  };
  add(f.object?.allocated.stack[0], `allocated here (${f.object?.cache})`);
  add(f.object?.freed?.stack[0], 'freed here');
  if (f.origin) add(f.origin, `uninitialized since the stack frame of ${f.origin.function ?? '?'} grew over it`);
  return out;
}

function runOf(input: SarifRunInput, opts: SarifOptions): Record<string, unknown> {
  const base = resolve(opts.baseDir ?? process.cwd());
  let usesBase = false;
  const uri = (file: string): { uri: string; uriBaseId?: string } => {
    const abs = resolve(base, file);
    const rel = relative(base, abs);
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) {
      usesBase = true;
      return { uri: rel.split(sep).map(encodeURIComponent).join('/'), uriBaseId: SRCROOT };
    }
    return { uri: pathToFileURL(abs).href };
  };
  const rules: Record<string, unknown>[] = [];
  const ruleIndex = new Map<string, number>();
  const results = input.findings.map(({ finding: f, suppressedBy }) => {
    const id = ruleId(f);
    if (!ruleIndex.has(id)) {
      const t = KIND_TEXT[f.kind];
      ruleIndex.set(id, rules.length);
      rules.push({
        id,
        name: `${f.region === 'stack' ? 'Stack' : 'Heap'}${t.name}`,
        shortDescription: { text: `${t.short} (${f.region})` },
        fullDescription: { text: t.full },
        defaultConfiguration: { level: 'error' },
        properties: { tags: ['memory', f.region] },
      });
    }
    const top = f.stack[0] ?? { function: f.function, offset: f.offset, address: f.eip, file: f.file, line: f.line };
    const frames = f.stack.map((fr, i) => ({ location: location(fr, uri, frameName(fr)), ...(i === 0 ? {} : { properties: { returnAddress: true } }) }));
    return {
      ruleId: id,
      ruleIndex: ruleIndex.get(id)!,
      level: 'error',
      message: { text: message(f) },
      locations: [location(top, uri)],
      ...(relatedOf(f, uri).length ? { relatedLocations: relatedOf(f, uri) } : {}),
      partialFingerprints: { 'kmemsimFinding/v1': fingerprint(f) },
      stacks: [
        { message: { text: 'Call stack at the access' }, frames },
        // Heap findings: the stacks that allocated and freed the object (KASAN's "Allocated by" / "Freed by").
        ...(f.object ? [{ text: `Allocated (instruction ${f.object.allocated.icount})`, stack: f.object.allocated.stack }] : []),
        ...(f.object?.freed ? [{ text: `Freed (instruction ${f.object.freed.icount})`, stack: f.object.freed.stack }] : []),
      ].map((st) => ('frames' in st ? st : { message: { text: st.text }, frames: st.stack.map((fr) => ({ location: location(fr, uri, frameName(fr)) })) })),
      codeFlows: [
        {
          threadFlows: [
            {
              locations: f.stack.slice().reverse().map((fr, i, all) => ({
                location: location(fr, uri, i === all.length - 1 ? message(f) : `calls from ${frameName(fr)}`),
                nestingLevel: i,
                executionOrder: i + 1,
              })),
            },
          ],
        },
      ],
      ...(suppressedBy !== undefined ? { suppressions: [{ kind: 'external', justification: `kmemsim suppression ${suppressedBy}` }] } : {}),
      properties: {
        checker: f.checker, region: f.region, kind: f.kind, access: f.access, size: f.size, address: f.address >>> 0, eip: f.eip >>> 0,
        ...(f.object ? { object: { address: f.object.address, cache: f.object.cache, size: f.object.size, requested: f.object.requested, offset: f.object.offset, freed: f.object.freed !== null } } : {}),
      },
    };
  });
  return {
    tool: { driver: { name: 'kmemsim', semanticVersion: opts.version, version: opts.version, rules } },
    ...(input.commandLine !== undefined || input.exitCode !== undefined
      ? { invocations: [{ executionSuccessful: true, ...(input.commandLine !== undefined ? { commandLine: input.commandLine } : {}), ...(input.exitCode !== undefined ? { exitCode: input.exitCode } : {}) }] }
      : {}),
    ...(input.category !== undefined ? { automationDetails: { id: input.category } } : {}),
    ...(usesBase ? { originalUriBaseIds: { [SRCROOT]: { uri: pathToFileURL(base).href.replace(/\/?$/, '/') } } } : {}),
    columnKind: 'utf16CodeUnits',
    results,
  };
}

/** The SARIF log of one or more runs (JSON-serializable). */
export function sarifLog(runs: SarifRunInput[], opts: SarifOptions): Record<string, unknown> {
  return { $schema: SARIF_SCHEMA, version: SARIF_VERSION, runs: runs.map((r) => runOf(r, opts)) };
}

/** The log as the file's text (two-space JSON, final newline). */
export function formatSarif(runs: SarifRunInput[], opts: SarifOptions): string {
  return JSON.stringify(sarifLog(runs, opts), null, 2) + '\n';
}
