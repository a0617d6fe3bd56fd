/**
 * The practical detector: DUIAD fitted on a folder of normal images (or an ImageSet), with a
 * share of them held out to calibrate a threshold and conformal p-values, and the scale of
 * occlusion maps measured on the same held-out images. One safetensors file holds it all.
 */
import { stat } from 'node:fs/promises';

import sharp from 'sharp';

import {
  type FolderOptions,
  type ImageFailure,
  type InputSpec,
  type ReadImageOptions,
  checkInputSpec,
  decodeImage,
  defaultInputSpec,
  failureOf,
  listFolder,
  packImages,
  readImageFile,
  readImageFolder,
} from '../data/folder.js';
import { subset } from '../data/oneclass.js';
import type { ImageSet } from '../data/types.js';
import { DuiadError, ModelError, NotFoundError, UsageError } from '../errors.js';
import {
  type Calibration,
  calibrate,
  calibrationSplit,
  checkCalibrationSize,
  exceeds,
  pValue,
} from '../methods/calibration.js';
import type { FitOptions } from '../methods/detector.js';
import type { DuiadConfig } from '../methods/duiad/config.js';
import { type DuiadModel, duiadVersion, loadDuiadModel } from '../methods/duiad/model.js';
import { fitDuiad } from '../methods/duiad/train.js';
import {
  type MapScale,
  heat,
  mapScaleOf,
  occlusionGeometry,
  occlusionMaps,
} from '../methods/occlusion.js';
import { engineVersion } from '../torch/index.js';
import { overlayPng } from './maps.js';
import type {
  AnomalyMap,
  EncodedImage,
  ScoredImage,
  Scorer,
  ScorerInfo,
  UnscoredImage,
} from './types.js';

/** Options of `fit`; every default is in `defaultDetectorOptions`. */
export interface DetectorOptions extends FolderOptions, FitOptions {
  /** Target false-positive rate the threshold is set at, in (0, 1). */
  fpr?: number;
  /** Share of the normal images held out for calibration, in (0, 1). */
  calibrationShare?: number;
  /** DUIAD settings (see `defaultDuiadConfig`); its `seed` also seeds the held-out split. */
  duiad?: Partial<DuiadConfig>;
  /** For folders: what images are converted to (default 3 channels, 32×32, `fill`). */
  input?: Partial<InputSpec>;
  /** Held-out images whose occlusion maps set the map colour scale. */
  mapImages?: number;
}

/** Defaults of `fit`. */
export const defaultDetectorOptions = {
  fpr: 0.05,
  calibrationShare: 0.1,
  mapImages: 16,
} as const;

/** A detector's parts, as fitted or loaded. */
interface DetectorParts {
  model: DuiadModel;
  input: InputSpec;
  calibration: Calibration;
  mapScale: MapScale;
  versions: Record<string, string>;
  skipped?: ImageFailure[];
  /** Limits applied when decoding images to score (default: the readers' defaults). */
  limits?: ReadImageOptions;
}

/** Images scored per call into the engine when scoring many files. */
const chunkSize = 256;

/**
 * A fitted, calibrated detector. It implements `Scorer` (the interface the CLI, the HTTP
 * server and the report use) and also scores ImageSets and files directly.
 */
export class Detector implements Scorer {
  readonly model: DuiadModel;
  readonly input: InputSpec;
  readonly calibration: Calibration;
  readonly mapScale: MapScale;
  readonly info: ScorerInfo;
  /** Files of the training folder that could not be read (empty when loaded from a file). */
  readonly skipped: ImageFailure[];
  /** Limits applied when decoding images to score. */
  readonly readLimits: ReadImageOptions;

