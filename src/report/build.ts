/**
 * `buildReport`: scores image files with a loaded scorer, draws the anomaly maps of the images
 * the report shows, and renders the page.
 */
import { readFile } from 'node:fs/promises';

import type { EncodedImage, Scorer, UnscoredImage } from '../detect/types.js';
import { isScored } from '../detect/types.js';
import { UsageError } from '../errors.js';
import { extremes, labelledMetrics, renderReport } from './html.js';
import type { Label, ReportItem } from './types.js';

/** Progress of `buildReport`, for a caller to draw. */
export type ReportProgress =
  | { status: 'scoring'; done: number; total: number }
  | { status: 'mapping'; done: number; total: number };

/** What `buildReport` reads and how. */
export interface BuildReportOptions {
  scorer: Scorer;
  /** Image files known to be normal. */
  normal?: readonly string[];
  /** Image files known to be anomalous. */
  anomalous?: readonly string[];
  /** Image files without a label. */
  unlabelled?: readonly string[];
  /** Rows in each of the most and least anomalous tables (default 8). */
  top?: number;
  /** Images per call to the scorer (default 32). */
  batchSize?: number;
  title?: string;
  onProgress?: (event: ReportProgress) => void;
}

/** A rendered report and what it found. */
export interface BuiltReport {
  html: string;
  /** Every scored image, without its bytes. */
  items: ReportItem[];
  failed: UnscoredImage[];
  /** AUROC when both labels were given and scored, else null. */
  auroc: number | null;
}

interface Entry {
  path: string;
  label?: Label;
}

/** Reads files; those that cannot be read become unscored images. */
async function readImages(entries: readonly Entry[]): Promise<Array<EncodedImage | UnscoredImage>> {
  return Promise.all(
    entries.map(async ({ path }) => {
      try {
        return { path, data: new Uint8Array(await readFile(path)) };
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code ?? String(error);
        return {
          path,
          code: 'E_NOT_FOUND' as const,
          error: `report: cannot read ${path} (${reason})`,
        };
      }
    }),
  );
}

/** Scores the readable images of a batch; keeps the batch's order. */
async function scoreBatch(
  scorer: Scorer,
  entries: readonly Entry[],
): Promise<Array<ReportItem | UnscoredImage>> {
  const read = await readImages(entries);
  const readable = read.filter((r): r is EncodedImage => 'data' in r);
  const scored = readable.length > 0 ? await scorer.scoreEncoded(readable) : [];
  let next = 0;
  return read.map((r, i) => {
    if (!('data' in r)) return r;
    const result = scored[next++];
    if (result === undefined || !isScored(result)) {
      return result ?? { path: r.path, code: 'E_VALUE', error: `report: no score for ${r.path}` };
    }
    const { path, score, pValue, isAnomaly } = result;
    const label = entries[i]?.label;
    return label === undefined
      ? { path, score, pValue, isAnomaly }
      : { path, score, pValue, isAnomaly, label };
  });
}

/** Reads the shown items' images again and draws their anomaly maps. */
async function attachPictures(scorer: Scorer, shown: readonly ReportItem[]): Promise<void> {
  const read = await readImages(shown);
  const readable = read.filter((r): r is EncodedImage => 'data' in r);
  const maps = readable.length > 0 ? await scorer.mapEncoded(readable) : [];
  const byPath = new Map(readable.map((r, i) => [r.path, { image: r.data, map: maps[i] }]));
  for (const item of shown) {
    const found = byPath.get(item.path);
    if (found === undefined) continue;
    item.image = found.image;
    if (found.map !== undefined && 'png' in found.map) item.map = found.map.png;
  }
}

/**
 * Scores the given image files in batches, draws the anomaly maps of the most and least
 * anomalous, and renders the report. Unreadable and undecodable files are listed, not fatal;
 * throws a UsageError when no file is given.
 */
export async function buildReport(options: BuildReportOptions): Promise<BuiltReport> {
  const { scorer, top = 8, batchSize = 32 } = options;
  const entries: Entry[] = [
    ...(options.normal ?? []).map((path): Entry => ({ path, label: 'normal' })),
    ...(options.anomalous ?? []).map((path): Entry => ({ path, label: 'anomaly' })),
    ...(options.unlabelled ?? []).map((path): Entry => ({ path })),
  ];
  if (entries.length === 0) throw new UsageError('report: no images to score');

  // Score in batches.
  const items: ReportItem[] = [];
  const failed: UnscoredImage[] = [];
  for (let start = 0; start < entries.length; start += batchSize) {
    const results = await scoreBatch(scorer, entries.slice(start, start + batchSize));
    for (const result of results) {
      if ('score' in result) items.push(result);
      else failed.push(result);
    }
    const done = Math.min(start + batchSize, entries.length);
    options.onProgress?.({ status: 'scoring', done, total: entries.length });
  }

  // Pictures only for the images the tables show; copies, so `items` stays without bytes.
  const { most, least } = extremes(items, top);
  const shown = [...new Set([...most, ...least])].map((item) => ({ ...item }));
  await attachPictures(scorer, shown);
  options.onProgress?.({ status: 'mapping', done: shown.length, total: shown.length });
  const pictured = new Map(shown.map((item) => [item.path, item]));

  const html = renderReport({
    info: scorer.info,
    items: items.map((item) => pictured.get(item.path) ?? item),
    failed,
    top,
    title: options.title,
  });
  return { html, items, failed, auroc: labelledMetrics(items)?.auroc ?? null };
}
