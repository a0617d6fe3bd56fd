/**
 * Test helpers for data on disk: where the shared data lives, skipping (or, on CI, failing)
 * when it is missing, and temporary folders that clean up after the test.
 */

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { sharedDataDir as librarySharedDataDir } from '../../src/data/datasets.js';

/** How to get Fashion-MNIST where `fashionMnistDir` expects it. */
export const fashionMnistHint = 'apt-get install dataset-fashion-mnist';

/** Where Debian's package puts Fashion-MNIST. */
export const fashionMnistDir = '/usr/share/datasets/fashion-mnist';

/** The shared data folder: `$DUIAD_DATA`, else `../shared/data` from the current folder. */
export function sharedDataDir(): string {
  return librarySharedDataDir(process.env, process.cwd());
}

/** Whether the run is on CI, where missing test data is a failure rather than a skip. */
export function onCi(): boolean {
  return process.env['CI'] === 'true';
}

/**
 * True if `path` exists. Otherwise skips the test `t` with the reason and how to get the data
 * (`hint`), and returns false; on CI it fails the test instead.
 * Use as `if (!requireData(t, path)) return;`.
 */
export function requireData(
  t: TestContext,
  path: string,
  hint = 'set DUIAD_DATA to the shared data folder',
): boolean {
  if (existsSync(path)) return true;
  const reason = `test data not found: ${path} (${hint})`;
  if (onCi()) assert.fail(`${reason}; CI=true requires it`);
  t.skip(reason);
  return false;
}

/** A new empty folder under the OS temp folder, removed when `t` ends. */
export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'duiad-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Sum of `bytes[start .. start + length)`: the pixel checksum the real-data tests pin. */
export function byteSum(bytes: Uint8Array, start: number, length: number): number {
  let sum = 0;
  for (let i = start; i < start + length; i++) sum += bytes[i] ?? 0;
  return sum;
}

/** How often each label 0..classes-1 occurs. */
export function histogram(labels: ArrayLike<number>, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] ?? -1;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}
