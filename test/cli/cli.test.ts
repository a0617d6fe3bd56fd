/**
 * The `duiad` CLI through `run(argv, io)`: exit codes, and one-line error messages on
 * stderr without stack traces. No test here trains a model.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

import { type Outcome, cli } from '../helpers/cli.js';
import { encodeSafetensors, tidy } from '../../src/torch/index.js';
import { requireData, sharedDataDir, tempDir } from '../helpers/data.js';
import { f32 } from '../helpers/tensors.js';

const usageHint = '(run with --help for usage)';

/**
 * Asserts exit code `code`, nothing on stdout, and a one-line message on stderr that matches
 * every pattern; commander's usage errors may add the usage hint as a second line.
 */
function assertFails(outcome: Outcome, code: number, ...patterns: (RegExp | string)[]): void {
  const context = JSON.stringify(outcome);
  assert.equal(outcome.code, code, context);
  assert.equal(outcome.stdout, '', context);
  assert.ok(!outcome.stderr.includes('\n    at '), `stack trace on stderr: ${context}`);
  const [message = '', ...rest] = outcome.stderr.trimEnd().split('\n');
  assert.ok(
    rest.every((line) => line === usageHint),
    `more than one line: ${context}`,
  );
  for (const pattern of patterns) {
    if (typeof pattern === 'string') assert.ok(message.includes(pattern), context);
    else assert.match(message, pattern);
  }
}

const train = ['train', '--dataset', 'mnist', '--normal-class', '0'];

test('an unknown flag or command is a usage error (exit 2)', async () => {
  assertFails(await cli('--bogus'), 2, "unknown option '--bogus'");
  assertFails(await cli(...train, '--bogus'), 2, "unknown option '--bogus'");
  assertFails(await cli('eval', '--model', 'x', '--frobnicate', '3'), 2, '--frobnicate');
  assertFails(await cli('bogus-command'), 2, "unknown command 'bogus-command'");
});

test('an unknown dataset is exit 2 and the message lists the valid ones', async () => {
  const result = await cli('train', '--dataset', 'imagenet', '--normal-class', '0');
  assertFails(result, 2, "'imagenet'", 'mnist, fashion-mnist, cifar10, cifar100');
  // A near miss gets a suggestion.
  const near = await cli('train', '--dataset', 'CIFAR-10', '--normal-class', '0');
  assertFails(near, 2, "did you mean 'cifar10'");
});

test('bad numbers are exit 2 and the message quotes them', async () => {
  assertFails(await cli(...train, '--epochs', '-3'), 2, '--epochs', "'-3'");
  assertFails(await cli(...train, '--epochs', 'abc'), 2, '--epochs', "'abc'");
  assertFails(await cli(...train, '--epochs', ''), 2, '--epochs', "''");
  assertFails(await cli(...train, '--epochs', '1e400'), 2, '--epochs', "'1e400'");
  const fractional = await cli('train', '--dataset', 'mnist', '--normal-class', '10.5');
  assertFails(fractional, 2, '--normal-class', "'10.5'");
  assertFails(await cli(...train, '--lr', 'NaN'), 2, '--lr', "'NaN'");
  assertFails(await cli(...train, '--batch-size', '1'), 2, '--batch-size', "'1'");
  assertFails(await cli(...train, '--entropy', 'shannon'), 2, 'vmf, center, gaussian', "'shannon'");
  assertFails(await cli('eval', '--model', 'x', '--threads', '0'), 2, '--threads', "'0'");
});

test('a missing required flag is exit 2 and names the flag', async () => {
  assertFails(await cli('train', '--dataset', 'mnist'), 2, '--normal-class');
  assertFails(await cli('train', '--normal-class', '0'), 2, '--dataset');
  assertFails(await cli('eval'), 2, '--model');
});

test('eval: a model path that does not exist is exit 3', async (t) => {
  assertFails(await cli('eval', '--model', '/nonexistent'), 3, '/nonexistent');
  // A folder without model.safetensors is missing a file too.
  const dir = await tempDir(t);
  assertFails(await cli('eval', '--model', dir), 3, dir);
});

test('eval: a model file with garbage bytes is exit 4 or 5 and names the file', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'garbage.safetensors');
  await writeFile(path, Buffer.from('this is not a safetensors file, only some text\n'));
  const result = await cli('eval', '--model', path);
  assert.ok([4, 5].includes(result.code), JSON.stringify(result));
  assertFails(result, result.code, path);
  // The same bytes as model.safetensors inside a model folder.
  await mkdir(join(dir, 'run'));
  await writeFile(join(dir, 'run', 'model.safetensors'), new Uint8Array([1, 2, 3]));
  const inFolder = await cli('eval', '--model', join(dir, 'run'));
  assert.ok([4, 5].includes(inFolder.code), JSON.stringify(inFolder));
  assertFails(inFolder, inFolder.code, join(dir, 'run', 'model.safetensors'));
});

