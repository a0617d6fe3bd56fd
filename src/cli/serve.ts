/**
 * `duiad serve`: the HTTP API on a model file, until SIGINT or SIGTERM. The first signal
 * finishes the requests in flight and stops; a second answers them with 503 at once and stops
 * when the computation in progress returns.
 */
import { UsageError } from '../errors.js';
import { defaultServeLimits, type ServerEvent, startServer } from '../serve/index.js';
import type { CliIO } from './io.js';
import { modelFileFrom, scorerModuleFromEnv } from './model-file.js';

/** Parsed flags of `duiad serve`. */
export interface ServeFlags {
  model: string;
  host: string;
  port: number;
  workers: number;
  threads: number;
  maxBodyMb: number;
  queue: number;
  json?: boolean;
}

/** Defaults of the serve flags, shared with their help text. */
export const serveDefaults = {
  host: '127.0.0.1',
  port: 8080,
  // Two single-threaded workers: one image's inference gains little from a second thread, and
  // two requests at once use both cores (benchmarks/serve.mjs).
  workers: 2,
  threads: 1,
  maxBodyMb: defaultServeLimits.bodyBytes / 2 ** 20,
  queue: defaultServeLimits.queue,
} as const;

function describe(event: ServerEvent): string {
  switch (event.type) {
    case 'workerReady':
      return `worker ${event.worker} replaced and ready`;
    case 'workerExited':
      return `worker ${event.worker} stopped (exit code ${event.exitCode})${event.duringJob ? ' during a request' : ''}`;
    case 'workerLoadFailed':
      return `worker ${event.worker} could not load the model: ${event.message}`;
    case 'internalError':
      return `internal error (answered 500): ${event.message}`;
    case 'jobTimedOut':
      return `worker ${event.worker} ran past ${event.timeoutMs} ms and is being replaced`;
  }
}

/** Turns an error of listen (port taken, not allowed) into a usage error that says so. */
function listenError(error: unknown, flags: ServeFlags): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const where = `${flags.host}:${flags.port}`;
  if (code === 'EADDRINUSE')
    return new UsageError(`serve: ${where} is in use (choose another --port)`);
  if (code === 'EACCES') return new UsageError(`serve: not allowed to listen on ${where}`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new UsageError(`serve: --host ${flags.host} is not an address of this machine`);
  }
  return error;
}

/** Resolves on the first SIGINT or SIGTERM; `onSecond` runs on the next one. */
function untilSignal(onSecond: () => void): { signalled: Promise<string>; dispose: () => void } {
  const signals = ['SIGINT', 'SIGTERM'] as const;
  let count = 0;
  let resolve: (signal: string) => void = () => undefined;
  const signalled = new Promise<string>((r) => {
    resolve = r;
  });
  const handler = (signal: string) => {
    count += 1;
    if (count === 1) resolve(signal);
    else onSecond();
  };
  for (const signal of signals) process.on(signal, handler);
  return { signalled, dispose: () => signals.forEach((s) => process.off(s, handler)) };
}

/** Runs `duiad serve` until a signal; returns the exit code. */
export async function serveCommand(flags: ServeFlags, io: CliIO): Promise<number> {
  if (flags.host.trim() === '') {
    // An empty host would make the server listen on every interface, which must be asked for.
    throw new UsageError('serve: --host is empty (use 127.0.0.1, or 0.0.0.0 for every interface)');
  }
  const modelPath = await modelFileFrom(flags.model, 'serve');
  const log = (text: string) => io.stderr(`duiad serve: ${text}\n`);
  const started = await startServer({
    modelPath,
    host: flags.host,
    port: flags.port,
    workers: flags.workers,
    threads: flags.threads,
    limits: { bodyBytes: Math.round(flags.maxBodyMb * 2 ** 20), queue: flags.queue },
    scorerModule: scorerModuleFromEnv(),
    onEvent: (event) => log(describe(event)),
  }).catch((error: unknown) => {
    throw listenError(error, flags);
  });
  const { server, url } = started;
  const { signalled, dispose } = untilSignal(() => {
    log('second signal: answering requests in flight with 503; stopping when the engine returns');
    void server.close({ force: true });
  });
  log(
    `${server.info.method} model ${modelPath} on ${url} (${flags.workers} workers, ${flags.threads} engine threads each)`,
  );
  if (flags.json) io.stdout(`${JSON.stringify({ url, info: server.info })}\n`);

  const signal = await signalled;
  log(`${signal}: finishing requests in flight`);
  try {
    await server.close();
  } finally {
    dispose();
  }
  log('stopped');
  return 0;
}