  constructor(parts: DetectorParts) {
    this.model = parts.model;
    this.input = parts.input;
    this.calibration = parts.calibration;
    this.mapScale = parts.mapScale;
    this.skipped = parts.skipped ?? [];
    this.readLimits = parts.limits ?? {};
    this.info = {
      method: 'duiad',
      channels: parts.input.channels,
      height: parts.input.height,
      width: parts.input.width,
      threshold: parts.calibration.threshold,
      fpr: parts.calibration.fpr,
      calibrationImages: parts.calibration.scores.length,
      versions: parts.versions,
    };
  }

  /** Verdicts for the images of `set` (of the input's geometry), named by `paths` or `#i`. */
  scoreSet(set: ImageSet, paths?: readonly string[]): ScoredImage[] {
    const scores = this.model.score(set);
    return Array.from(scores, (score, i) => this.verdict(paths?.[i] ?? `#${i}`, score));
  }

  private verdict(path: string, score: number): ScoredImage {
    const { threshold } = this.calibration;
    return {
      path,
      score,
      pValue: pValue(this.calibration, score),
      isAnomaly: exceeds(score, threshold),
      threshold,
    };
  }

  /** Decodes each image to the model's input; failures stay in place as UnscoredImages. */
  private async decode(
    images: readonly EncodedImage[],
  ): Promise<Array<Uint8Array | UnscoredImage>> {
    const options = { ...this.readLimits, input: this.input };
    return Promise.all(
      images.map((image) =>
        decodeImage(image.data, image.path, options).catch((error: unknown) =>
          error instanceof DuiadError
            ? failureOf(image.path, error)
            : // One image must not fail the batch, whatever went wrong with it.
              {
                path: image.path,
                code: 'E_FORMAT' as const,
                error: `image: ${image.path} could not be decoded (${String(error)})`,
              },
        ),
      ),
    );
  }

  async scoreEncoded(images: readonly EncodedImage[]): Promise<Array<ScoredImage | UnscoredImage>> {
    const decoded = await this.decode(images);
    const good = decoded.flatMap((d, i) => (d instanceof Uint8Array ? [i] : []));
    const pixels = good.map((i) => decoded[i] as Uint8Array);
    const scored = this.scoreSet(
      packImages(pixels, this.input),
      good.map((i) => (images[i] as EncodedImage).path),
    );
    let j = 0;
    return decoded.map((d) => (d instanceof Uint8Array ? (scored[j++] as ScoredImage) : d));
  }

  async mapEncoded(images: readonly EncodedImage[]): Promise<Array<AnomalyMap | UnscoredImage>> {
    const decoded = await this.decode(images);
    const good = decoded.filter((d): d is Uint8Array => d instanceof Uint8Array);
    const maps = this.occlusion(packImages(good, this.input));
    let j = 0;
    return Promise.all(
      decoded.map(async (d, i) => {
        if (!(d instanceof Uint8Array)) return d;
        const map = maps[j++] as Float32Array;
        const png = await overlayPng(d, heat(map, this.mapScale), this.input);
        return { path: (images[i] as EncodedImage).path, png };
      }),
    );
  }

  /** Raw occlusion maps `[height, width]` of every image of `set`. */
  occlusion(set: ImageSet): Float32Array[] {
    return occlusionMaps(set, (s) => this.model.score(s), {
      patch: this.mapScale.patch,
      stride: this.mapScale.stride,
      fill: this.model.prep.mean.map((m) => m * 255),
    });
  }

  /**
   * Scores files and folders (a folder's files, sorted; its subfolders with `recursive`).
   * Unreadable inputs come back as UnscoredImages in their place.
   */
  async scorePaths(
    paths: readonly string[],
    options: { recursive?: boolean } = {},
  ): Promise<Array<ScoredImage | UnscoredImage>> {
    const out: Array<ScoredImage | UnscoredImage> = [];
    for await (const chunk of this.readChunks(paths, options)) {
      out.push(...(await this.scoreEncodedOrFailed(chunk)));
    }
    return out;
  }

