/**
 * `duiad train`: fit DUIAD on one class of a dataset and write the model file.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { type DatasetName, classNames, defaultDataPath, loadDataset } from '../data/datasets.js';
import { normalImages } from '../data/oneclass.js';
import { NotFoundError, UsageError } from '../errors.js';
import type {
  DuiadConfig,
  EntropyEstimator,
  EntropyTarget,
  MiEstimator,
} from '../methods/duiad/config.js';
import { fitDuiad } from '../methods/duiad/train.js';
import type { ResNetPreset } from '../models/resnet.js';
import { setNumThreads } from '../torch/index.js';
import type { CliIO } from './io.js';
import { progressReporter } from './progress.js';

/** Parsed flags of `duiad train`. */
export interface TrainFlags {
  dataset: DatasetName;
  data?: string;
  normalClass: number;
  out: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  beta?: number;
  mi?: MiEstimator;
  rotationWeight?: number;
  entropy?: EntropyEstimator;
  entropyOn?: EntropyTarget;
  temperature?: number;
  encoder?: ResNetPreset;
  k?: number;
  seed?: number;
  threads?: number;
  json?: boolean;
}

/** The file a model directory holds. */
export function modelFileIn(dir: string): string {
  return join(dir, 'model.safetensors');
}

function configFromFlags(flags: TrainFlags): Partial<DuiadConfig> {
  const entries = Object.entries({
    epochs: flags.epochs,
    batchSize: flags.batchSize,
    lr: flags.lr,
    beta: flags.beta,
    mi: flags.mi,
    rotationWeight: flags.rotationWeight,
    entropy: flags.entropy,
    entropyOn: flags.entropyOn,
    temperature: flags.temperature,
    encoder: flags.encoder,
    k: flags.k,
    seed: flags.seed,
  }).filter(([, v]) => v !== undefined);
  return Object.fromEntries(entries) as Partial<DuiadConfig>;
}

/** Runs `duiad train`; returns the exit code. */
export async function trainCommand(flags: TrainFlags, io: CliIO): Promise<number> {
  if (flags.threads !== undefined) setNumThreads(flags.threads);
  const dataPath = resolve(flags.data ?? defaultDataPath(flags.dataset));
  const names = classNames(flags.dataset);
  if (flags.normalClass >= names.length) {
    throw new UsageError(
      `--normal-class must be from 0 to ${names.length - 1} for ${flags.dataset} (got ${flags.normalClass})`,
    );
  }

  // Make the output folder first, so a bad --out fails before minutes of training.
  await mkdir(flags.out, { recursive: true }).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new NotFoundError(`train: cannot create output folder '${flags.out}' (${code})`);
  });

  // Read the dataset and keep the normal class's training images.
  const normal = normalImages(
    await loadDataset(flags.dataset, 'train', dataPath),
    flags.normalClass,
  );
  io.stderr(
    `${flags.dataset}: normal class ${flags.normalClass} (${names[flags.normalClass] ?? '?'}), ${normal.count} training images\n`,
  );

  // Fit, then write the model with what `duiad eval` needs to find its test set.
  const progress = progressReporter(io);
  const model = await fitDuiad(normal, configFromFlags(flags), {
    onProgress: progress.onProgress,
  }).finally(progress.close);
  const path = modelFileIn(flags.out);
  const extra = { dataset: flags.dataset, dataPath, normalClass: flags.normalClass };
  await model.save(path, { ...extra, trainImages: normal.count }).finally(() => model.dispose());
  const summary = {
    model: path,
    trainingSeconds: model.trainingSeconds,
    trainImages: normal.count,
  };
  io.stdout(
    flags.json
      ? `${JSON.stringify(summary)}\n`
      : `model written to ${path} (trained in ${summary.trainingSeconds.toFixed(1)} s)\n`,
  );
  return 0;
}
