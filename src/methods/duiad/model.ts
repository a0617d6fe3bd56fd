/**
 * A fitted DUIAD model: network, configuration, preprocessing and the normal training
 * features the kNN score compares against. Saved as one safetensors file whose metadata
 * holds everything but the weights (and, from format version 2, the input spec, the
 * calibration and the anomaly-map scale); nothing in a model file is ever executed.
 *
 * Files of format version 1 still load: their input spec is their preprocessing geometry,
 * stretched (`fill`), and they have no calibration or map scale, so they can be evaluated
 * but not used to score images (`loadScorer` refuses them, naming the file).
 *
 * From format version 3 a file carries a SHA-256 checksum of its metadata and tensors: a file
 * damaged or edited after saving is refused even when it is otherwise consistent.
 */
import { createHash } from 'node:crypto';

import { type InputSpec, checkInputSpec } from '../../data/folder.js';
import { checkImageSet } from '../../data/oneclass.js';
import type { ImageSet } from '../../data/types.js';
import { ModelError, ValueError } from '../../errors.js';
import { formatNumber } from '../../report/svg.js';
import {
  Generator,
  type Tensor,
  engineVersion,
  loadSafetensors,
  normalize,
  saveSafetensors,
  tidy,
} from '../../torch/index.js';
import type { FittedDetector } from '../detector.js';
import { type DuiadConfig, resolveDuiadConfig } from './config.js';
import { DuiadNetwork } from './network.js';
import { type Preprocessing, checkGeometry, encodeAll } from '../preprocess.js';
import { knnScores } from '../knn.js';
import { rotationScores } from './rotation-score.js';
import { type Calibration, checkCalibration } from '../calibration.js';
import { type MapScale, checkMapScale } from '../occlusion.js';

/** Identifies duiad model files and their layout version. */
export const modelFormat = 'duiad-model';
export const modelFormatVersion = 3;
/**
 * Versions this duiad reads: 1 (no input spec, calibration or map scale), 2 (no checksum)
 * and 3.
 */
export const readableFormatVersions: readonly number[] = [1, 2, 3];

/**
 * SHA-256 (hex) over the `duiad` metadata text and every tensor's name, dtype, shape and
 * bytes, in name order.
 */
