/**
 * Tables from benchmark results: per dataset a Markdown table (rows: classes; columns:
 * methods; last row: mean ± std over seeds) and `summary.json` shaped
 * `{dataset: {method: {meanAuroc, std, classes: {k: auroc}}}}`, AUROC in percent.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { classNames, type DatasetName } from '../data/datasets.js';
import { FormatError } from '../errors.js';
import type { SplitResult } from './run.js';

/** Summary of one method on one dataset (percent). */
export interface MethodSummary {
  meanAuroc: number;
  /** Standard deviation over seeds of the mean over classes (0 with one seed). */
  std: number;
  seeds: number;
  /** Mean AUROC over seeds, per normal class. */
  classes: Record<string, number>;
  trainingSecondsPerClass: number;
}

export type Summary = Record<string, Record<string, MethodSummary>>;

/** Every result JSON under `out/<dataset>/<method>/`. */
export async function readResults(out: string, dataset: string): Promise<SplitResult[]> {
  const results: SplitResult[] = [];
  const methodDirs = await readdir(join(out, dataset), { withFileTypes: true }).catch(() => []);
  for (const dir of methodDirs.filter((d) => d.isDirectory())) {
    for (const file of await readdir(join(out, dataset, dir.name))) {
      if (!file.endsWith('.json')) continue;
      const path = join(out, dataset, dir.name, file);
      try {
        results.push(JSON.parse(await readFile(path, 'utf8')) as SplitResult);
      } catch {
        throw new FormatError(`bench: ${path} is not a readable result (remove it to redo it)`);
      }
    }
  }
  return results;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
const std = (xs: readonly number[]) =>
  xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));

/** Summarises one method's results (AUROC in percent). */
export function summarise(results: readonly SplitResult[]): MethodSummary {
  const byClass = new Map<number, number[]>();
  const bySeed = new Map<number, number[]>();
  for (const r of results) {
    byClass.set(r.normalClass, [...(byClass.get(r.normalClass) ?? []), 100 * r.auroc]);
    bySeed.set(r.seed, [...(bySeed.get(r.seed) ?? []), 100 * r.auroc]);
  }
  const classes = Object.fromEntries(
    [...byClass].sort(([a], [b]) => a - b).map(([k, v]) => [String(k), mean(v)]),
  );
  // Only seeds that cover every class enter the mean ± std, so partial runs do not skew it.
  const complete = [...bySeed.values()].filter((v) => v.length === byClass.size).map(mean);
  return {
    meanAuroc: mean(complete.length > 0 ? complete : Object.values(classes)),
    std: std(complete),
    seeds: complete.length,
    classes,
    trainingSecondsPerClass: mean(results.map((r) => r.trainingSeconds)),
  };
}

/** Markdown table of one dataset's summaries. */
export function markdownTable(
  dataset: DatasetName,
  summaries: Record<string, MethodSummary>,
): string {
  const names = classNames(dataset);
  const methodNames = Object.keys(summaries).sort();
  const classIds = [
    ...new Set(methodNames.flatMap((m) => Object.keys(summaries[m]?.classes ?? {}))),
  ]
    .map(Number)
    .sort((a, b) => a - b);
  const cell = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(1));
  const lines = [
    `| class | ${methodNames.join(' | ')} |`,
    `|---|${methodNames.map(() => '---').join('|')}|`,
    ...classIds.map(
      (k) =>
        `| ${k} ${names[k] ?? ''} | ${methodNames.map((m) => cell(summaries[m]?.classes[String(k)])).join(' | ')} |`,
    ),
    `| **mean ± std (seeds)** | ${methodNames
      .map((m) => {
        const s = summaries[m] as MethodSummary;
        const covered = Object.keys(s.classes).length;
        // A mean over some classes only is not comparable with a full one: say so.
        if (covered < names.length) {
          return `${s.meanAuroc.toFixed(1)} (${covered} of ${names.length} classes only)`;
        }
        return `**${s.meanAuroc.toFixed(1)}** ± ${s.std.toFixed(1)} (${s.seeds})`;
      })
      .join(' | ')} |`,
    `| training s / class | ${methodNames.map((m) => (summaries[m] as MethodSummary).trainingSecondsPerClass.toFixed(0)).join(' | ')} |`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Rewrites `out/<dataset>/table.md` and merges the dataset into `out/summary.json`. */
export async function writeReport(out: string, dataset: DatasetName): Promise<Summary> {
  const results = await readResults(out, dataset);
  const byMethod = new Map<string, SplitResult[]>();
  for (const r of results) byMethod.set(r.method, [...(byMethod.get(r.method) ?? []), r]);
  const summaries = Object.fromEntries([...byMethod].map(([m, rs]) => [m, summarise(rs)]));
  await writeFile(join(out, dataset, 'table.md'), markdownTable(dataset, summaries));
  const summaryPath = join(out, 'summary.json');
  const summary = JSON.parse(await readFile(summaryPath, 'utf8').catch(() => '{}')) as Summary;
  summary[dataset] = summaries;
  await writeFile(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}
