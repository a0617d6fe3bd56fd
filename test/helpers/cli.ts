/**
 * Runs the CLI in this process with captured output, as the CLI tests need it.
 */
import { run } from '../../src/cli/program.js';

/** What one run printed and returned. */
export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `duiad ...argv` with a non-interactive, captured CliIO. */
export async function cli(...argv: string[]): Promise<Outcome> {
  const out = { stdout: '', stderr: '' };
  const code = await run(argv, {
    stdout: (text) => {
      out.stdout += text;
    },
    stderr: (text) => {
      out.stderr += text;
    },
    interactive: false,
  });
  return { code, ...out };
}
