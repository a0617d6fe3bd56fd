/**
 * `renderReport`: one self-contained HTML page about a model's verdicts on a set of images. It
 * loads nothing from anywhere: styles are inline, charts are inline SVG, images are data URIs,
 * and a Content-Security-Policy forbids any other source.
 */
import { readImageHeader } from '../data/image-header.js';
import type { ScorerInfo, UnscoredImage } from '../detect/types.js';
import { auroc, rocCurve } from '../metrics/index.js';
import { escapeHtml, formatNumber, histogramSvg, rocSvg } from './svg.js';
import type { ReportInput, ReportItem } from './types.js';

const colours = { normal: '#2b6cb0', anomaly: '#c53030', all: '#4a5568' };

const style = `
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #1a202c; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #e2e8f0; }
.meta { color: #718096; } dl { display: grid; grid-template-columns: max-content auto; gap: 0.2rem 1rem; }
dt { font-weight: 600; } dd { margin: 0; } .charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.chart { width: 520px; max-width: 100%; height: auto; font-size: 11px; }
.chart .plot-area { fill: #f7fafc; stroke: #cbd5e0; } .chart .tick { stroke: #4a5568; }
.chart .threshold { stroke: #1a202c; stroke-dasharray: 5 4; stroke-width: 1.5; }
.chart .chance { stroke: #a0aec0; stroke-dasharray: 4 4; } .chart .roc-curve { fill: none; stroke: ${colours.anomaly}; stroke-width: 2; }
.chart .operating-point { fill: #1a202c; } .chart .chart-title { font-weight: 600; font-size: 12px; }
table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid #e2e8f0; padding: 0.3rem 0.5rem; text-align: left; vertical-align: middle; }
td.num { font-variant-numeric: tabular-nums; } td.path { word-break: break-all; }
img.thumb { width: 96px; height: 96px; object-fit: contain; image-rendering: pixelated; background: #edf2f7; }
.anomaly { color: ${colours.anomaly}; font-weight: 600; } .normal { color: ${colours.normal}; }`;

/** The page's policy: only inline styles and data: images, nothing fetched. */
const contentSecurityPolicy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'";

function dataUri(bytes: Uint8Array | undefined, name: string): string | null {
  if (bytes === undefined) return null;
  try {
    const { mimeType } = readImageHeader(bytes, name);
    return `data:${mimeType};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}`;
  } catch {
    return null;
  }
}

function thumbnail(bytes: Uint8Array | undefined, name: string, alt: string): string {
  const uri = dataUri(bytes, name);
  return uri === null
    ? '<td>–</td>'
    : `<td><img class="thumb" src="${uri}" alt="${escapeHtml(alt)}"></td>`;
}

function modelSection(info: ScorerInfo): string {
  const rows: Array<[string, string]> = [
    ['method', info.method],
    ['input', `${info.channels} x ${info.height} x ${info.width} (channels x height x width)`],
    ['threshold', `${formatNumber(info.threshold)} (score above it: anomaly)`],
    ['target false-positive rate', `${formatNumber(info.fpr * 100)}%`],
    ['calibration images', String(info.calibrationImages)],
    ...Object.entries(info.versions).map(([name, version]): [string, string] => [
      `version of ${name}`,
      version,
    ]),
  ];
  const list = rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('');
  return `<h2>Model</h2><dl class="model">${list}</dl>`;
}

function share(part: number, whole: number): string {
  return whole === 0 ? '–' : `${part} of ${whole} (${formatNumber((100 * part) / whole)}%)`;
}

function verdictSection(items: readonly ReportItem[], failed: number): string {
  const flagged = items.filter((i) => i.isAnomaly).length;
  const normal = items.filter((i) => i.label === 'normal');
  const anomalous = items.filter((i) => i.label === 'anomaly');
  const rows: Array<[string, string]> = [
    ['images scored', String(items.length)],
    ['images that could not be scored', String(failed)],
    ['flagged as anomalies', share(flagged, items.length)],
  ];
  if (normal.length > 0) {
    rows.push([
      'normal images flagged (false positives)',
      share(normal.filter((i) => i.isAnomaly).length, normal.length),
    ]);
  }
  if (anomalous.length > 0) {
    rows.push([
      'anomalies caught (true positives)',
      share(anomalous.filter((i) => i.isAnomaly).length, anomalous.length),
    ]);
  }
  const list = rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('');
  return `<h2>Verdicts at the threshold</h2><dl class="verdicts">${list}</dl>`;
}

/** AUROC and the ROC curve, when both labels are present among the scored items. */
export function labelledMetrics(
  items: readonly ReportItem[],
): { auroc: number; points: ReturnType<typeof rocCurve>; fpr: number; tpr: number } | null {
  const labelled = items.filter((i) => i.label !== undefined);
  const anomalies = labelled.filter((i) => i.label === 'anomaly').length;
  if (anomalies === 0 || anomalies === labelled.length) return null;
  const scores = labelled.map((i) => i.score);
  const isAnomaly = labelled.map((i) => (i.label === 'anomaly' ? 1 : 0));
  const flagged = (label: string) =>
    labelled.filter((i) => i.label === label && i.isAnomaly).length;
  return {
    auroc: auroc(scores, isAnomaly),
    points: rocCurve(scores, isAnomaly),
    fpr: flagged('normal') / (labelled.length - anomalies),
    tpr: flagged('anomaly') / anomalies,
  };
}

