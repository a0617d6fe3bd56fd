/**
 * Child-process half of the addon robustness test (test/torch/robustness.test.ts). It calls
 * every function the raw addon exports with missing and wrong arguments, and prints
 * `CALL <label>` before each call and one `REPORT <json>` line at the end. Run in a child
 * process, a crash (a signal) becomes a test failure that names the last call.
 *
 * Usage: node native-fuzz.js
 */

import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';

type Fn = (...args: unknown[]) => unknown;

interface Handle {
  dispose(): void;
}

const native = createRequire(import.meta.url)('../../../build/Release/duiad.node') as Record<
  string,
  unknown
>;

/** Bindings that take no arguments and succeed without any. */
export const nullaryBindings = [
  'getNumThreads',
  'isGradEnabled',
  'liveTensors',
  'version',
  'cudaAvailable',
  'isAutocast',
  'allocatorStats',
  'emptyCache',
];

/** The classes the addon exports; tested on their own. */
export const classBindings = ['TensorHandle', 'GeneratorHandle'];

/** What the fuzz run found. */
export interface FuzzReport {
  bindings: string[];
  calls: number;
  /** Calls that returned where they had to throw, or threw a malformed error. */
  violations: string[];
}

const zeros = native['zeros'] as (shape: number[], dtype?: string) => Handle;

function disposedHandle(): Handle {
  const h = zeros([2]);
  h.dispose();
  return h;
}

/** Values that no binding accepts as its first argument. */
function badValues(): [string, unknown][] {
  const Generator = native['GeneratorHandle'] as new (seed: number) => unknown;
  return [
    ['undefined', undefined],
    ['null', null],
    ['-1', -1],
    ['1.5', 1.5],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['2^60', 2 ** 60],
    ["'x'", 'x'],
    ["''", ''],
    ["'3'", '3'],
    ['{}', {}],
    ['{handle}', { handle: zeros([2]) }],
    ['{dispose, disposed}', { disposed: false, dispose() {} }],
    ['[1e9, 1e9]', [1e9, 1e9]],
    ['[1.5, 2]', [1.5, 2]],
    ['[-1, 2]', [-1, 2]],
    ["['a', 'b']", ['a', 'b']],
    ['[NaN]', [NaN]],
    ['[null]', [null]],
    ['[{}]', [{}]],
    ['[disposed]', [disposedHandle()]],
    ['disposed', disposedHandle()],
    ['generator', new Generator(1)],
    ['5n', 5n],
    ['symbol', Symbol('s')],
    ['function', () => 1],
    ['Float32Array', new Float32Array(2)],
  ];
}

/** Valid first arguments, so that checks of later arguments run too. */
function validFirsts(): [string, () => unknown][] {
  return [
    ['float32 [2, 3]', () => zeros([2, 3])],
    ['float32 []', () => zeros([])],
    ['float32 [0]', () => zeros([0])],
    ['float32 [1, 1, 3, 3]', () => zeros([1, 1, 3, 3])],
    ['float64 [2, 2, 2]', () => zeros([2, 2, 2], 'float64')],
    ['int64 [4]', () => zeros([4], 'int64')],
    ['bool [2]', () => zeros([2], 'bool')],
    ['[tensor]', () => [zeros([2])]],
    ['[2, 3]', () => [2, 3]],
  ];
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.constructor.name}: ${value.message}`;
  return `${typeof value} ${String(value)}`;
}

/** Runs the whole fuzz; `trace` receives each call's label before the call is made. */
export function fuzz(trace: (label: string) => void): FuzzReport {
  const bindings = Object.keys(native).filter(
    (k) => typeof native[k] === 'function' && !classBindings.includes(k),
  );
  const report: FuzzReport = { bindings, calls: 0, violations: [] };
  const check = (name: string, label: string, args: unknown[], mustThrow: boolean) => {
    trace(label);
    report.calls++;
    let result: unknown;
    try {
      result = (native[name] as Fn)(...args);
    } catch (error) {
      const wellFormed =
        error instanceof Error &&
        [TypeError, RangeError, Error].includes(error.constructor as ErrorConstructor) &&
        new RegExp(`^${name}[:(]`).test(error.message) &&
        !error.message.includes('\n    at ');
      if (!wellFormed) report.violations.push(`${label}: threw ${describe(error)}`);
      return;
    }
    if (mustThrow) report.violations.push(`${label}: returned ${describe(result)}`);
  };

  // No arguments at all.
  for (const name of bindings) {
    check(name, `${name}()`, [], !nullaryBindings.includes(name));
  }

  // The same bad value in the first argument, alone and repeated in all positions.
  const bad = badValues();
  for (const name of bindings.filter((n) => !nullaryBindings.includes(n))) {
    for (const [what, value] of bad) {
      check(name, `${name}(${what})`, [value], true);
      check(name, `${name}(${what} x 9)`, new Array<unknown>(9).fill(value), true);
    }
  }

  // A valid first argument and a bad one after it: errors must still be well formed.
  for (const name of bindings.filter((n) => !nullaryBindings.includes(n))) {
    for (const [firstLabel, first] of validFirsts()) {
      for (const [what, value] of bad) {
        check(name, `${name}(${firstLabel}, ${what})`, [first(), value], false);
        const rest = new Array<unknown>(8).fill(value);
        check(name, `${name}(${firstLabel}, ${what} x 8)`, [first(), ...rest], false);
      }
    }
  }
  return report;
}

if (process.argv[1]?.endsWith('native-fuzz.js')) {
  const report = fuzz((label) => writeSync(1, `CALL ${label}\n`));
  writeSync(1, `REPORT ${JSON.stringify(report)}\n`);
}
