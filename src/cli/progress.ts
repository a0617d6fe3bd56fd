/**
 * Draws fit progress on stderr: a bar per epoch on a terminal, one line per epoch otherwise.
 */
import cliProgress from 'cli-progress';

import type { FitEvent } from '../methods/detector.js';
import type { CliIO } from './io.js';

/** Returns a FitEvent listener that reports to `io.stderr`, and a function to close it. */
export function progressReporter(io: CliIO): {
  onProgress: (e: FitEvent) => void;
  close: () => void;
} {
  let bar: cliProgress.SingleBar | undefined;
  const close = () => {
    bar?.stop();
    bar = undefined;
  };
  const onProgress = (e: FitEvent): void => {
    if (e.type === 'start') {
      io.stderr(
        `training ${e.method} on ${e.images} images: ${e.epochs} epochs × ${e.stepsPerEpoch} steps\n`,
      );
    } else if (e.type === 'step' && io.interactive) {
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            format: 'epoch {epoch} [{bar}] {value}/{total} loss {loss}',
            stream: process.stderr,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(e.steps, 0, { epoch: e.epoch, loss: '-' });
      }
      bar.update(e.step, { epoch: e.epoch, loss: e.loss.toFixed(3) });
    } else if (e.type === 'epoch') {
      close();
      const terms = Object.entries(e.terms)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join(', ');
      io.stderr(
        `epoch ${e.epoch}/${e.epochs}: loss ${e.loss.toFixed(4)} (${terms}) in ${e.seconds.toFixed(1)} s\n`,
      );
    } else if (e.type === 'done') {
      close();
      io.stderr(`trained in ${e.seconds.toFixed(1)} s\n`);
    }
  };
  return { onProgress, close };
}
