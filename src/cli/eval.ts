/**
 * `duiad eval`: score a trained model on its dataset's full test set and report AUROC,
 * AUPR and the false-positive rate at 95% true-positive rate.
 */
import { resolve } from 'node:path';

import { type DatasetName, classNames, datasetNames, loadDataset } from '../data/datasets.js';
import { ModelError, NotFoundError } from '../errors.js';
import { loadDuiadModel } from '../methods/duiad/model.js';
import { auroc, aupr, fprAtTpr } from '../metrics/index.js';
import { setNumThreads } from '../torch/index.js';
import type { CliIO } from './io.js';
import { modelFileFrom } from './model-file.js';

/** Parsed flags of `duiad eval`. */
export interface EvalFlags {
  model: string;
  data?: string;
  json?: boolean;
  threads?: number;
}

function trainingSetOf(
  extra: Record<string, unknown>,
  path: string,
): { dataset: DatasetName; dataPath: string; normalClass: number } {
  const { dataset, dataPath, normalClass } = extra;
  const known = datasetNames.includes(dataset as DatasetName);
  const classes = known ? classNames(dataset as DatasetName).length : 0;
  const validClass = Number.isInteger(normalClass) && (normalClass as number) >= 0;
  if (!known || typeof dataPath !== 'string' || !validClass || (normalClass as number) >= classes) {
    throw new ModelError(
      `eval: ${path} does not record a valid dataset, data path and normal class to evaluate on`,
    );
  }
  return { dataset: dataset as DatasetName, dataPath, normalClass: normalClass as number };
}

/** Runs `duiad eval`; returns the exit code. */
export async function evalCommand(flags: EvalFlags, io: CliIO): Promise<number> {
  if (flags.threads !== undefined) setNumThreads(flags.threads);
  const path = await modelFileFrom(flags.model, 'eval');
  const { model, metadata } = await loadDuiadModel(path);
  try {
    const trained = trainingSetOf(metadata.extra, path);
    const dataPath = resolve(flags.data ?? trained.dataPath);

    // Score the whole test set: every class but the normal one is an anomaly.
    const started = performance.now();
    const test = await loadDataset(trained.dataset, 'test', dataPath);
    const isAnomaly = Uint8Array.from(test.labels, (label) =>
      label === trained.normalClass ? 0 : 1,
    );
    const scores = model.score(test);
    const result = {
      dataset: trained.dataset,
      normalClass: trained.normalClass,
      testImages: test.count,
      anomalies: isAnomaly.reduce((a, b) => a + b, 0),
      auroc: auroc(scores, isAnomaly),
      aupr: aupr(scores, isAnomaly),
      fpr95: fprAtTpr(scores, isAnomaly, 0.95),
      trainingSeconds: metadata.trainingSeconds,
      scoringSeconds: (performance.now() - started) / 1000,
    };
    io.stdout(
      flags.json
        ? `${JSON.stringify(result)}\n`
        : `${result.dataset} class ${result.normalClass}: AUROC ${result.auroc.toFixed(4)}, AUPR ${result.aupr.toFixed(4)}, ` +
            `FPR@95%TPR ${result.fpr95.toFixed(4)} over ${result.testImages} test images (${result.anomalies} anomalies)\n`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}
