/**
 * `duiad report`: scores folders of images with a model and writes one self-contained HTML
 * report (charts, AUROC when labels are given, the most and least anomalous images).
 */
import { stat, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';

import { listFolder } from '../data/folder.js';
import { FormatError, NotFoundError, UsageError } from '../errors.js';
import { buildReport } from '../report/index.js';
import { importLoadScorer } from '../serve/scorer-module.js';
import type { CliIO } from './io.js';
import { modelFileFrom, scorerModuleFromEnv } from './model-file.js';

/** Parsed flags and arguments of `duiad report`. */
export interface ReportFlags {
  model: string;
  normal?: string;
  anomalous?: string;
  out: string;
  top: number;
  json?: boolean;
}

const imageExtensions = new Set(['.png', '.jpg', '.jpeg', '.webp']);

/** The image files (by extension) directly inside `dir`, sorted by name. */
async function imagesIn(dir: string, flag: string): Promise<string[]> {
  const listed = await listFolder(dir).catch((error: unknown) => {
    throw new NotFoundError(`report: ${flag} ${dir} is not a readable folder`, { cause: error });
  });
  const files = listed.filter((path) => imageExtensions.has(extname(path).toLowerCase()));
  if (files.length === 0)
    throw new UsageError(`report: ${flag} ${dir} holds no .png, .jpg, .jpeg or .webp images`);
  return files;
}

/** Files as given; folders as the images inside them. */
async function expandPaths(paths: readonly string[]): Promise<string[]> {
  const expanded: string[][] = [];
  for (const path of paths) {
    const info = await stat(path).catch((error: unknown) => {
      throw new NotFoundError(`report: ${path} does not exist`, { cause: error });
    });
    expanded.push(info.isDirectory() ? await imagesIn(path, 'folder') : [path]);
  }
  return expanded.flat();
}

/** Runs `duiad report`; returns the exit code. */
export async function reportCommand(
  flags: ReportFlags,
  paths: readonly string[],
  io: CliIO,
): Promise<number> {
  if (flags.normal === undefined && flags.anomalous === undefined && paths.length === 0) {
    throw new UsageError('report: give images to score (--normal DIR, --anomalous DIR or PATH...)');
  }
  const modelPath = await modelFileFrom(flags.model, 'report');
  const normal = flags.normal === undefined ? [] : await imagesIn(flags.normal, '--normal');
  const anomalous =
    flags.anomalous === undefined ? [] : await imagesIn(flags.anomalous, '--anomalous');
  const unlabelled = await expandPaths(paths);

  // Load the model, score, render, write.
  const loadScorer = await importLoadScorer(scorerModuleFromEnv());
  const scorer = await loadScorer(modelPath);
  try {
    const built = await buildReport({
      scorer,
      normal,
      anomalous,
      unlabelled,
      top: flags.top,
      onProgress: (e) => {
        if (io.interactive && e.status === 'scoring') io.stderr(`\rscoring ${e.done}/${e.total}`);
        if (io.interactive && e.status === 'mapping') io.stderr('\n');
      },
    });
    if (built.items.length === 0) {
      const first = built.failed[0];
      throw new FormatError(
        `report: none of the ${built.failed.length} images could be scored` +
          (first ? ` (first: ${first.error})` : ''),
      );
    }
    await writeFile(flags.out, built.html).catch((error: unknown) => {
      throw new NotFoundError(`report: cannot write ${flags.out}`, { cause: error });
    });
    const summary = {
      out: flags.out,
      scored: built.items.length,
      failed: built.failed.length,
      flagged: built.items.filter((i) => i.isAnomaly).length,
      auroc: built.auroc,
    };
    const auroc = summary.auroc === null ? '' : `, AUROC ${summary.auroc.toFixed(4)}`;
    io.stdout(
      flags.json
        ? `${JSON.stringify(summary)}\n`
        : `report: ${summary.scored} images scored, ${summary.flagged} flagged, ${summary.failed} failed${auroc}; wrote ${summary.out}\n`,
    );
    return 0;
  } finally {
    scorer.dispose();
  }
}
