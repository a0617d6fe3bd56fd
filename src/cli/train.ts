/**
 * `duiad train`: fit DUIAD on a folder of normal images (held-out share calibrated) or on
 * one class of a dataset, and write the model file.
 */
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

import { type DatasetName, classNames, defaultDataPath, loadDataset } from '../data/datasets.js';
import {
  type ImageFailure,
  type InputSpec,
  type ResizeMode,
  defaultInputSpec,
  readImageFolder,
} from '../data/folder.js';
import { normalImages } from '../data/oneclass.js';
import type { ImageSet } from '../data/types.js';
import { defaultDetectorOptions, fit } from '../detect/detector.js';
import { NotFoundError, UsageError } from '../errors.js';
import type {
  DuiadConfig,
  EntropyEstimator,
  EntropyTarget,
  MiEstimator,
  ScoreKind,
} from '../methods/duiad/config.js';
import { fitDuiad } from '../methods/duiad/train.js';
import type { ResNetPreset } from '../models/resnet.js';
import { setNumThreads } from '../torch/index.js';
import type { CliIO } from './io.js';
import { progressReporter } from './progress.js';

/** Parsed flags of `duiad train`. */
export interface TrainFlags {
  dataset?: DatasetName;
  data?: string;
  normalClass?: number;
  out: string;
  /** Image folders only: input size (square), channels, resize mode, pixel limit, subfolders. */
  size?: number;
  channels?: 1 | 3;
  resize?: ResizeMode;
  maxPixels?: number;
  recursive?: boolean;
  /** Share of normal images held out for calibration; target false-positive rate. */
  calibrationShare?: number;
  fpr?: number;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  beta?: number;
  mi?: MiEstimator;
  rotationWeight?: number;
  entropy?: EntropyEstimator;
  entropyOn?: EntropyTarget;
  score?: ScoreKind;
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
    score: flags.score,
    temperature: flags.temperature,
    encoder: flags.encoder,
    k: flags.k,
    seed: flags.seed,
  }).filter(([, v]) => v !== undefined);
  return Object.fromEntries(entries) as Partial<DuiadConfig>;
}

/** Where `--out` puts the model: a path ending `.safetensors` is the file, else a folder. */
export function modelOutput(out: string): { dir: string; file: string } {
  return out.endsWith('.safetensors')
    ? { dir: dirname(out), file: out }
    : { dir: out, file: modelFileIn(out) };
}

/** Flags that only apply to image folders, refused with --dataset. */
const folderOnly = ['size', 'channels', 'resize', 'maxPixels', 'recursive'] as const;

