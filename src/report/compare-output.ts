/**
 * `kmemsim compare`'s outputs: the text tables (one per program and one
 * for the aggregate), the JSON document, and the SVG chart of slowdown
 * against recall per strategy. Pure functions of the measurements
 * (src/harness/compare.ts makes them).
 */
import type { Score, Strategy } from '../harness/score.js';
import type { StopReason } from '../cpu/stop.js';

/** One strategy on one program. */
export interface StrategyResult extends Score {
  strategy: Strategy;
  findings: number;
  /** Faults on hidden pages (kmemcheck, cpl1) — the #PF/#DB round trips the strategy paid for. */
  faults: number;
  singleSteps: number;
  /** Guest instructions retired (native routines count as one). */
  instructions: number;
  wallMs: number;
  /** wallMs / the plain run's wallMs. */
  slowdown: number;
  /** Exit status of the run (the module's own; 99-style finding statuses are not applied here). */
  exitCode: number;
  /** Console output equals the plain run's (checkers are transparent; ftrace's poison may show through garbage reads). */
  sameConsole: boolean;
  /**
   * Why the run did not finish (an oops, the instruction budget, ...: the module run's stop,
   * src/cpu/stop.ts), null when init_module and cleanup_module returned. Its findings are
   * those made before it stopped.
   */
  stop: { kind: StopReason['kind']; message: string } | null;
}

export interface ProgramResult {
  program: string;
  results: StrategyResult[];
  /** What the reader must know to read the table (e.g. an object without __fentry__ sites: ftrace traced nothing). */
  notes?: string[];
  /** Why the program could not be compared (compile or load error); results is empty then. */
  error?: string;
}

export interface AggregateResult extends Omit<StrategyResult, 'exitCode' | 'sameConsole' | 'stop'> {
  /** Programs whose console output differed from the plain run. */
  consoleDifferences: number;
  /** Programs whose run stopped before init_module and cleanup_module returned (an oops, the budget, ...). */
  stopped: number;
}

export interface CompareReport {
  programs: ProgramResult[];
  aggregate: AggregateResult[];
}

/** Sum the per-program results per strategy; slowdown is total wall time over plain's total. */
export function aggregate(programs: readonly ProgramResult[], strategies: readonly Strategy[]): AggregateResult[] {
  const plainMs = sum(programs.flatMap((p) => p.results.filter((r) => r.strategy === 'plain').map((r) => r.wallMs)));
  return strategies.map((s) => {
    const rs = programs.flatMap((p) => p.results.filter((r) => r.strategy === s));
    const tp = sum(rs.map((r) => r.truePositives));
    const oracle = sum(rs.map((r) => r.oracleFindings));
    const detected = sum(rs.map((r) => r.detected));
    const findings = sum(rs.map((r) => r.findings));
    const wallMs = sum(rs.map((r) => r.wallMs));
    return {
      strategy: s,
      findings,
      truePositives: tp,
      falsePositives: sum(rs.map((r) => r.falsePositives)),
      falseNegatives: sum(rs.map((r) => r.falseNegatives)),
      oracleFindings: oracle,
      detected,
      recall: oracle ? detected / oracle : null,
      precision: findings ? tp / findings : null,
      faults: sum(rs.map((r) => r.faults)),
      singleSteps: sum(rs.map((r) => r.singleSteps)),
      instructions: sum(rs.map((r) => r.instructions)),
      wallMs,
      slowdown: plainMs > 0 ? wallMs / plainMs : 1,
      consoleDifferences: rs.filter((r) => !r.sameConsole).length,
      stopped: rs.filter((r) => r.stop !== null).length,
    };
  });
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}

const COLUMNS = ['strategy', 'findings', 'true', 'false', 'missed', 'recall', 'faults', 'single-steps', 'instructions', 'wall ms', 'slowdown', 'stopped'];

/** The `stopped` column's word for each way a module run can stop (src/cpu/stop.ts); a fault in module code is an oops. */
const STOP_LABELS: Record<StopReason['kind'], string> = {
  fault: 'oops',
  budget: 'budget',
  unsupported: 'unsupported',
  'triple-fault': 'triple-fault',
  halted: 'halted',
  yield: 'yield',
  'internal-error': 'error',
  exited: 'exited',
};

/** What the `stopped` labels mean (printed under the tables when a run stopped). */
const STOP_LEGEND = [
  'stopped: the run did not finish, and its findings are those made before it stopped:',
  'oops = a fault in module code, BUG() or panic(); budget = the instruction budget (--max-instructions)',
  'ran out, e.g. a loop that never ends; unsupported = an instruction kmemsim does not model;',
  'triple-fault = the processor shut down; halted = HLT with nothing to wake it; error = internal error.',
  'In the aggregate: the number of programs whose run stopped.',
];

