/** Entry point of the `duiad` executable: the only place that touches process. */
import { exitCodeFor } from '../errors.js';
import { processIO } from './io.js';

// A reader that stops early (`duiad score … | head`) closes the pipe: stop quietly. Any other
// output failure (a full disk) is one line on stderr.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') {
    process.stderr.write(`error: cannot write the output (${error.code ?? error.message})\n`);
  }
  process.exit(error.code === 'EPIPE' ? 0 : 1);
});

const io = processIO();
try {
  // Imported here so that an engine that fails to load is reported like any other error.
  const { run } = await import('./program.js');
  process.exitCode = await run(process.argv.slice(2), io);
} catch (error) {
  io.stderr(`error: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}\n`);
  process.exitCode = exitCodeFor(error);
}
