/**
 * `duiad bench`: the one-class protocol over classes, methods and seeds, resumable, with a
 * Markdown table and summary.json per run folder.
 */
import { resolve } from 'node:path';

import { type Profile, runBench } from '../bench/run.js';
import { writeReport } from '../bench/report.js';
import { type DatasetName, classNames, defaultDataPath } from '../data/datasets.js';
import { UsageError } from '../errors.js';
import { setNumThreads } from '../torch/index.js';
import type { CliIO } from './io.js';

/** Parsed flags of `duiad bench`. */
export interface BenchFlags {
  dataset: DatasetName;
  data?: string;
  methods: string[];
  classes: string;
  seeds: number;
  profile: Profile;
  epochs?: number;
  out: string;
  threads?: number;
}

/** `all` or a comma-separated list of class indices valid for `dataset`. */
export function parseClasses(text: string, dataset: DatasetName): number[] {
  const count = classNames(dataset).length;
  if (text === 'all') return Array.from({ length: count }, (_, k) => k);
  const classes = text.split(',').map((s) => Number(s.trim()));
  const bad = classes.find((k) => !Number.isInteger(k) || k < 0 || k >= count);
  if (bad !== undefined || classes.length === 0) {
    throw new UsageError(
      `--classes must be 'all' or indices from 0 to ${count - 1} (got '${text}')`,
    );
  }
  return [...new Set(classes)];
}

/** Runs `duiad bench`; returns the exit code. */
export async function benchCommand(flags: BenchFlags, io: CliIO): Promise<number> {
  if (flags.threads !== undefined) setNumThreads(flags.threads);
  const plan = {
    dataset: flags.dataset,
    dataPath: resolve(flags.data ?? defaultDataPath(flags.dataset)),
    classes: parseClasses(flags.classes, flags.dataset),
    methods: flags.methods,
    seeds: flags.seeds,
    profile: flags.profile,
    ...(flags.epochs === undefined ? {} : { epochs: flags.epochs }),
    out: flags.out,
  };
  await runBench(plan, (e) => {
    if (e.type === 'skip') io.stderr(`done already: ${e.path}\n`);
    if (e.type === 'split')
      io.stderr(`${plan.dataset} class ${e.normalClass}, ${e.method}, seed ${e.seed}…\n`);
    if (e.type === 'result') {
      const r = e.result;
      io.stderr(
        `  AUROC ${(100 * r.auroc).toFixed(1)} after ${r.trainingSeconds.toFixed(0)} s of training\n`,
      );
    }
  });
  const summary = await writeReport(plan.out, plan.dataset);
  io.stdout(`${JSON.stringify({ [plan.dataset]: summary[plan.dataset] })}\n`);
  return 0;
}