function checkMode(flags: TrainFlags): void {
  if (flags.dataset === undefined) {
    if (flags.data === undefined) {
      throw new UsageError('train: give --data DIR (a folder of images) or --dataset NAME');
    }
    if (flags.normalClass !== undefined) {
      throw new UsageError('train: --normal-class needs --dataset (an image folder is all normal)');
    }
    return;
  }
  if (flags.normalClass === undefined) {
    throw new UsageError(`train: --normal-class is required with --dataset ${flags.dataset}`);
  }
  const given = folderOnly.find((k) => flags[k] !== undefined);
  if (given !== undefined) {
    const flag = `--${given.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new UsageError(`train: ${flag} applies to image folders (--data without --dataset)`);
  }
}

/** Runs `duiad train`; returns the exit code. */
export async function trainCommand(flags: TrainFlags, io: CliIO): Promise<number> {
  if (flags.threads !== undefined) setNumThreads(flags.threads);
  checkMode(flags);
  const output = modelOutput(flags.out);

  // Make the output folder first, so a bad --out fails before minutes of training.
  await mkdir(output.dir, { recursive: true }).catch((error: unknown) => {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new NotFoundError(`train: cannot create output folder '${output.dir}' (${code})`);
  });
  await checkWritable(output.file);
  if (flags.dataset === undefined) return trainOnFolder(flags, output.file, io);
  return trainOnDataset({ ...flags, dataset: flags.dataset }, output.file, io);
}

/** Opens the model file for writing (then removes it if new), so that an unwritable one fails now. */
async function checkWritable(file: string): Promise<void> {
  const existed = await stat(file).then(
    (s) => {
      if (s.isDirectory()) throw new UsageError(`train: --out ${file} is a folder, not a file`);
      return true;
    },
    () => false,
  );
  try {
    await (await open(file, 'a')).close();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new NotFoundError(`train: cannot write the model file '${file}' (${code})`);
  }
  if (!existed) await rm(file, { force: true });
}

async function trainOnDataset(
  flags: TrainFlags & { dataset: DatasetName },
  path: string,
  io: CliIO,
): Promise<number> {
  const dataPath = resolve(flags.data ?? defaultDataPath(flags.dataset));
  const names = classNames(flags.dataset);
  const normalClass = flags.normalClass ?? 0;
  if (normalClass >= names.length) {
    throw new UsageError(
      `--normal-class must be from 0 to ${names.length - 1} for ${flags.dataset} (got ${normalClass})`,
    );
  }

  // Read the dataset and keep the normal class's training images.
  const normal = normalImages(await loadDataset(flags.dataset, 'train', dataPath), normalClass);
  io.stderr(
    `${flags.dataset}: normal class ${normalClass} (${names[normalClass] ?? '?'}), ${normal.count} training images\n`,
  );

  // Fit (and calibrate if asked), then write the model with what `duiad eval` needs.
  const extra = { dataset: flags.dataset, dataPath, normalClass, trainImages: normal.count };
  if (flags.calibrationShare !== undefined) return calibrated(normal, flags, { path, extra, io });
  const progress = progressReporter(io);
  const model = await fitDuiad(normal, configFromFlags(flags), {
    onProgress: progress.onProgress,
  }).finally(progress.close);
  await model.save(path, extra).finally(() => model.dispose());
  return summarise(
    { model: path, trainingSeconds: model.trainingSeconds, trainImages: normal.count },
    flags,
    io,
  );
}

async function trainOnFolder(flags: TrainFlags, path: string, io: CliIO): Promise<number> {
  const dir = resolve(flags.data ?? '.');
  const input = {
    channels: flags.channels ?? defaultInputSpec.channels,
    height: flags.size ?? defaultInputSpec.height,
    width: flags.size ?? defaultInputSpec.width,
    resize: flags.resize ?? defaultInputSpec.resize,
  };
  const limits = flags.maxPixels === undefined ? {} : { maxPixels: flags.maxPixels };
  const folder = await readImageFolder(dir, {
    input,
    recursive: flags.recursive ?? false,
    ...limits,
  });
  for (const f of folder.failures) io.stderr(`warning: skipped ${f.path}: ${f.error}\n`);
  io.stderr(
    `${dir}: ${folder.set.count} images read as ${input.channels}×${input.height}×${input.width} ` +
      `(${input.resize})${folder.failures.length > 0 ? `, ${folder.failures.length} files skipped` : ''}\n`,
  );
  const extra = { data: dir, trainImages: folder.set.count, skippedFiles: folder.failures.length };
  return calibrated(folder.set, flags, { path, extra, io, input, skipped: folder.failures });
}

/** Fits with a held-out calibration share, saves, and prints the summary. */
async function calibrated(
  set: ImageSet,
  flags: TrainFlags,
  out: {
    path: string;
    extra: Record<string, unknown>;
    io: CliIO;
    input?: InputSpec;
    skipped?: ImageFailure[];
  },
): Promise<number> {
  const progress = progressReporter(out.io);
  const detector = await fit(set, {
    duiad: configFromFlags(flags),
    fpr: flags.fpr ?? defaultDetectorOptions.fpr,
    calibrationShare: flags.calibrationShare ?? defaultDetectorOptions.calibrationShare,
    ...(out.input ? { input: out.input } : {}),
    onProgress: progress.onProgress,
  }).finally(progress.close);
  try {
    const { calibration } = detector;
    out.io.stderr(
      `calibrated on ${calibration.scores.length} held-out images: threshold ` +
        `${calibration.threshold.toFixed(6)} at fpr ${calibration.fpr}\n`,
    );
    await detector.save(out.path, out.extra);
    return summarise(
      {
        model: out.path,
        trainingSeconds: detector.model.trainingSeconds,
        trainImages: set.count - calibration.scores.length,
        calibrationImages: calibration.scores.length,
        threshold: calibration.threshold,
        fpr: calibration.fpr,
        skipped: out.skipped ?? [],
      },
      flags,
      out.io,
    );
  } finally {
    detector.dispose();
  }
}

function summarise(
  summary: { model: string; trainingSeconds: number; trainImages: number } & Record<
    string,
    unknown
  >,
  flags: TrainFlags,
  io: CliIO,
): number {
  io.stdout(
    flags.json
      ? `${JSON.stringify(summary)}\n`
      : `model written to ${summary.model} (trained in ${summary.trainingSeconds.toFixed(1)} s)\n`,
  );
  return 0;
}
