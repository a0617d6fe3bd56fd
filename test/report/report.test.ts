/**
 * Reports: the HTML's content worked out by hand, `buildReport` with the fake scorer over
 * generated PNG files, and the page opened in headless Chromium (charts drawn, images decoded,
 * nothing fetched, no console errors).
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { pathToFileURL } from 'node:url';

import type { ScorerInfo } from '../../src/detect/types.js';
import { buildReport, renderReport, type ReportItem } from '../../src/report/index.js';
import { requireChromium } from '../helpers/browser.js';
import { tempDir } from '../helpers/data.js';
import { greyPng } from '../helpers/png.js';
import { fakeModelFile } from '../serve/helpers.js';
import { loadScorer } from '../serve/fake-scorer.js';

const info: ScorerInfo = {
  method: 'duiad',
  channels: 3,
  height: 32,
  width: 32,
  threshold: 0.35,
  fpr: 0.05,
  calibrationImages: 500,
  versions: { duiad: '0.1.0' },
};

function item(path: string, score: number, label?: 'normal' | 'anomaly'): ReportItem {
  const base = { path, score, pValue: 1 - score, isAnomaly: score > info.threshold };
  return label === undefined ? base : { ...base, label };
}

/** Normal scores 0.1, 0.2, 0.3 and anomalous 0.25, 0.4, 0.5: 8 of the 9 pairs are ordered. */
const labelled = [
  item('n1.png', 0.1, 'normal'),
  item('n2.png', 0.2, 'normal'),
  item('n3.png', 0.3, 'normal'),
  item('a1.png', 0.25, 'anomaly'),
  item('a2.png', 0.4, 'anomaly'),
  item('a3.png', 0.5, 'anomaly'),
];

