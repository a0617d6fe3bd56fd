/** Where the CLI writes: injected so tests can capture output. */
export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Whether stderr is a terminal (progress bars) or a log (one line per epoch). */
  interactive: boolean;
}

/** The process's own streams. */
export function processIO(): CliIO {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    interactive: Boolean(process.stderr.isTTY),
  };
}
