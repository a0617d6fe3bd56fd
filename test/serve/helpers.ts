/**
 * Helpers for the server tests: a fake model file, a server on a free loopback port that
 * closes when the test ends, and a request that never throws on an error status.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

import { type DuiadServer, type ServerOptions, startServer } from '../../src/serve/index.js';
import { tempDir } from '../helpers/data.js';
import type { FakeModel } from './fake-scorer.js';

/** The compiled fake scorer module. */
export const fakeScorerModule = fileURLToPath(new URL('./fake-scorer.js', import.meta.url));

/** Writes a fake model file into a temporary folder; returns its path. */
export async function fakeModelFile(t: TestContext, model: FakeModel = {}): Promise<string> {
  const path = join(await tempDir(t), 'fake-model.json');
  await writeFile(path, JSON.stringify(model));
  return path;
}

/** A server with the fake scorer on 127.0.0.1 and a free port, closed after the test. */
export async function fakeServer(
  t: TestContext,
  model: FakeModel = {},
  options: Partial<ServerOptions> = {},
): Promise<{ server: DuiadServer; url: string }> {
  const modelPath = await fakeModelFile(t, model);
  const started = await startServer({
    modelPath,
    port: 0,
    scorerModule: fakeScorerModule,
    ...options,
  });
  t.after(() => started.server.close({ force: true }));
  return started;
}

/** What a request got back. */
export interface Answer {
  status: number;
  headers: Headers;
  json: unknown;
}

/** Posts `body` with a Content-Type; resolves to the status and the parsed JSON body. */
export async function post(
  url: string,
  body: Uint8Array | string | FormData,
  contentType?: string,
): Promise<Answer> {
  const headers: Record<string, string> =
    contentType === undefined ? {} : { 'content-type': contentType };
  const payload = body instanceof Uint8Array ? blob(body) : body;
  const response = await fetch(url, { method: 'POST', body: payload, headers });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    json: text === '' ? null : JSON.parse(text),
  };
}

/** Bytes as a Blob (for FormData and fetch bodies). */
export function blob(bytes: Uint8Array | string): Blob {
  return new Blob([typeof bytes === 'string' ? bytes : Uint8Array.from(bytes)]);
}