test('renderReport shows the AUROC, the threshold verdicts and escapes paths', () => {
  const items = [...labelled, item('<script>alert(1)</script>.png', 0.9)];
  const html = renderReport({ info, items, top: 2, createdAt: new Date(0) });
  assert.match(html, /AUROC <strong class="auroc">0\.8889<\/strong> over 6 labelled images/);
  assert.match(html, /normal images flagged \(false positives\)<\/dt><dd>0 of 3 \(0%\)/);
  assert.match(html, /anomalies caught \(true positives\)<\/dt><dd>2 of 3 \(66\.67%\)/);
  assert.match(html, /1 unlabelled images are not in these charts/);
  assert.ok(html.includes('&#60;script&#62;alert(1)&#60;/script&#62;.png'));
  assert.ok(!html.includes('<script>'));
  assert.match(html, /<path class="roc-curve" d="M/);
  assert.equal((html.match(/class="chart /g) ?? []).length, 2);
  // Most anomalous first, least anomalous first.
  const most = html.slice(html.indexOf('class="most"'), html.indexOf('class="least"'));
  assert.ok(most.indexOf('alert(1)') < most.indexOf('a3.png'));
  assert.ok(!most.includes('a2.png'));
  const least = html.slice(html.indexOf('class="least"'));
  assert.ok(least.indexOf('n1.png') < least.indexOf('n2.png'));
});

test('renderReport without both labels draws one histogram of all scores and no ROC', () => {
  const items = labelled.map(({ path, score, pValue, isAnomaly }) => ({
    path,
    score,
    pValue,
    isAnomaly,
  }));
  const html = renderReport({ info, items });
  assert.ok(!html.includes('<path class="roc-curve"'));
  assert.match(html, /Scores of all images/);
  assert.match(html, /all images \(6\)/);
  // Six bars at most, in one series.
  const bars = html.match(/<g class="bars"[^]*?<\/g>/g) ?? [];
  assert.equal(bars.length, 1);
});

test('renderReport loads nothing from outside the page', () => {
  const html = renderReport({ info, items: labelled });
  assert.ok(!/https?:|src="\/\/|href=/i.test(html), 'a URL in the page');
  assert.match(html, /Content-Security-Policy" content="default-src 'none'; img-src data:/);
});

/** Writes PNGs of the given grey levels to `dir`; returns their paths. */
async function writeGreys(
  dir: string,
  prefix: string,
  levels: readonly number[],
): Promise<string[]> {
  return Promise.all(
    levels.map(async (level, i) => {
      const path = join(dir, `${prefix}-${i}.png`);
      await writeFile(path, greyPng(12, 10, level));
      return path;
    }),
  );
}

async function fakeReport(t: TestContext) {
  const dir = await tempDir(t);
  const scorer = await loadScorer(await fakeModelFile(t, { threshold: 0.5 }));
  const normal = await writeGreys(dir, 'normal', [10, 40, 70, 100, 150]);
  const anomalous = await writeGreys(dir, 'anomaly', [120, 200, 230, 250]);
  await writeFile(join(dir, 'notes.png'), 'not an image');
  const unlabelled = [
    ...(await writeGreys(dir, 'new', [90])),
    join(dir, 'notes.png'),
    join(dir, 'gone.png'),
  ];
  const built = await buildReport({ scorer, normal, anomalous, unlabelled, top: 3, batchSize: 4 });
  return { dir, built };
}

test('buildReport scores the files, lists the failures and reports the AUROC', async (t) => {
  const { built } = await fakeReport(t);
  assert.equal(built.items.length, 10);
  // Anomalous 120 sits below normal 150 only: 19 of the 20 pairs are ordered.
  assert.ok(Math.abs((built.auroc ?? 0) - 19 / 20) < 1e-12);
  assert.deepEqual(
    built.failed.map((f) => [f.path.split('/').pop(), f.code]),
    [
      ['notes.png', 'E_FORMAT'],
      ['gone.png', 'E_NOT_FOUND'],
    ],
  );
  // Three most and three least anomalous, each with its image and map as data URIs.
  assert.equal(
    (built.html.match(/<img class="thumb" src="data:image\/png;base64,/g) ?? []).length,
    12,
  );
  assert.ok(built.items.every((i) => i.image === undefined && i.map === undefined));
});

test('the report renders in headless Chromium: charts drawn, images decoded, no errors', async (t) => {
  const browser = await requireChromium(t);
  if (!browser) return;
  const { dir, built } = await fakeReport(t);
  const file = join(dir, 'report.html');
  await writeFile(file, built.html);

  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warn') problems.push(message.text());
  });
  page.on('pageerror', (error) => problems.push(String(error)));
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

  const seen = await page.evaluate(() => {
    const box = (el: Element) => {
      const r = el.getBoundingClientRect();
      return [r.width, r.height];
    };
    const roc = document.querySelector('path.roc-curve');
    return {
      charts: [...document.querySelectorAll('svg.chart')].map(box),
      bars: document.querySelectorAll('g.bars rect').length,
      roc: roc === null ? null : box(roc),
      rocPoints: roc?.getAttribute('d')?.split('L').length ?? 0,
      threshold: [...document.querySelectorAll('line.threshold')].map(box),
      images: [...document.querySelectorAll('img')].map((img) => ({
        complete: img.complete,
        width: img.naturalWidth,
        height: img.naturalHeight,
      })),
    };
  });

  assert.equal(seen.charts.length, 2);
  for (const [w, h] of seen.charts) assert.ok((w ?? 0) > 100 && (h ?? 0) > 50, `chart ${w} x ${h}`);
  assert.ok(seen.bars >= 2);
  assert.ok(
    seen.roc !== null && (seen.roc[0] ?? 0) > 10 && (seen.roc[1] ?? 0) > 10,
    `ROC ${seen.roc}`,
  );
  // One point per distinct labelled score (9) after (0, 0).
  assert.equal(seen.rocPoints, 10);
  assert.ok((seen.threshold[0]?.[1] ?? 0) > 50);
  assert.equal(seen.images.length, 12);
  for (const image of seen.images)
    assert.deepEqual(image, { complete: true, width: 12, height: 10 });
  assert.deepEqual(problems, []);
  // The page itself, then only its own data: URIs.
  assert.deepEqual(
    requests.filter((url) => !url.startsWith('data:')),
    [pathToFileURL(file).href],
  );
});
