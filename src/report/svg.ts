/**
 * Charts drawn as inline SVG strings: score histograms with the threshold, and the ROC curve.
 * Coordinates are in SVG user units; every chart scales to its container's width.
 */
import type { RocPoint } from '../metrics/index.js';

/** One set of scores drawn in a histogram. */
export interface HistogramSeries {
  name: string;
  scores: readonly number[];
  /** A CSS colour. */
  colour: string;
}

const width = 520;
const height = 300;
// The top margin holds the title and, below it, the threshold's label.
const margin = { left: 56, right: 16, top: 44, bottom: 44 };
const plotWidth = width - margin.left - margin.right;
const plotHeight = height - margin.top - margin.bottom;

/** Escapes text for HTML and SVG content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A number short enough for an axis or a table: 4 significant digits, or exponent form. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const size = Math.abs(value);
  if (size !== 0 && (size >= 1e5 || size < 1e-3)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

function round(value: number): string {
  return value.toFixed(2);
}

function svgOpen(label: string, className: string): string {
  return (
    `<svg class="chart ${className}" viewBox="0 0 ${width} ${height}" role="img" ` +
    `aria-label="${escapeHtml(label)}">`
  );
}

/** Axes, tick labels and axis titles around the plot area. */
function axes(
  x: { min: number; max: number; title: string },
  y: { min: number; max: number; title: string },
): string {
  const parts: string[] = [];
  const bottom = margin.top + plotHeight;
  parts.push(
    `<rect class="plot-area" x="${margin.left}" y="${margin.top}" width="${plotWidth}" height="${plotHeight}"/>`,
  );
  for (let k = 0; k <= 4; k++) {
    const xv = x.min + ((x.max - x.min) * k) / 4;
    const xp = round(margin.left + (plotWidth * k) / 4);
    parts.push(`<line class="tick" x1="${xp}" x2="${xp}" y1="${bottom}" y2="${bottom + 5}"/>`);
    parts.push(
      `<text x="${xp}" y="${bottom + 18}" text-anchor="middle">${formatNumber(xv)}</text>`,
    );
    const yv = y.min + ((y.max - y.min) * k) / 4;
    const yp = round(bottom - (plotHeight * k) / 4);
    parts.push(
      `<line class="tick" x1="${margin.left - 5}" x2="${margin.left}" y1="${yp}" y2="${yp}"/>`,
    );
    parts.push(
      `<text x="${margin.left - 8}" y="${yp}" text-anchor="end" dominant-baseline="middle">${formatNumber(yv)}</text>`,
    );
  }
  parts.push(
    `<text class="axis-title" x="${margin.left + plotWidth / 2}" y="${height - 6}" text-anchor="middle">${escapeHtml(x.title)}</text>`,
  );
  parts.push(
    `<text class="axis-title" transform="translate(14 ${margin.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(y.title)}</text>`,
  );
  return parts.join('');
}

function binCounts(scores: readonly number[], min: number, max: number, bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const score of scores) {
    const bin = Math.min(bins - 1, Math.max(0, Math.floor(((score - min) / (max - min)) * bins)));
    counts[bin] = (counts[bin] ?? 0) + 1;
  }
  return counts;
}

/**
 * A histogram of each series' scores over shared bins, overlaid, with the threshold as a dashed
 * vertical line. The range covers every score and the threshold.
 */
export function histogramSvg(
  series: readonly HistogramSeries[],
  options: { threshold: number; title: string; bins?: number },
): string {
  const bins = options.bins ?? 30;
  // A loop rather than Math.min(...scores), which overflows the stack on large sets.
  let min = options.threshold;
  let max = options.threshold;
  for (const score of series.flatMap((s) => s.scores)) {
    if (score < min) min = score;
    if (score > max) max = score;
  }
  if (!(max > min)) [min, max] = [min - 0.5, max + 0.5];
  const counts = series.map((s) => binCounts(s.scores, min, max, bins));
  const top = Math.max(1, ...counts.flat());
  const xOf = (value: number) => margin.left + ((value - min) / (max - min)) * plotWidth;
  const binWidth = plotWidth / bins;

  const parts = [svgOpen(options.title, 'histogram')];
  parts.push(axes({ min, max, title: 'anomaly score' }, { min: 0, max: top, title: 'images' }));
  series.forEach((s, k) => {
    const bars = (counts[k] ?? []).map((count, bin) => {
      if (count === 0) return '';
      const barHeight = (count / top) * plotHeight;
      const x = round(margin.left + bin * binWidth);
      const y = round(margin.top + plotHeight - barHeight);
      return `<rect x="${x}" y="${y}" width="${round(binWidth)}" height="${round(barHeight)}"/>`;
    });
    parts.push(
      `<g class="bars" fill="${escapeHtml(s.colour)}" fill-opacity="0.55"><title>${escapeHtml(s.name)}</title>${bars.join('')}</g>`,
    );
    const legendY = margin.top + 14 + 16 * k;
    parts.push(
      `<rect x="${margin.left + 10}" y="${legendY - 9}" width="10" height="10" fill="${escapeHtml(s.colour)}"/>` +
        `<text x="${margin.left + 26}" y="${legendY}">${escapeHtml(s.name)} (${s.scores.length})</text>`,
    );
  });
  const tx = round(xOf(options.threshold));
  // The label runs away from the nearer edge, so that it stays inside the chart.
  const anchor = xOf(options.threshold) > margin.left + plotWidth / 2 ? 'end' : 'start';
  parts.push(
    `<line class="threshold" x1="${tx}" x2="${tx}" y1="${margin.top}" y2="${margin.top + plotHeight}"/>`,
    `<text class="threshold-label" x="${tx}" y="${margin.top - 6}" text-anchor="${anchor}">threshold ${formatNumber(options.threshold)}</text>`,
  );
  parts.push(
    `<text class="chart-title" x="${margin.left}" y="16">${escapeHtml(options.title)}</text>`,
  );
  parts.push('</svg>');
  return parts.join('');
}

/**
 * The ROC curve (true-positive rate against false-positive rate) with the chance diagonal and,
 * if given, the model's operating point at its threshold.
 */
export function rocSvg(
  points: readonly RocPoint[],
  options: { auroc: number; operating?: { fpr: number; tpr: number } },
): string {
  const xOf = (fpr: number) => round(margin.left + fpr * plotWidth);
  const yOf = (tpr: number) => round(margin.top + (1 - tpr) * plotHeight);
  const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${xOf(p.fpr)} ${yOf(p.tpr)}`).join(' ');
  const title = `ROC curve, AUROC ${options.auroc.toFixed(4)}`;

  const parts = [svgOpen(title, 'roc')];
  parts.push(
    axes(
      { min: 0, max: 1, title: 'false-positive rate' },
      { min: 0, max: 1, title: 'true-positive rate' },
    ),
  );
  parts.push(
    `<line class="chance" x1="${xOf(0)}" y1="${yOf(0)}" x2="${xOf(1)}" y2="${yOf(1)}"/>`,
    `<path class="roc-curve" d="${path}"/>`,
  );
  if (options.operating !== undefined) {
    const { fpr, tpr } = options.operating;
    parts.push(
      `<circle class="operating-point" cx="${xOf(fpr)}" cy="${yOf(tpr)}" r="5"><title>threshold: FPR ${formatNumber(fpr)}, TPR ${formatNumber(tpr)}</title></circle>`,
    );
  }
  parts.push(`<text class="chart-title" x="${margin.left}" y="16">${escapeHtml(title)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}
