/**
 * The library example of README.md, run as written (only the package name is pointed at
 * this build), on generated images: normal blobs, with stripes among the new images.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

import { tempDir } from './helpers/data.js';
import { blob, stripes, writeImages } from './helpers/images.js';

/** The first ```js block after the `<!-- readme-example -->` marker. */
export function readmeExample(readme: string): string {
  const marker = readme.indexOf('<!-- readme-example -->');
  assert.ok(marker >= 0, 'README.md has the example marker');
  const start = readme.indexOf('```js\n', marker);
  const end = readme.indexOf('\n```', start + 6);
  assert.ok(start > marker && end > start, 'a ```js block follows the marker');
  return readme.slice(start + 6, end + 1);
}

test('the README library example runs and flags the stripes', async (t) => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const example = readmeExample(readme);
  assert.match(example, /from 'duiad';/);
  const library = new URL('../src/index.js', import.meta.url).href;
  const dir = await tempDir(t);
  await writeFile(join(dir, 'example.mjs'), example.replace("from 'duiad';", `from '${library}';`));

  // 200 normal images: 20 held out, one more than the 19 that fpr 0.05 needs.
  await mkdir(join(dir, 'images', 'normal'), { recursive: true });
  await mkdir(join(dir, 'images', 'new'));
  const normal = join(dir, 'images', 'normal');
  await writeImages(normal, { name: 'n', count: 200, size: 24, make: blob, seed: 1 });
  await writeFile(join(normal, 'notes.png'), 'not an image');
  const fresh = join(dir, 'images', 'new');
  await writeImages(fresh, { name: 'n', count: 3, size: 24, make: blob, seed: 2 });
  await writeImages(fresh, { name: 's', count: 3, size: 24, make: stripes, seed: 3 });

  const { stdout, stderr } = await promisify(execFile)('node', ['example.mjs'], { cwd: dir });
  assert.match(stderr, /skipped images\/normal\/notes\.png: .*is not a PNG, JPEG or WebP file/);
  const lines = stdout.trimEnd().split('\n');
  assert.equal(lines.length, 6, stdout);
  for (const [i, line] of lines.entries()) {
    assert.match(
      line,
      /^images\/new\/[ns]-00\d\.(png|jpg|webp) \d\.\d{4} p=\d\.\d{3} (ANOMALY|normal)$/,
    );
    if (i >= 3) assert.match(line, /ANOMALY$/, 'stripes are anomalies');
  }
  assert.ok((await stat(join(dir, 'model.safetensors'))).isFile());
});