function chartsSection(items: readonly ReportItem[], threshold: number): string {
  if (items.length === 0) return '<h2>Scores</h2><p>No image could be scored.</p>';
  const metrics = labelledMetrics(items);
  if (metrics === null) {
    const all = items.map((i) => i.score);
    const chart = histogramSvg([{ name: 'all images', scores: all, colour: colours.all }], {
      threshold,
      title: 'Scores of all images',
    });
    return `<h2>Scores</h2><div class="charts">${chart}</div>`;
  }
  const byLabel = (label: string) => items.filter((i) => i.label === label).map((i) => i.score);
  const histogram = histogramSvg(
    [
      { name: 'normal', scores: byLabel('normal'), colour: colours.normal },
      { name: 'anomaly', scores: byLabel('anomaly'), colour: colours.anomaly },
    ],
    { threshold, title: 'Scores by label' },
  );
  const roc = rocSvg(metrics.points, {
    auroc: metrics.auroc,
    operating: { fpr: metrics.fpr, tpr: metrics.tpr },
  });
  const unlabelled = items.filter((i) => i.label === undefined).length;
  const note =
    unlabelled > 0 ? `<p>${unlabelled} unlabelled images are not in these charts.</p>` : '';
  return `<h2>Scores</h2><p>AUROC <strong class="auroc">${metrics.auroc.toFixed(4)}</strong> over ${items.length - unlabelled} labelled images.</p>${note}<div class="charts">${histogram}${roc}</div>`;
}

function imageTable(title: string, className: string, rows: readonly ReportItem[]): string {
  const body = rows.map((item, rank) => {
    const verdict = item.isAnomaly
      ? '<span class="anomaly">anomaly</span>'
      : '<span class="normal">normal</span>';
    return (
      `<tr><td class="num">${rank + 1}</td>` +
      thumbnail(item.image, item.path, `image ${item.path}`) +
      thumbnail(item.map, `${item.path} (map)`, `anomaly map of ${item.path}`) +
      `<td class="path">${escapeHtml(item.path)}</td><td class="num">${formatNumber(item.score)}</td>` +
      `<td class="num">${formatNumber(item.pValue)}</td><td>${verdict}</td><td>${item.label ?? '–'}</td></tr>`
    );
  });
  const head =
    '<tr><th>#</th><th>image</th><th>anomaly map</th><th>path</th><th>score</th><th>p-value</th><th>verdict</th><th>label</th></tr>';
  return `<h2>${escapeHtml(title)}</h2><table class="${className}"><thead>${head}</thead><tbody>${body.join('')}</tbody></table>`;
}

function failedTable(failed: readonly UnscoredImage[]): string {
  if (failed.length === 0) return '';
  const rows = failed.map(
    (f) =>
      `<tr><td class="path">${escapeHtml(f.path)}</td><td>${escapeHtml(f.code)}</td><td>${escapeHtml(f.error)}</td></tr>`,
  );
  return `<h2>Images that could not be scored</h2><table class="failed"><thead><tr><th>path</th><th>code</th><th>reason</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The most and the least anomalous `top` items (highest and lowest scores first). */
export function extremes(
  items: readonly ReportItem[],
  top: number,
): { most: ReportItem[]; least: ReportItem[] } {
  const sorted = [...items].sort((a, b) => b.score - a.score);
  return { most: sorted.slice(0, top), least: sorted.reverse().slice(0, top) };
}

/**
 * One self-contained HTML page: the model summary, the verdicts at the threshold, score
 * histograms (by label when labels are known, with the ROC curve and AUROC when both labels
 * are present), the most and least anomalous images with their anomaly maps, and the images
 * that could not be scored.
 */
export function renderReport(input: ReportInput): string {
  const title = input.title ?? 'duiad report';
  const top = input.top ?? 8;
  const failed = input.failed ?? [];
  const created = (input.createdAt ?? new Date()).toISOString();
  const { most, least } = extremes(input.items, top);
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title><style>${style}</style></head><body>`,
    `<h1>${escapeHtml(title)}</h1><p class="meta">Made ${escapeHtml(created)} by duiad.</p>`,
    modelSection(input.info),
    verdictSection(input.items, failed.length),
    chartsSection(input.items, input.info.threshold),
    input.items.length > 0
      ? imageTable(`The ${most.length} most anomalous images`, 'most', most)
      : '',
    input.items.length > 0
      ? imageTable(`The ${least.length} least anomalous images`, 'least', least)
      : '',
    failedTable(failed),
    '</body></html>',
    '',
  ].join('\n');
}
