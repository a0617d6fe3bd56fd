/**
 * `duiad serve` and `duiad report` with the fake scorer (DUIAD_SCORER_MODULE): a served
 * process that answers and stops cleanly on SIGTERM, reports written from folders, and the exit
 * codes of bad flags, missing files and models that do not load.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { run } from '../../src/cli/program.js';
import { tempDir } from '../helpers/data.js';
import { greyPng } from '../helpers/png.js';
import type { FakeModel } from '../serve/fake-scorer.js';
import { fakeModelFile, fakeScorerModule, post } from '../serve/helpers.js';

process.env['DUIAD_SCORER_MODULE'] = fakeScorerModule;
const bin = fileURLToPath(new URL('../../../bin/duiad.js', import.meta.url));

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const io = {
    stdout: (text: string) => void (out.stdout += text),
    stderr: (text: string) => void (out.stderr += text),
    interactive: false,
  };
  return { code: await run(argv, io), ...out };
}

/** Starts `duiad serve` on a fake model in a child process; resolves once it listens. */
async function serveProcess(t: TestContext, model: FakeModel) {
  const modelPath = await fakeModelFile(t, model);
  const child = spawn(process.execPath, [bin, 'serve', '--model', modelPath, '--port', '0'], {
    env: { ...process.env, DUIAD_SCORER_MODULE: fakeScorerModule },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  const log = { stderr: '' };
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      log.stderr += chunk.toString();
      const found = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(log.stderr);
      if (found?.[1] !== undefined) resolve(found[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${log.stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, url, log, exited };
}

test('duiad serve answers, then on SIGTERM finishes the request in flight and exits 0', async (t) => {
  const { child, url, log, exited } = await serveProcess(t, { delayMs: 800 });
  const inFlight = post(`${url}/score?name=mid.png`, greyPng(4, 4, 51), 'image/png');
  await new Promise((resolve) => setTimeout(resolve, 300));
  child.kill('SIGTERM');
  const answer = await inFlight;
  assert.equal(answer.status, 200);
  assert.equal((answer.json as { score: number }).score, 0.2);
  assert.equal(await exited, 0, log.stderr);
  assert.match(
    log.stderr,
    /fake-brightness model .* on http:\/\/127\.0\.0\.1:\d+ \(2 workers, 1 engine threads each\)/,
  );
  assert.match(log.stderr, /SIGTERM: finishing requests in flight/);
  assert.match(log.stderr, /stopped/);
});

test('duiad serve: a second SIGINT answers the request in flight with 503 and exits 0', async (t) => {
  const { child, url, log, exited } = await serveProcess(t, { busyMs: 2000 });
  const inFlight = post(`${url}/score`, greyPng(4, 4, 51), 'image/png');
  await new Promise((resolve) => setTimeout(resolve, 300));
  child.kill('SIGINT');
  await new Promise((resolve) => setTimeout(resolve, 200));
  child.kill('SIGINT');
  const answer = await inFlight;
  assert.equal(answer.status, 503);
  assert.equal((answer.json as { code: string }).code, 'E_CLOSING');
  assert.equal(await exited, 0, log.stderr);
  assert.match(log.stderr, /second signal: answering requests in flight with 503/);
});

test('duiad serve: bad flags, missing files and unloadable models map to exit codes', async (t) => {
  const model = await fakeModelFile(t);
  const broken = await fakeModelFile(t, { failLoad: 'bad weights' });
  const bad = await cli('serve', '--model', model, '--port', '70000');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--port must be an integer from 0 to 65535 \(got '70000'\)/);
  assert.equal((await cli('serve', '--model', model, '--workers', '0')).code, 2);
  assert.equal((await cli('serve', '--model', model, '--max-body-mb', '-1')).code, 2);
  const missing = await cli('serve', '--model', '/nonexistent/model.safetensors');
  assert.deepEqual(
    [missing.code, missing.stderr],
    [3, 'error: serve: model /nonexistent/model.safetensors does not exist\n'],
  );
  const unloadable = await cli('serve', '--model', broken, '--port', '0');
  assert.deepEqual([unloadable.code, unloadable.stderr], [5, 'error: fake: bad weights\n']);

  process.env['DUIAD_SCORER_MODULE'] = '/nonexistent/scorer.js';
  t.after(() => {
    process.env['DUIAD_SCORER_MODULE'] = fakeScorerModule;
  });
  const noModule = await cli('serve', '--model', model, '--port', '0');
  assert.equal(noModule.code, 3);
  assert.match(noModule.stderr, /scorer module \/nonexistent\/scorer\.js does not exist/);
});

test('duiad serve on a port in use is exit 2 and says so', async (t) => {
  const blocker = createNetServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const address = blocker.address();
  assert.ok(address !== null && typeof address === 'object');
  const model = await fakeModelFile(t);
  const result = await cli('serve', '--model', model, '--port', String(address.port));
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    `error: serve: 127.0.0.1:${address.port} is in use (choose another --port)\n`,
  );
});

async function imageFolders(
  dir: string,
): Promise<{ normal: string; anomalous: string; other: string }> {
  const folders = {
    normal: join(dir, 'normal'),
    anomalous: join(dir, 'anomalous'),
    other: join(dir, 'other'),
  };
  for (const folder of Object.values(folders)) await mkdir(folder);
  const write = (folder: string, levels: number[]) =>
    Promise.all(
      levels.map((level, i) => writeFile(join(folder, `${i}.png`), greyPng(6, 6, level))),
    );
  await write(folders.normal, [0, 50, 100, 150]);
  await write(folders.anomalous, [120, 200, 250]);
  await write(folders.other, [60]);
  await writeFile(join(folders.other, 'readme.txt'), 'not listed: not an image extension');
  return folders;
}

test('duiad report writes the HTML report and prints its summary', async (t) => {
  const dir = await tempDir(t);
  const model = await fakeModelFile(t, { threshold: 0.5 });
  const { normal, anomalous, other } = await imageFolders(dir);
  const out = join(dir, 'report.html');
  const result = await cli(
    'report',
    '--model',
    model,
    '--normal',
    normal,
    '--anomalous',
    anomalous,
    other,
    '--out',
    out,
    '--json',
  );
  assert.equal(result.code, 0, result.stderr);
  // Anomalous 120 is below normal 150 only: 11 of the 12 pairs are ordered. Levels above 127.5
  // (150, 200, 250) are flagged at threshold 0.5.
  assert.deepEqual(JSON.parse(result.stdout), {
    out,
    scored: 8,
    failed: 0,
    flagged: 3,
    auroc: 11 / 12,
  });
  const html = await readFile(out, 'utf8');
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.match(html, /AUROC <strong class="auroc">0\.9167<\/strong>/);

  const plain = await cli('report', '--model', model, other, '--out', out);
  assert.equal(plain.stdout, `report: 1 images scored, 0 flagged, 0 failed; wrote ${out}\n`);
});

test('duiad report: no images, missing or empty folders and unwritable output', async (t) => {
  const dir = await tempDir(t);
  const model = await fakeModelFile(t);
  const none = await cli('report', '--model', model);
  assert.deepEqual(
    [none.code, none.stderr],
    [2, 'error: report: give images to score (--normal DIR, --anomalous DIR or PATH...)\n'],
  );
  const missing = await cli('report', '--model', model, '--normal', join(dir, 'absent'));
  assert.equal(missing.code, 3);
  assert.match(missing.stderr, /--normal .*absent is not a readable folder/);
  await mkdir(join(dir, 'empty'));
  const empty = await cli('report', '--model', model, '--anomalous', join(dir, 'empty'));
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /holds no \.png, \.jpg, \.jpeg or \.webp images/);
  await writeFile(join(dir, 'a.png'), greyPng(2, 2, 9));
  const unwritable = await cli(
    'report',
    '--model',
    model,
    join(dir, 'a.png'),
    '--out',
    join(dir, 'no', 'r.html'),
  );
  assert.equal(unwritable.code, 3);
  assert.match(unwritable.stderr, /cannot write .*r\.html/);
  // Files that look like images but none can be scored: an error, and no report.
  await mkdir(join(dir, 'junk'));
  await writeFile(join(dir, 'junk', 'x.png'), 'not an image');
  const junk = await cli('report', '--model', model, '--normal', join(dir, 'junk'));
  assert.equal(junk.code, 4, junk.stderr);
  assert.match(junk.stderr, /none of the 1 images could be scored/);
});
