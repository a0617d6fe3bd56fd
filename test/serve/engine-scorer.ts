/**
 * A scorer module for tests that computes with the real engine: it multiplies random matrices
 * for `engineMs` milliseconds on every image `engineOnWidth` pixels wide, then scores like the
 * fake scorer. It shows that the server's time-outs and forced shutdowns never tear down a
 * worker inside an engine call.
 */
import { readFile } from 'node:fs/promises';

import type { EncodedImage, Scorer } from '../../src/detect/types.js';
import { randn } from '../../src/torch/index.js';
import { decodePng } from '../helpers/png.js';
import { loadScorer as loadFake } from './fake-scorer.js';

/** The "model file" of this scorer, on top of the fake's options. */
export interface EngineModel {
  engineMs: number;
  engineOnWidth: number;
}

function compute(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const a = randn([128, 128]);
    const b = a.matmul(a);
    b.dispose();
    a.dispose();
  }
}

function width(image: EncodedImage): number {
  try {
    return decodePng(image.data).width;
  } catch {
    return 0;
  }
}

/** Loads the engine scorer: the fake, plus engine work on some images. */
export async function loadScorer(modelFile: string): Promise<Scorer> {
  const model = JSON.parse(await readFile(modelFile, 'utf8')) as EngineModel;
  const fake = await loadFake(modelFile);
  const work = (images: readonly EncodedImage[]) => {
    if (images.some((image) => width(image) === model.engineOnWidth)) compute(model.engineMs);
  };
  return {
    info: { ...fake.info, method: 'engine-test' },
    async scoreEncoded(images) {
      work(images);
      return fake.scoreEncoded(images);
    },
    async mapEncoded(images) {
      work(images);
      return fake.mapEncoded(images);
    },
    dispose() {
      fake.dispose();
    },
  };
}
