/**
 * Where `loadScorer` comes from. The server and the report command import it from a module
 * path rather than statically, so that tests can substitute a fake scorer and this layer does
 * not depend on how a model scores.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import type { Scorer } from '../detect/types.js';
import { NotFoundError, UsageError } from '../errors.js';

/** Loads a model file into a scorer; what the scorer module must export. */
export type LoadScorer = (modelPath: string) => Promise<Scorer>;

/** The compiled detect module beside this one (`dist/src/detect/index.js`). */
export const defaultScorerModule: string = fileURLToPath(
  new URL('../detect/index.js', import.meta.url),
);

/** Checks that the scorer module exists; returns its absolute path. */
export function checkScorerModule(path: string): string {
  const absolute = resolve(path);
  if (!existsSync(absolute)) {
    throw new NotFoundError(
      `scorer module ${absolute} does not exist (build the detect module with npm run build:ts)`,
    );
  }
  return absolute;
}

/** Imports the scorer module at `path` and returns its `loadScorer`. */
export async function importLoadScorer(path: string): Promise<LoadScorer> {
  const absolute = checkScorerModule(path);
  const module = (await import(pathToFileURL(absolute).href)) as { loadScorer?: unknown };
  if (typeof module.loadScorer !== 'function') {
    throw new UsageError(`scorer module ${absolute} does not export a function loadScorer`);
  }
  return module.loadScorer as LoadScorer;
}
