/**
 * A fitted DUIAD model: network, configuration, preprocessing and the normal training
 * features the kNN score compares against. Saved as one safetensors file whose metadata
 * holds everything but the weights; nothing in a model file is ever executed.
 */
import type { ImageSet } from '../../data/types.js';
import { ModelError, ValueError } from '../../errors.js';
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
import { DuiadNetwork, encodeAll } from './network.js';
import { type Preprocessing, checkGeometry } from './preprocess.js';
import { knnScores } from './score.js';

/** Identifies duiad model files and their layout version. */
export const modelFormat = 'duiad-model';
export const modelFormatVersion = 1;

/** What a DuiadModel is made of. */
export interface DuiadModelParts {
  net: DuiadNetwork;
  config: DuiadConfig;
  prep: Preprocessing;
  /** Encoder features of the normal training images, `[count, features]`. */
  features: Tensor;
  centre: Tensor | null;
  trainingSeconds: number;
}

/** The metadata stored in a model file under the key `duiad` (as JSON). */
export interface ModelMetadata {
  format: typeof modelFormat;
  formatVersion: number;
  method: 'duiad';
  config: DuiadConfig;
  preprocessing: Preprocessing;
  trainingSeconds: number;
  versions: { duiad: string; libtorch: string };
  extra: Record<string, unknown>;
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

  constructor(parts: DuiadModelParts) {
    this.net = parts.net.eval();
    this.config = parts.config;
    this.prep = parts.prep;
    this.trainingSeconds = parts.trainingSeconds;
    this.bank = tidy(() => normalize(parts.features));
    parts.features.dispose();
    this.centre = parts.centre;
  }

  /** Normalised encoder features `[count, features]` of `images`. */
  features(images: ImageSet): Tensor {
    checkGeometry(images, this.prep, 'score');
    const raw = encodeAll(this.net, images, this.prep);
    const out = tidy(() => normalize(raw));
    raw.dispose();
    return out;
  }

  /** kNN anomaly scores, one per image: 1 − mean cosine similarity to the k nearest normals. */
  score(images: ImageSet): Float32Array {
    const f = this.features(images);
    try {
      return knnScores(f, this.bank, this.config.k);
    } finally {
      f.dispose();
    }
  }

  async save(path: string, extra: Record<string, unknown> = {}): Promise<void> {
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
      trainingSeconds: this.trainingSeconds,
      versions: { duiad: duiadVersion, libtorch: engineVersion() },
      extra,
    };
    await saveSafetensors(path, tensors, { duiad: JSON.stringify(metadata) });
  }

  dispose(): void {
    this.net.dispose();
    this.bank.dispose();
    this.centre?.dispose();
  }
}

function parseMetadata(raw: string | undefined, path: string): ModelMetadata {
  if (raw === undefined)
    throw new ModelError(`model: ${path} is not a duiad model (no 'duiad' metadata)`);
  let meta: Partial<ModelMetadata>;
  try {
    meta = JSON.parse(raw) as Partial<ModelMetadata>;
  } catch {
    throw new ModelError(`model: ${path} has corrupt metadata (not JSON)`);
  }
  if (meta.format !== modelFormat || meta.method !== 'duiad') {
    throw new ModelError(
      `model: ${path} is a '${String(meta.format)}/${String(meta.method)}' file, expected '${modelFormat}/duiad'`,
    );
  }
  if (meta.formatVersion !== modelFormatVersion) {
    throw new ModelError(
      `model: ${path} has format version ${String(meta.formatVersion)}; this duiad reads version ${modelFormatVersion}`,
    );
  }
  const p = meta.preprocessing;
  if (
    !p ||
    ![p.channels, p.height, p.width].every((v) => Number.isInteger(v) && v > 0 && v <= 4096)
  ) {
    throw new ModelError(`model: ${path} has invalid preprocessing metadata`);
  }
  if (p.mean?.length !== p.channels || p.std?.length !== p.channels || !p.std.every((s) => s > 0)) {
    throw new ModelError(`model: ${path} has invalid channel statistics`);
  }
  return meta as ModelMetadata;
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
      { encoder: config.encoder, inChannels: prep.channels, projectionDim: config.projectionDim },
      new Generator(0),
    );
    try {
      const model = withPath(path, () => assemble(net, tensors, { config, metadata }));
      return { model, metadata };
    } catch (error) {
      net.dispose();
      throw error;
    }
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
  const centre = tensors.get('score.centre')?.clone() ?? null;
  const prep = metadata.preprocessing;
  const trainingSeconds = metadata.trainingSeconds;
  return new DuiadModel({ net, config, prep, features: bank.clone(), centre, trainingSeconds });
}
