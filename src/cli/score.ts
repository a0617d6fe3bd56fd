/**
 * `duiad score`: score image files and folders with a calibrated model file. One line per
 * image on stdout (JSON lines, or CSV), unreadable inputs also reported on stderr; the exit
 * code says whether any image was called anomalous.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';

import { type Detector, load } from '../detect/detector.js';
import {
  type EncodedImage,
  type ScoredImage,
  type UnscoredImage,
  isScored,
} from '../detect/types.js';
import { NotFoundError, exitCodes } from '../errors.js';
import { setNumThreads } from '../torch/index.js';
import type { CliIO } from './io.js';
import { modelFileIn } from './train.js';

/** Exit code of `duiad score` when at least one image was called anomalous. */
export const anomalyExitCode = 10;

/** Parsed flags and arguments of `duiad score`. */
export interface ScoreFlags {
  model: string;
  paths: string[];
  csv?: boolean;
  maps?: string;
  recursive?: boolean;
  maxPixels?: number;
  threads?: number;
}

/** One output row: a verdict or a failure, with the map file when maps are written. */
type Row = (ScoredImage | UnscoredImage) & { map?: string };

const csvColumns = ['path', 'score', 'pValue', 'isAnomaly', 'threshold', 'code', 'error', 'map'];

function csvField(value: unknown): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function formatRow(row: Row, csv: boolean): string {
  if (!csv) return `${JSON.stringify(row)}\n`;
  const record = row as unknown as Record<string, unknown>;
  return `${csvColumns.map((c) => csvField(record[c])).join(',')}\n`;
}

/** A model folder (holding model.safetensors) or the file itself. */
async function modelPath(given: string): Promise<string> {
  const info = await stat(given).catch(() => null);
  return info?.isDirectory() ? modelFileIn(given) : given;
}

/** Names map files after their images, unique within one run: `cat.png`, `cat-2.png`. */
function mapNamer(dir: string): (path: string) => string {
  const used = new Map<string, number>();
  return (path) => {
    const stem = basename(path, extname(path)) || 'image';
    const n = (used.get(stem) ?? 0) + 1;
    used.set(stem, n);
    return join(dir, n === 1 ? `${stem}.png` : `${stem}-${n}.png`);
  };
}

/** Writes the overlay of every scored row of `chunk` into the maps folder, named by `name`. */
async function writeMaps(
  detector: Detector,
  chunk: { inputs: ReadonlyArray<EncodedImage | UnscoredImage>; rows: Row[] },
  name: (path: string) => string,
): Promise<void> {
  const { inputs, rows } = chunk;
  const readable = inputs.flatMap((c, i) => ('data' in c ? [i] : []));
  const maps = await detector.mapEncoded(readable.map((i) => inputs[i] as EncodedImage));
  for (const [j, i] of readable.entries()) {
    const row = rows[i];
    const map = maps[j];
    if (!row || !isScored(row) || !map || !('png' in map)) continue;
    const file = name(row.path);
    await writeFile(file, map.png).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code ?? 'error';
      throw new NotFoundError(`score: cannot write map ${file} (${code})`);
    });
    row.map = file;
  }
}

/** Runs `duiad score`; returns 0 (no anomaly), `anomalyExitCode`, or an error's exit code. */
export async function scoreCommand(flags: ScoreFlags, io: CliIO): Promise<number> {
  if (flags.threads !== undefined) setNumThreads(flags.threads);
  const limits = flags.maxPixels === undefined ? {} : { maxPixels: flags.maxPixels };
  const detector = await load(await modelPath(flags.model), limits);
  try {
    // Make the maps folder first, so a bad --maps fails before any scoring.
    if (flags.maps !== undefined) {
      const dir = flags.maps;
      await mkdir(dir, { recursive: true }).catch((error: unknown) => {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        throw new NotFoundError(`score: cannot create maps folder '${dir}' (${code})`);
      });
    }
    const name = mapNamer(flags.maps ?? '.');
    if (flags.csv) io.stdout(`${csvColumns.join(',')}\n`);

    // Score chunk by chunk, printing as results come.
    let scored = 0;
    let anomalies = 0;
    let firstFailure: UnscoredImage | undefined;
    const options = { recursive: flags.recursive ?? false };
    for await (const chunk of detector.readChunks(flags.paths, options)) {
      const rows: Row[] = await detector.scoreEncodedOrFailed(chunk);
      if (flags.maps !== undefined) await writeMaps(detector, { inputs: chunk, rows }, name);
      for (const row of rows) {
        io.stdout(formatRow(row, flags.csv ?? false));
        if (isScored(row)) {
          scored++;
          if (row.isAnomaly) anomalies++;
        } else {
          firstFailure ??= row;
          io.stderr(`warning: skipped ${row.path}: ${row.error}\n`);
        }
      }
    }

    // Sum up: no image scored is an error; otherwise the verdict decides.
    if (scored === 0) {
      const why = firstFailure ? ` (first: ${firstFailure.error})` : '';
      io.stderr(`error: score: no input could be scored${why}\n`);
      return firstFailure ? exitCodes[firstFailure.code] : exitCodes.E_NOT_FOUND;
    }
    io.stderr(
      `${scored} images scored, ${anomalies} anomalous (threshold ${detector.calibration.threshold.toFixed(6)} at fpr ${detector.calibration.fpr})\n`,
    );
    return anomalies > 0 ? anomalyExitCode : 0;
  } finally {
    detector.dispose();
  }
}