export function modelChecksum(tensors: ReadonlyMap<string, Tensor>, metadataText: string): string {
  const hash = createHash('sha256').update(metadataText);
  for (const [name, t] of [...tensors].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const data = t.data();
    hash.update(`\0${name}\0${t.dtype}\0${t.shape.join(',')}\0`);
    hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  return hash.digest('hex');
}

/** What a DuiadModel is made of. */
export interface DuiadModelParts {
  net: DuiadNetwork;
  config: DuiadConfig;
  prep: Preprocessing;
  /** Encoder features of the normal training images, `[count, features]`. */
  features: Tensor;
  /**
   * Whether `features` are already L2-normalised (as a model file stores them), so that a
   * loaded model scores bit for bit like the one that was saved.
   */
  normalised?: boolean;
  centre: Tensor | null;
  trainingSeconds: number;
  /** Standardisation of the `combined` score; required for it, ignored otherwise. */
  scoreStats?: ScoreStats | null;
}

/** Mean and spread of the kNN and rotation scores over the normal training images. */
export interface ScoreStats {
  knnMean: number;
  knnStd: number;
  rotationMean: number;
  rotationStd: number;
}

/** The metadata stored in a model file under the key `duiad` (as JSON). */
export interface ModelMetadata {
  format: typeof modelFormat;
  formatVersion: number;
  method: 'duiad';
  config: DuiadConfig;
  preprocessing: Preprocessing;
  /** What images are converted to before scoring (version 2; derived for version 1). */
  input: InputSpec;
  /** Held-out normal scores and the threshold; null if the model was not calibrated. */
  calibration: Calibration | null;
  /** How occlusion maps are made and scaled; null if not measured. */
  anomalyMaps: MapScale | null;
  trainingSeconds: number;
  /** Versions of what wrote the file: `duiad`, `libtorch`, and e.g. `sharp`. */
  versions: Record<string, string>;
  extra: Record<string, unknown>;
  /** For the `combined` score (format 3); absent otherwise. */
  scoreStats?: ScoreStats;
}

/** The optional parts of a model file beyond the network and training features. */
export interface ModelSections {
  /** Default: the preprocessing geometry, stretched (`fill`), 1 or 3 channels. */
  input?: InputSpec;
  calibration?: Calibration | null;
  anomalyMaps?: MapScale | null;
  /** Added to the `duiad` and `libtorch` versions. */
  versions?: Record<string, string>;
}

/** Package version, kept in step with package.json by a test. */
export const duiadVersion = '0.1.0';

export class DuiadModel implements FittedDetector {
  readonly method = 'duiad';
  readonly net: DuiadNetwork;
  readonly config: DuiadConfig;
  readonly prep: Preprocessing;
  readonly trainingSeconds: number;
  /** Normalised training features `[count, features]`. */
  readonly bank: Tensor;
  readonly centre: Tensor | null;
  readonly scoreStats: ScoreStats | null;

  constructor(parts: DuiadModelParts) {
    this.net = parts.net.eval();
    this.config = parts.config;
    this.prep = parts.prep;
    this.trainingSeconds = parts.trainingSeconds;
    if (parts.normalised) {
      this.bank = parts.features;
    } else {
      this.bank = tidy(() => normalize(parts.features));
      parts.features.dispose();
    }
    this.centre = parts.centre;
    this.scoreStats = parts.scoreStats ?? null;
    if (this.config.score === 'combined' && this.scoreStats === null) {
      throw new ModelError("model: the 'combined' score needs the training score statistics");
    }
  }

  /** Normalised encoder features `[count, features]` of `images`. */
  features(images: ImageSet): Tensor {
    checkImageSet(images, 'score');
    checkGeometry(images, this.prep, 'score');
    const raw = encodeAll(this.net, images, { prep: this.prep });
    const out = tidy(() => normalize(raw));
    raw.dispose();
    return out;
  }

  /**
   * Anomaly scores, one per image. `knn`: 1 − mean cosine similarity to the k nearest normal
   * training features; `rotation`: see `rotationScores`.
   */
  score(images: ImageSet): Float32Array {
    if (images.count === 0) return new Float32Array(0);
    if (this.config.score === 'rotation') {
      checkImageSet(images, 'score');
      checkGeometry(images, this.prep, 'score');
      return rotationScores(this.net, images, this.prep);
    }
    const f = this.features(images);
    let knn: Float32Array;
    try {
      knn = knnScores(f, this.bank, this.config.k);
    } finally {
      f.dispose();
    }
    const stats = this.scoreStats;
    if (this.config.score !== 'combined' || stats === null) return knn;
    const rotation = rotationScores(this.net, images, this.prep);
    return knn.map(
      (v, i) =>
        (v - stats.knnMean) / stats.knnStd +
        ((rotation[i] as number) - stats.rotationMean) / stats.rotationStd,
    );
  }

  /** The input spec of a model trained on images already of its preprocessing geometry. */
  defaultInput(): InputSpec {
    const { channels, height, width } = this.prep;
    if (channels !== 1 && channels !== 3) {
      throw new ValueError(`model: ${channels}-channel images have no input spec (use 1 or 3)`);
    }
    return { channels, height, width, resize: 'fill' };
  }

  /** Writes weights, features and metadata (with `sections`) to the safetensors file `path`. */
  async save(
    path: string,
    extra: Record<string, unknown> = {},
    sections: ModelSections = {},
  ): Promise<void> {
    const tensors = new Map<string, Tensor>();
    for (const [name, t] of this.net.stateDict()) tensors.set(`net.${name}`, t);
    tensors.set('score.bank', this.bank);
    if (this.centre) tensors.set('score.centre', this.centre);
    const metadata: ModelMetadata = {
      format: modelFormat,
      formatVersion: modelFormatVersion,
      method: 'duiad',
      config: this.config,
      preprocessing: this.prep,
      input: sections.input ?? this.defaultInput(),
      calibration: sections.calibration ?? null,
      anomalyMaps: sections.anomalyMaps ?? null,
      trainingSeconds: this.trainingSeconds,
      versions: { ...sections.versions, duiad: duiadVersion, libtorch: engineVersion() },
      extra,
      ...(this.scoreStats ? { scoreStats: this.scoreStats } : {}),
    };
    const text = JSON.stringify(metadata);
    await saveSafetensors(path, tensors, { duiad: text, sha256: modelChecksum(tensors, text) });
  }

  dispose(): void {
    this.net.dispose();
    this.bank.dispose();
    this.centre?.dispose();
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

const finiteNumbers = (v: unknown, length: number): v is number[] =>
  Array.isArray(v) &&
  v.length === length &&
  v.every((x) => typeof x === 'number' && Number.isFinite(x));

function checkPreprocessing(p: unknown, path: string): Preprocessing {
  const bad = (what: string): never => {
    throw new ModelError(`model: ${path} has invalid preprocessing metadata (${what})`);
  };
  if (!isRecord(p)) return bad('missing');
  const { channels, height, width, mean, std } = p;
  for (const [name, v] of Object.entries({ channels, height, width })) {
    if (!Number.isInteger(v) || (v as number) <= 0 || (v as number) > 4096)
      bad(`${name} ${String(v)}`);
  }
  if (!finiteNumbers(mean, channels as number)) bad('mean is not one finite number per channel');
  if (!finiteNumbers(std, channels as number) || !std.every((s) => s > 1e-6)) {
    bad('std is not one positive number per channel');
  }
  return p as unknown as Preprocessing;
}

function parseMetadata(raw: string | undefined, path: string): ModelMetadata {
  if (raw === undefined) {
    throw new ModelError(`model: ${path} is not a duiad model (no 'duiad' metadata)`);
  }
  let meta: unknown;
  try {
    meta = JSON.parse(raw);
  } catch {
    throw new ModelError(`model: ${path} has corrupt metadata (not JSON)`);
  }
  if (!isRecord(meta))
    throw new ModelError(`model: ${path} has metadata that is not a JSON object`);
  if (meta['format'] !== modelFormat || meta['method'] !== 'duiad') {
    throw new ModelError(
      `model: ${path} is a '${String(meta['format'])}/${String(meta['method'])}' file, expected '${modelFormat}/duiad'`,
    );
  }
  const version = meta['formatVersion'];
  if (typeof version !== 'number' || !readableFormatVersions.includes(version)) {
    throw new ModelError(
      `model: ${path} has format version ${String(version)}; this duiad reads versions ${readableFormatVersions.join(', ')}`,
    );
  }
  const prep = checkPreprocessing(meta['preprocessing'], path);
  if (!isRecord(meta['config'])) throw new ModelError(`model: ${path} has no configuration`);
  if (!isRecord(meta['extra']))
    throw new ModelError(`model: ${path} has no 'extra' metadata object`);
  if (typeof meta['trainingSeconds'] !== 'number') {
    throw new ModelError(`model: ${path} has no training time`);
  }
  if (!isRecord(meta['versions'])) throw new ModelError(`model: ${path} has no versions`);
  checkScoreStats(meta, path);
  if (version === 1) {
    const { channels, height, width } = prep;
    const input: InputSpec = { channels: channels === 1 ? 1 : 3, height, width, resize: 'fill' };
    return { ...meta, input, calibration: null, anomalyMaps: null } as unknown as ModelMetadata;
  }
  return { ...meta, ...checkSections(meta, prep, path) } as unknown as ModelMetadata;
}

/** A `combined` model's score statistics must be four finite numbers, spreads above 0. */
function checkScoreStats(meta: Record<string, unknown>, path: string): void {
  const stats = meta['scoreStats'];
  const combined = isRecord(meta['config']) && meta['config']['score'] === 'combined';
  if (stats === undefined && !combined) return;
  const bad = (why: string): never => {
    throw new ModelError(`model: ${path} has invalid score statistics (${why})`);
  };
  if (!isRecord(stats)) return bad('missing');
  for (const key of ['knnMean', 'knnStd', 'rotationMean', 'rotationStd']) {
    const v = stats[key];
    if (typeof v !== 'number' || !Number.isFinite(v)) bad(`${key} is not a finite number`);
    if (key.endsWith('Std') && (v as number) <= 0) bad(`${key} is not positive`);
  }
}

/** Checks the input spec, calibration and map scale of a version 2 file. */
function checkSections(
  meta: Record<string, unknown>,
  prep: Preprocessing,
  path: string,
): Pick<ModelMetadata, 'input' | 'calibration' | 'anomalyMaps'> {
  return withPath(path, () => {
    const input = meta['input'] as InputSpec;
    if (!isRecord(input)) throw new ModelError('no input spec');
    checkInputSpec(input, 'input spec');
    if (
      input.channels !== prep.channels ||
      input.height !== prep.height ||
      input.width !== prep.width
    ) {
      throw new ModelError(
        `input spec ${input.channels}×${input.height}×${input.width} does not match ` +
          `the preprocessing ${prep.channels}×${prep.height}×${prep.width}`,
      );
    }
    const rawCalibration = meta['calibration'];
    const calibration = rawCalibration === null ? null : checkCalibration(rawCalibration);
    const rawMaps = meta['anomalyMaps'];
    const anomalyMaps = rawMaps === null ? null : checkMapScale(rawMaps, input);
    return { input, calibration, anomalyMaps };
  });
}

/** Runs `fn`, turning its ModelError or ValueError into a ModelError that names `path`. */
function withPath<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ModelError || error instanceof ValueError) {
      throw new ModelError(`model: ${path}: ${error.message}`);
    }
    throw error;
  }
}

