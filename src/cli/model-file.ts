/**
 * The model file a command reads, and the scorer module that loads it. `serve` and `report`
 * load models through the scorer module (see `src/serve/scorer-module.ts`), which tests replace
 * with a fake through `DUIAD_SCORER_MODULE`.
 */
import { stat } from 'node:fs/promises';

import { NotFoundError } from '../errors.js';
import { defaultScorerModule } from '../serve/scorer-module.js';
import { modelFileIn } from './train.js';

/** A model folder (holding model.safetensors) or the file itself; checks that it is a file. */
export async function modelFileFrom(given: string, command: string): Promise<string> {
  const info = await stat(given).catch((error: unknown) => {
    throw new NotFoundError(`${command}: model ${given} does not exist`, { cause: error });
  });
  const path = info.isDirectory() ? modelFileIn(given) : given;
  // Anything but a regular file (a FIFO, a device) could block a read forever.
  const file = await stat(path).catch(() => null);
  if (!file?.isFile()) throw new NotFoundError(`${command}: ${path} is not a model file`);
  return path;
}

/**
 * The scorer module: `$DUIAD_SCORER_MODULE` if set (meant for tests, which point it at a fake
 * scorer), else the compiled detect module.
 */
export function scorerModuleFromEnv(): string {
  const given = process.env['DUIAD_SCORER_MODULE'];
  return given !== undefined && given !== '' ? given : defaultScorerModule;
}