function row(r: StrategyResult | AggregateResult): string[] {
  const scored = r.strategy !== 'plain' && r.strategy !== 'precise';
  const stopped = 'stopped' in r ? (r.stopped ? String(r.stopped) : '-') : r.stop ? STOP_LABELS[r.stop.kind] : '-';
  return [
    r.strategy,
    String(r.findings),
    scored ? String(r.truePositives) : '-',
    scored ? String(r.falsePositives) : '-',
    scored ? String(r.falseNegatives) : '-',
    scored && r.recall !== null ? `${Math.round(r.recall * 100)}%` : '-',
    String(r.faults),
    String(r.singleSteps),
    String(r.instructions),
    r.wallMs.toFixed(1),
    `${r.slowdown.toFixed(1)}x`,
    stopped,
  ];
}

function table(rows: string[][]): string {
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [fmt(COLUMNS), ...rows.map(fmt)].join('\n');
}

/** The text tables: one per program, then the aggregate. */
export function formatCompareTable(report: CompareReport): string {
  const out: string[] = [];
  let anyStopped = false;
  for (const p of report.programs) {
    out.push(p.program);
    if (p.error) out.push(`  not compared: ${p.error}`);
    else {
      out.push(table(p.results.map(row)));
      // One line per way of stopping: the strategies that stopped so, and the first one's message.
      const byKind = new Map<string, StrategyResult[]>();
      for (const r of p.results) if (r.stop) byKind.set(r.stop.kind, [...(byKind.get(r.stop.kind) ?? []), r]);
      for (const [kind, rs] of byKind) {
        const label = STOP_LABELS[kind as StopReason['kind']];
        out.push(`  ${label} under ${rs.map((r) => r.strategy).join(', ')}: ${rs[0]!.stop!.message.split('\n')[0]}`);
      }
      anyStopped ||= p.results.some((r) => r.stop !== null);
      const diff = p.results.filter((r) => !r.sameConsole).map((r) => r.strategy);
      if (diff.length) out.push(`  console output differs from plain under: ${diff.join(', ')}`);
      for (const n of p.notes ?? []) out.push(`  ${n}`);
    }
    out.push('');
  }
  if (report.programs.length > 1) {
    out.push(`aggregate (${report.programs.filter((p) => !p.error).length} programs)`);
    out.push(table(report.aggregate.map(row)));
    out.push('');
  }
  out.push('true/false/missed/recall: against the precise oracle (the inline heap checker and exact stack liveness),');
  out.push('in the region each strategy watches: kmemcheck the heap, cpl1 and ftrace the stack.');
  if (anyStopped) out.push(...STOP_LEGEND);
  return out.join('\n') + '\n';
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The chart: slowdown against plain (x, log scale) and recall (y) of each
 * strategy over all programs. plain and precise are drawn for reference
 * (precise is the oracle: recall 100% by definition).
 */
export function formatCompareSvg(report: CompareReport): string {
  const W = 640, H = 420, L = 70, R = 30, T = 40, B = 60;
  // A strategy with nothing to find in its region (recall null) has no point; the note under the chart says so.
  const pts = report.aggregate
    .filter((a) => a.strategy !== 'plain' && (a.strategy === 'precise' || a.recall !== null))
    .map((a) => ({ name: a.strategy, x: Math.max(1, a.slowdown), y: a.strategy === 'precise' ? 1 : a.recall! }));
  const unplotted = report.aggregate.filter((a) => a.strategy !== 'plain' && a.strategy !== 'precise' && a.recall === null).map((a) => a.strategy);
  const maxX = Math.max(10, ...pts.map((p) => p.x));
  const decades = Math.ceil(Math.log10(maxX));
  const sx = (x: number): number => L + ((W - L - R) * Math.log10(x)) / decades;
  const sy = (y: number): number => H - B - (H - T - B) * y;
  const colors: Record<string, string> = { kmemcheck: '#1f77b4', cpl1: '#d62728', ftrace: '#2ca02c', precise: '#7f7f7f' };
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  parts.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">Slowdown against recall per strategy (${report.programs.filter((p) => !p.error).length} programs)</text>`);
  // Axes and grid.
  parts.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`);
  parts.push(`<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`);
  for (let d = 0; d <= decades; d++) {
    const x = sx(10 ** d);
    parts.push(`<line x1="${x}" y1="${T}" x2="${x}" y2="${H - B}" stroke="#ddd"/>`);
    parts.push(`<text x="${x}" y="${H - B + 16}" text-anchor="middle">${10 ** d}x</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const y = sy(i / 4);
    parts.push(`<line x1="${L}" y1="${y}" x2="${W - R}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 8}" y="${y + 4}" text-anchor="end">${i * 25}%</text>`);
  }
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 20}" text-anchor="middle">slowdown against the plain run (wall time, log scale)</text>`);
  parts.push(`<text x="18" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(T + H - B) / 2})">recall against the precise oracle</text>`);
  const dots = pts.map((p) => ({ ...p, cx: Number(sx(p.x).toFixed(1)), cy: Number(sy(p.y).toFixed(1)), text: `${p.name} (${p.x.toFixed(1)}x, ${Math.round(p.y * 100)}%)` }));
  for (const d of dots) parts.push(`<circle cx="${d.cx}" cy="${d.cy}" r="${DOT_RADIUS}" fill="${colors[d.name] ?? 'black'}"/>`);
  const placed = layoutLabels(dots.map((d) => ({ x: d.cx, y: d.cy, text: d.text })), { left: L + 2, top: T - 4, right: W, bottom: H - B - 2 });
  dots.forEach((d, i) => {
    const l = placed[i]!;
    const c = colors[d.name] ?? 'black';
    if (l.leader) parts.push(`<line x1="${d.cx}" y1="${d.cy}" x2="${l.leader.x}" y2="${l.leader.y}" stroke="${c}" stroke-width="0.8"/>`);
    parts.push(`<text class="label" x="${l.x}" y="${l.y}" fill="${c}">${esc(d.text)}</text>`);
  });
  if (unplotted.length) {
    parts.push(`<text x="${W - R}" y="${T - 6}" text-anchor="end" fill="#555">not plotted (nothing in their region to find): ${esc(unplotted.join(', '))}</text>`);
  }
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

