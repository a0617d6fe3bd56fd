#!/usr/bin/env node
// Builds what is stale: the native engine (node-gyp, against Node's own headers in /usr) and
// the TypeScript (tsc). npm runs this on install, and npx runs it again when it links this
// package for `npx duiad`, where it is a no-op. Usage: node scripts/build.mjs [native|ts|all] [--force]
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [what = 'all', flag] = process.argv.slice(2);
const force = flag === '--force';

function newest(paths) {
  let time = 0;
  for (const p of paths) {
    const full = join(root, p);
    if (!existsSync(full)) continue;
    const info = statSync(full);
    if (info.isDirectory()) time = Math.max(time, newest(readdirSync(full).map((f) => join(p, f))));
    else time = Math.max(time, info.mtimeMs);
  }
  return time;
}

function stale(output, inputs) {
  const out = join(root, output);
  return force || !existsSync(out) || statSync(out).mtimeMs < newest(inputs);
}

function step(name, command, args) {
  process.stderr.write(`duiad build: ${name}\n`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write(`duiad build: ${name} failed (${result.error?.message ?? `exit ${result.status}`})\n`);
    process.exit(result.status ?? 1);
  }
}

if ((what === 'all' || what === 'native') && stale('build/Release/duiad.node', ['native', 'binding.gyp'])) {
  step('native engine (node-gyp)', 'node-gyp', ['rebuild', '--nodedir=/usr', '-j', '2']);
}
if ((what === 'all' || what === 'ts') && stale('dist/src/cli/main.js', ['src', 'test', 'benchmarks', 'tsconfig.json'])) {
  step('TypeScript (tsc)', join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json']);
}