test('eval: a valid safetensors file that is not a duiad model is exit 5', async (t) => {
  const dir = await tempDir(t);
  const plain = join(dir, 'plain.safetensors');
  await writeFile(
    plain,
    tidy(() => encodeSafetensors(new Map([['w', f32([1, 2], [2])]]))),
  );
  assertFails(await cli('eval', '--model', plain), 5, plain, 'duiad');

  const other = join(dir, 'other.safetensors');
  const meta = { duiad: JSON.stringify({ format: 'something-else', method: 'x' }) };
  await writeFile(other, encodeSafetensors(new Map(), meta));
  assertFails(await cli('eval', '--model', other), 5, other);

  const corrupt = join(dir, 'corrupt.safetensors');
  await writeFile(corrupt, encodeSafetensors(new Map(), { duiad: '{not json' }));
  assertFails(await cli('eval', '--model', corrupt), 5, corrupt);
});

test('eval: a model file with a bogus dtype is a format error, not an internal error', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'model.safetensors');
  const header = Buffer.from('{"w":{"dtype":"toString","shape":[2],"data_offsets":[0,2]}}');
  const bytes = Buffer.alloc(8 + header.length + 2);
  bytes.writeBigUInt64LE(BigInt(header.length), 0);
  header.copy(bytes, 8);
  await writeFile(path, bytes);
  assertFails(await cli('eval', '--model', path), 4, path);
});

test('train: an empty data folder is exit 3', async (t) => {
  const dir = await tempDir(t);
  const result = await cli('train', '--dataset', 'mnist', '--data', dir, '--normal-class', '0');
  assertFails(result, 3, dir);
  const missing = join(dir, 'nowhere');
  const cifar = await cli(
    'train',
    '--dataset',
    'cifar10',
    '--data',
    missing,
    '--normal-class',
    '0',
  );
  assertFails(cifar, 3, missing);
});

test('train: a normal class the dataset lacks fails before training, naming it', async (t) => {
  const mnist = join(sharedDataDir(), 'mnist');
  if (!requireData(t, mnist)) return;
  const result = await cli('train', '--dataset', 'mnist', '--data', mnist, '--normal-class', '10');
  assertFails(result, 2, '--normal-class', 'from 0 to 9', 'got 10');
});

test('--help is exit 0 and lists the commands and the exit codes', async () => {
  const result = await cli('--help');
  assert.equal(result.code, 0);
  assert.equal(result.stderr, '');
  assert.match(result.stdout, /^\s+train\b/m);
  assert.match(result.stdout, /^\s+eval\b/m);
  assert.match(result.stdout, /Exit codes/);
  for (const code of [0, 1, 2, 3, 4, 5, 6]) {
    assert.match(result.stdout, new RegExp(`^\\s+${code}\\s+\\S`, 'm'), `exit code ${code}`);
  }
  const trainHelp = await cli('train', '--help');
  assert.equal(trainHelp.code, 0);
  for (const flag of ['--dataset', '--normal-class', '--epochs', '--out']) {
    assert.ok(trainHelp.stdout.includes(flag), flag);
  }
  const evalHelp = await cli('help', 'eval');
  assert.equal(evalHelp.code, 0, JSON.stringify(evalHelp));
  assert.ok(evalHelp.stdout.includes('--model'));
});

test('--version is exit 0 and prints the package version', async () => {
  const pkg = JSON.parse(
    readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  const result = await cli('--version');
  assert.equal(result.code, 0);
  assert.equal(result.stdout, `${pkg.version}\n`);
  assert.equal(result.stderr, '');
});

test('train refuses an --out it cannot write before any training', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'taken.safetensors'));
  const started = performance.now();
  const folder = await cli('train', '--data', dir, '--out', join(dir, 'taken.safetensors'));
  assert.equal(folder.code, 2, folder.stderr);
  assert.match(folder.stderr, /--out .*taken\.safetensors is a folder, not a file/);
  const proc = await cli('train', '--data', dir, '--out', '/proc/duiad-model.safetensors');
  assert.equal(proc.code, 3, proc.stderr);
  assert.match(proc.stderr, /cannot write the model file '\/proc\/duiad-model\.safetensors'/);
  assert.ok(performance.now() - started < 5000, 'the check came after work');
});