  /** Scores a chunk where some entries already failed to be read. */
  async scoreEncodedOrFailed(
    chunk: ReadonlyArray<EncodedImage | UnscoredImage>,
  ): Promise<Array<ScoredImage | UnscoredImage>> {
    const readable = chunk.filter((c): c is EncodedImage => 'data' in c);
    const scored = await this.scoreEncoded(readable);
    let j = 0;
    return chunk.map((c) => ('data' in c ? (scored[j++] as ScoredImage | UnscoredImage) : c));
  }

  /** The files behind `paths`, read in chunks; unreadable ones as UnscoredImages. */
  async *readChunks(
    paths: readonly string[],
    options: { recursive?: boolean } = {},
  ): AsyncGenerator<Array<EncodedImage | UnscoredImage>> {
    const files = await expandPaths(paths, options.recursive ?? false);
    for (let start = 0; start < files.length; start += chunkSize) {
      yield Promise.all(
        files.slice(start, start + chunkSize).map(async (f) => {
          if (typeof f !== 'string') return f;
          try {
            return { path: f, data: await readImageFile(f, this.readLimits) };
          } catch (error) {
            return failureOf(f, error);
          }
        }),
      );
    }
  }

  /** Writes the detector to one safetensors file (weights, features, calibration, maps). */
  async save(path: string, extra: Record<string, unknown> = {}): Promise<void> {
    await this.model.save(path, extra, {
      input: this.input,
      calibration: this.calibration,
      anomalyMaps: this.mapScale,
      versions: this.info.versions,
    });
  }

  /** Frees the model's tensors; the detector cannot score afterwards. */
  dispose(): void {
    this.model.dispose();
  }
}

/** Files named by `paths`: folders expanded (sorted), missing paths as UnscoredImages. */
async function expandPaths(
  paths: readonly string[],
  recursive: boolean,
): Promise<Array<string | UnscoredImage>> {
  const out: Array<string | UnscoredImage> = [];
  for (const path of paths) {
    const info = await stat(path).catch(() => null);
    if (info?.isDirectory()) {
      try {
        const unreadable: UnscoredImage[] = [];
        const files = await listFolder(path, recursive, unreadable);
        if (files.length === 0 && unreadable.length === 0) {
          out.push({ path, code: 'E_NOT_FOUND', error: `folder: ${path} holds no files` });
        }
        out.push(...files, ...unreadable);
      } catch (error) {
        out.push(failureOf(path, error));
      }
    } else {
      out.push(path);
    }
  }
  return out;
}

/** Versions of the libraries that shape a detector's results, for its model file. */
function detectorVersions(): Record<string, string> {
  return {
    duiad: duiadVersion,
    libtorch: engineVersion(),
    sharp: sharp.versions.sharp ?? 'unknown',
    node: process.versions.node,
  };
}

/**
 * Fits a detector on normal images: a folder path (read with `options.input`) or an
 * ImageSet. Holds out `calibrationShare` of them (seeded), fits DUIAD on the rest, and
 * calibrates the threshold at `fpr` on the held-out scores.
 */