/** Loads a model written by `DuiadModel.save`; ModelError if it is corrupt or of another kind. */
export async function loadDuiadModel(
  path: string,
): Promise<{ model: DuiadModel; metadata: ModelMetadata }> {
  const { tensors, metadata: raw } = await loadSafetensors(path);
  try {
    const metadata = parseMetadata(raw['duiad'], path);
    const config = withPath(path, () => resolveDuiadConfig(metadata.config));
    const prep = metadata.preprocessing;
    const net = new DuiadNetwork(
      {
        encoder: config.encoder,
        inChannels: prep.channels,
        projectionDim: config.projectionDim,
        channelsLast: config.channelsLast,
      },
      new Generator(0),
    );
    let model: DuiadModel;
    try {
      model = withPath(path, () => assemble(net, tensors, { config, metadata }));
    } catch (error) {
      net.dispose();
      throw error;
    }
    // Checked last, so a file that is wrong in a nameable way gets that message instead.
    // A checksum, when there is one, is always checked; from version 3 it must be there.
    if (metadata.formatVersion >= 3 || raw['sha256'] !== undefined) {
      const sum = raw['sha256'];
      const problem =
        sum === undefined
          ? 'has no checksum'
          : sum !== modelChecksum(tensors, raw['duiad'] ?? '')
            ? 'fails its checksum: it was changed or damaged after it was saved'
            : null;
      if (problem !== null) {
        model.dispose();
        throw new ModelError(`model: ${path} ${problem}`);
      }
    }
    return { model, metadata };
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

/** Fills `net` from the file's tensors and builds the model around it. */
function assemble(
  net: DuiadNetwork,
  tensors: ReadonlyMap<string, Tensor>,
  { config, metadata }: { config: DuiadConfig; metadata: ModelMetadata },
): DuiadModel {
  const prefixed = [...tensors].filter(([k]) => k.startsWith('net.'));
  net.loadStateDict(new Map(prefixed.map(([k, t]) => [k.slice(4), t])));
  const bank = tensors.get('score.bank');
  const f = net.encoder.features;
  if (!bank || bank.rank !== 2 || bank.shape[1] !== f || bank.shape[0] === 0) {
    throw new ModelError(`no valid 'score.bank' [count, ${f}]`);
  }
  if (bank.dtype !== 'float32')
    throw new ModelError(`'score.bank' is ${bank.dtype}, expected float32`);
  const unknown = [...tensors.keys()].find(
    (k) => !k.startsWith('net.') && k !== 'score.bank' && k !== 'score.centre',
  );
  if (unknown !== undefined) throw new ModelError(`unexpected tensor '${unknown}'`);
  const centreIn = tensors.get('score.centre');
  if (centreIn && (centreIn.rank !== 1 || centreIn.shape[0] !== f)) {
    throw new ModelError(
      `'score.centre' has shape [${centreIn.shape.join(', ')}], expected [${f}]`,
    );
  }
  for (const [name, t] of tensors) {
    if (!t.toFloat32().every(Number.isFinite))
      throw new ModelError(`'${name}' holds NaN or infinite values`);
  }
  // The stored features are L2-normalised (length 1, or 0 for an all-zero feature, as a
  // blank image can give); rows of another length would skew every score.
  const norms = tidy(() => bank.mul(bank).sum([1]).sqrt().toFloat32());
  const row = norms.findIndex((n) => Math.abs(n - 1) > 1e-3 && n > 1e-6);
  if (row >= 0) {
    throw new ModelError(
      // Rounded: the sum of squares differs in its last bits across CPUs.
      `'score.bank' row ${row} has length ${formatNumber(norms[row]!)}, expected 1 (normalised) or 0`,
    );
  }
  const centre = tensors.get('score.centre')?.clone() ?? null;
  const prep = metadata.preprocessing;
  const trainingSeconds = metadata.trainingSeconds;
  return new DuiadModel({
    net,
    config,
    prep,
    features: bank.clone(),
    normalised: true,
    centre,
    trainingSeconds,
    scoreStats: metadata.scoreStats ?? null,
  });
}