/** The chart's dots (radius in px) and its labels' font (12 px sans-serif). */
export const DOT_RADIUS = 6;
const LABEL_ADVANCE = 7; // px per character: 12 px sans-serif averages ≈ 0.55 em; 7 px errs wide
const LABEL_ASCENT = 10;
const LABEL_DESCENT = 3;

export interface Box { x: number; y: number; w: number; h: number }

/** The box a label drawn with `<text x y>` (text-anchor start, y the baseline) covers, generously. */
export function labelBox(x: number, y: number, text: string): Box {
  return { x, y: y - LABEL_ASCENT, w: text.length * LABEL_ADVANCE, h: LABEL_ASCENT + LABEL_DESCENT };
}

export function boxesIntersect(a: Box, b: Box): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** Whether the segment from (x1, y1) to (x2, y2) passes through box `b` (sampled every pixel or so). */
export function segmentCrossesBox(x1: number, y1: number, x2: number, y2: number, b: Box): boolean {
  const n = Math.max(2, Math.ceil(Math.hypot(x2 - x1, y2 - y1)));
  for (let i = 0; i <= n; i++) {
    const x = x1 + ((x2 - x1) * i) / n, y = y1 + ((y2 - y1) * i) / n;
    if (x > b.x && x < b.x + b.w && y > b.y && y < b.y + b.h) return true;
  }
  return false;
}

/** A dot's square (for the label-overlap checks). */
export function dotBox(cx: number, cy: number): Box {
  return { x: cx - DOT_RADIUS, y: cy - DOT_RADIUS, w: 2 * DOT_RADIUS, h: 2 * DOT_RADIUS };
}

/**
 * Places one label per point so that no two labels overlap and no label
 * covers a dot, inside `area`: each label tries the spots next to its own
 * dot (upper right, lower right, upper left, lower left), then spots
 * further away — a line up or down, or a step sideways, at a time; a label
 * not beside its dot gets a leader line to it, which crosses no other
 * label. Points that coincide (strategies with the same
 * slowdown and recall) get their labels stacked. Greedy, in the given order.
 */
export function layoutLabels(
  points: readonly { x: number; y: number; text: string }[],
  area: { left: number; top: number; right: number; bottom: number },
): { x: number; y: number; leader: { x: number; y: number } | null }[] {
  const LINE = LABEL_ASCENT + LABEL_DESCENT + 2;
  const STEP = 24;
  const taken: Box[] = points.map((p) => dotBox(p.x, p.y));
  const labels: Box[] = [];
  const inside = (b: Box): boolean => b.x >= area.left && b.y >= area.top && b.x + b.w <= area.right && b.y + b.h <= area.bottom;
  return points.map((p) => {
    const w = p.text.length * LABEL_ADVANCE;
    const gap = DOT_RADIUS + 3;
    // Spots ordered by distance from the dot: k lines up or down, j steps of STEP px sideways.
    for (let d = 0; d <= 60; d++) {
      for (let k = 0; k <= d; k++) {
        const j = d - k;
        for (const s of [{ right: true, up: true }, { right: true, up: false }, { right: false, up: true }, { right: false, up: false }]) {
          const x = Number((s.right ? p.x + gap + j * STEP : p.x - gap - w - j * STEP).toFixed(1));
          // Baseline: just above the dot (up) or just below it, k lines further out.
          const y = Number((s.up ? p.y - DOT_RADIUS - 2 - k * LINE : p.y + DOT_RADIUS + LABEL_ASCENT + 2 + k * LINE).toFixed(1));
          const box = labelBox(x, y, p.text);
          if (!inside(box) || taken.some((t) => boxesIntersect(t, box))) continue;
          const leader = d === 0 ? null : { x: s.right ? x : x + w, y: s.up ? box.y + box.h : box.y };
          // A leader line must not cross another label either.
          if (leader && labels.some((l) => segmentCrossesBox(p.x, p.y, leader.x, leader.y, l))) continue;
          taken.push(box);
          labels.push(box);
          return { x, y, leader };
        }
      }
    }
    // No free spot in the area (cannot happen with the chart's handful of strategies): keep it beside its dot.
    return { x: Number((p.x + DOT_RADIUS + 3).toFixed(1)), y: Number((p.y - DOT_RADIUS - 2).toFixed(1)), leader: null };
  });
}
