/**
 * A fake scorer module for the server, CLI and report tests: it exports `loadScorer` like the
 * detect module, reads its "model file" as JSON, and scores a PNG by its mean brightness
 * (0 for black, 1 for white). Options in the model file make it slow, crash or refuse to load.
 */
import { readFile } from 'node:fs/promises';

import type {
  AnomalyMap,
  EncodedImage,
  ScoredImage,
  Scorer,
  ScorerInfo,
  UnscoredImage,
} from '../../src/detect/types.js';
import { ModelError } from '../../src/errors.js';
import { decodePng, encodePng, type Pixels } from '../helpers/png.js';

/** The fake's "model file". */
export interface FakeModel {
  /** Images brighter than this (0..1) are anomalies; default 0.5. */
  threshold?: number;
  /** Blocks the scoring thread this long per call (a CPU-bound model), milliseconds. */
  busyMs?: number;
  /** Waits this long per call without blocking, milliseconds. */
  delayMs?: number;
  /** Throws an uncaught exception (a crash) when an image is this wide. */
  crashOnWidth?: number;
  /** Throws a plain Error (a bug, not a bad image) when an image is this wide. */
  throwOnWidth?: number;
  /** Blocks for 3 seconds (past any time limit a test sets) when an image is this wide. */
  hangOnWidth?: number;
  /** Refuses to load with this message. */
  failLoad?: string;
}

function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Burn CPU, as a model would.
  }
}

function brightness(pixels: Pixels): number {
  let sum = 0;
  for (const value of pixels.data) sum += value;
  return sum / pixels.data.length / 255;
}

function decode(image: EncodedImage): Pixels | UnscoredImage {
  try {
    return decodePng(image.data);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { path: image.path, code: 'E_FORMAT', error: `fake: ${image.path}: ${reason}` };
  }
}

function isPixels(value: Pixels | UnscoredImage): value is Pixels {
  return 'data' in value;
}

async function behave(
  model: FakeModel,
  decoded: ReadonlyArray<Pixels | UnscoredImage>,
): Promise<void> {
  for (const pixels of decoded.filter(isPixels)) {
    if (pixels.width === model.crashOnWidth) {
      setImmediate(() => {
        throw new Error('fake: crash on purpose');
      });
      await new Promise(() => undefined);
    }
    if (pixels.width === model.hangOnWidth) busyWait(3000);
    if (pixels.width === model.throwOnWidth) throw new Error('fake: a bug in the scorer');
  }
  if (model.delayMs !== undefined) await new Promise((r) => setTimeout(r, model.delayMs));
  if (model.busyMs !== undefined) busyWait(model.busyMs);
}

/** The fake model's scorer. */
function fakeScorer(model: FakeModel): Scorer {
  const threshold = model.threshold ?? 0.5;
  const info: ScorerInfo = {
    method: 'fake-brightness',
    channels: 1,
    height: 8,
    width: 8,
    threshold,
    fpr: 0.05,
    calibrationImages: 100,
    versions: { fake: '1' },
  };
  return {
    info,
    async scoreEncoded(images) {
      const decoded = images.map(decode);
      await behave(model, decoded);
      return decoded.map((pixels, i): ScoredImage | UnscoredImage => {
        if (!isPixels(pixels)) return pixels;
        const score = brightness(pixels);
        const path = images[i]?.path ?? '';
        return {
          path,
          score,
          pValue: Math.max(1 - score, 0.01),
          isAnomaly: score > threshold,
          threshold,
        };
      });
    },
    async mapEncoded(images) {
      const decoded = images.map(decode);
      await behave(model, decoded);
      return decoded.map((pixels, i): AnomalyMap | UnscoredImage => {
        if (!isPixels(pixels)) return pixels;
        // The map: brightness in the red channel.
        const { width, height } = pixels;
        const rgb = new Uint8Array(width * height * 3);
        for (let p = 0; p < width * height; p++) rgb[p * 3] = pixels.data[p * pixels.channels] ?? 0;
        // A small Buffer, a view into Node's shared pool, as a real encoder may return.
        const png = encodePng({ width, height, channels: 3, data: rgb });
        return { path: images[i]?.path ?? '', png };
      });
    },
    dispose() {},
  };
}

/** Loads the fake "model file" (JSON). */
export async function loadScorer(modelFile: string): Promise<Scorer> {
  const text = await readFile(modelFile, 'utf8');
  let model: FakeModel;
  try {
    model = JSON.parse(text) as FakeModel;
  } catch {
    throw new ModelError(`fake: ${modelFile} is not a fake model (JSON)`);
  }
  if (model.failLoad !== undefined) throw new ModelError(`fake: ${model.failLoad}`);
  return fakeScorer(model);
}