export async function fit(
  source: string | ImageSet,
  options: DetectorOptions = {},
): Promise<Detector> {
  const isSet = typeof source === 'object' && source !== null && 'images' in source;
  if (typeof source !== 'string' && !isSet) {
    throw new UsageError(
      `fit: give a folder path or an ImageSet of normal images (got ${describeValue(source)})`,
    );
  }
  if (typeof options !== 'object' || options === null) {
    throw new UsageError(`fit: options must be an object (got ${describeValue(options)})`);
  }
  const fpr = options.fpr ?? defaultDetectorOptions.fpr;
  const share = options.calibrationShare ?? defaultDetectorOptions.calibrationShare;
  const seed = options.duiad?.seed ?? 0;

  // Read the images.
  const { set, input, skipped } = await readSource(source, options);

  // Hold out the calibration images; check there are enough before training.
  const split = calibrationSplit(set.count, share, seed);
  checkCalibrationSize(split.calibration.length, fpr);
  const held = subset(set, split.calibration);

  // Fit on the rest, then calibrate and scale the maps on the held-out images.
  const model = await fitDuiad(subset(set, split.fit), options.duiad ?? {}, options);
  try {
    const calibration = calibrate(model.score(held), fpr);
    const geometry = occlusionGeometry(input.height, input.width);
    const scaleOnly = new Detector({
      model,
      input,
      calibration,
      mapScale: { ...geometry, low: 0, high: 1 },
      versions: {},
    });
    const mapCount = Math.min(held.count, options.mapImages ?? defaultDetectorOptions.mapImages);
    const maps = scaleOnly.occlusion(
      subset(
        held,
        Array.from({ length: mapCount }, (_, i) => i),
      ),
    );
    const mapScale = mapScaleOf(maps, geometry);
    return new Detector({
      model,
      input,
      calibration,
      mapScale,
      versions: detectorVersions(),
      skipped,
    });
  } catch (error) {
    model.dispose();
    throw error;
  }
}

async function readSource(
  source: string | ImageSet,
  options: DetectorOptions,
): Promise<{ set: ImageSet; input: InputSpec; skipped: ImageFailure[] }> {
  if (typeof source === 'string') {
    const input = { ...defaultInputSpec, ...options.input };
    checkInputSpec(input, 'fit');
    const folder = await readImageFolder(source, { ...options, input });
    return { set: folder.set, input, skipped: folder.failures };
  }
  const { channels, height, width } = source;
  const input = { channels, height, width, resize: options.input?.resize ?? 'fill' } as InputSpec;
  checkInputSpec(input, 'fit');
  return { set: source, input, skipped: [] };
}

/**
 * Loads a detector from a model file written by `Detector.save` (or `duiad train`).
 * NotFoundError if it cannot be read, FormatError if it is not safetensors, ModelError if it
 * is not a calibrated duiad model (a format version 1 file has no calibration).
 */
export async function load(path: string, limits: ReadImageOptions = {}): Promise<Detector> {
  // Anything but a regular file (a FIFO, a device) could block a read forever.
  const info = await stat(path).catch((error: unknown) => {
    throw new NotFoundError(`model: ${path} does not exist`, { cause: error });
  });
  if (!info.isFile()) throw new NotFoundError(`model: ${path} is not a model file`);
  const { model, metadata } = await loadDuiadModel(path);
  const { calibration, anomalyMaps: mapScale, input, versions } = metadata;
  if (calibration === null || mapScale === null) {
    model.dispose();
    throw new ModelError(
      `model: ${path} has no calibration (format version ${metadata.formatVersion}); ` +
        'train it with duiad train --data DIR, or with --calibration-share',
    );
  }
  return new Detector({ model, input, calibration, mapScale, versions, limits });
}

/** Scores image files and folders, or an ImageSet, with `detector`. */
export async function score(
  detector: Detector,
  images: readonly string[] | ImageSet,
): Promise<Array<ScoredImage | UnscoredImage>> {
  if (!(detector instanceof Detector)) {
    throw new UsageError(`score: the first argument must be a fitted or loaded detector`);
  }
  if (Array.isArray(images)) {
    const bad = images.find((p) => typeof p !== 'string');
    if (bad !== undefined) {
      throw new UsageError(`score: paths must be strings (got ${describeValue(bad)})`);
    }
    return detector.scorePaths(images);
  }
  if (typeof images === 'object' && images !== null && 'images' in images) {
    return detector.scoreSet(images);
  }
  throw new UsageError(
    `score: give an array of image paths or an ImageSet (got ${describeValue(images)})`,
  );
}

/** A short description of a value for error messages: its type, and strings quoted. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string '${value.slice(0, 80)}'`;
  return typeof value;
}

/** Writes `detector` to the safetensors file `path`. */
export function save(detector: Detector, path: string): Promise<void> {
  return detector.save(path);
}
