/**
 * The compare chart's labels: laid out so that no two overlap and none
 * covers a dot, also when strategies share a point (same slowdown and
 * recall), and inside the chart.
 */
import { describe, expect, it } from 'vitest';
import { boxesIntersect, dotBox, formatCompareSvg, labelBox, segmentCrossesBox, type AggregateResult, type Box, type CompareReport } from '../../src/report/compare-output.js';
import type { Strategy } from '../../src/harness/score.js';

function agg(strategy: Strategy, slowdown: number, recall: number | null): AggregateResult {
  return {
    strategy, findings: 1, truePositives: 1, falsePositives: 0, falseNegatives: 0, oracleFindings: 1, detected: 1,
    recall, precision: 1, faults: 0, singleSteps: 0, instructions: 100, wallMs: 10 * slowdown, slowdown,
    consoleDifferences: 0, stopped: 0,
  };
}

const report = (rows: AggregateResult[]): CompareReport => ({ programs: [{ program: 'x.c', results: [] }], aggregate: rows });

/** The label boxes and dot boxes drawn in an SVG chart. */
function boxes(svg: string): { labels: (Box & { text: string })[]; dots: Box[]; width: number; height: number } {
  const labels = [...svg.matchAll(/<text class="label" x="([-\d.]+)" y="([-\d.]+)"[^>]*>([^<]*)<\/text>/g)].map((m) => ({
    ...labelBox(Number(m[1]), Number(m[2]), m[3]!.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>')),
    text: m[3]!,
  }));
  const dots = [...svg.matchAll(/<circle cx="([-\d.]+)" cy="([-\d.]+)"/g)].map((m) => dotBox(Number(m[1]), Number(m[2])));
  const [, width, height] = /<svg [^>]*width="(\d+)" height="(\d+)"/.exec(svg)!;
  return { labels, dots, width: Number(width), height: Number(height) };
}

function expectNoOverlap(svg: string, n: number): void {
  const { labels, dots, width, height } = boxes(svg);
  expect(labels).toHaveLength(n);
  expect(dots).toHaveLength(n);
  for (let i = 0; i < labels.length; i++) {
    const a = labels[i]!;
    expect(a.x >= 0 && a.y >= 0 && a.x + a.w <= width && a.y + a.h <= height, `${a.text} inside the chart`).toBe(true);
    for (let j = i + 1; j < labels.length; j++) expect(boxesIntersect(a, labels[j]!), `${a.text} / ${labels[j]!.text}`).toBe(false);
    for (const d of dots) expect(boxesIntersect(a, d), `${a.text} covers a dot`).toBe(false);
  }
  for (const m of svg.matchAll(/<line x1="([-\d.]+)" y1="([-\d.]+)" x2="([-\d.]+)" y2="([-\d.]+)"[^>]*stroke-width="0.8"\/>/g)) {
    const [x1, y1, x2, y2] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
    for (const l of labels) {
      // Its own label starts where the line ends: only a crossing inside another box counts.
      const own = (x2 === l.x || x2 === l.x + l.w) && (y2 === l.y || y2 === l.y + l.h);
      if (!own) expect(segmentCrossesBox(x1, y1, x2, y2, l), `leader to ${x2},${y2} crosses ${l.text}`).toBe(false);
    }
  }
}

describe('compare chart labels', () => {
  it('every strategy on the same point: four labels, no overlap', () => {
    const svg = formatCompareSvg(report([agg('plain', 1, null), agg('kmemcheck', 1.1, 1), agg('cpl1', 1.1, 1), agg('ftrace', 1.1, 1), agg('precise', 1.1, 1)]));
    expectNoOverlap(svg, 4);
    // Labels moved away from their dot are tied to it by a leader line.
    expect((svg.match(/<line [^>]*stroke-width="0.8"\/>/g) ?? []).length).toBeGreaterThan(0);
  });

  it('points close together, at the chart edges (1x, 0% and 100%, far right)', () => {
    const svg = formatCompareSvg(report([agg('plain', 1, null), agg('kmemcheck', 1, 0), agg('cpl1', 1.05, 0), agg('ftrace', 9.9, 1), agg('precise', 10, 1)]));
    expectNoOverlap(svg, 4);
  });

  it('the README chart as measured (leader lines must pass the label of a point in between)', () => {
    const svg = formatCompareSvg(report([agg('plain', 1, null), agg('kmemcheck', 1.1, 1), agg('cpl1', 1.4, 1), agg('ftrace', 1.0, 0.8), agg('precise', 1.0, 1)]));
    expectNoOverlap(svg, 4);
  });

  it('the README chart (examples/: kmemcheck, cpl1 and ftrace near 1x)', () => {
    const svg = formatCompareSvg(report([agg('plain', 1, null), agg('kmemcheck', 1.1, 1), agg('cpl1', 1.2, 1), agg('ftrace', 1.1, 0.8), agg('precise', 1.3, 1)]));
    expectNoOverlap(svg, 4);
  });

  it('distinct points keep their labels beside the dot, without leader lines', () => {
    const svg = formatCompareSvg(report([agg('plain', 1, null), agg('kmemcheck', 45, 1), agg('cpl1', 138, 0.5), agg('ftrace', 3.4, 0.25), agg('precise', 11, 1)]));
    expectNoOverlap(svg, 4);
    expect(svg).not.toMatch(/stroke-width="0.8"/);
  });
});
