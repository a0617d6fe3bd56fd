/**
 * A pool of scoring worker threads with a bounded queue. Each worker loads the model once and
 * runs one job at a time; a job waits in the queue when every worker is busy, and is refused
 * (503) when the queue is full. A worker that crashes fails its job with a 500 and is replaced;
 * one that runs past the time limit fails its job with a 504, is replaced at once, and stops
 * when its computation returns.
 *
 * A timed-out or forced-out worker is first asked to stop, so that it can finish its current
 * call and free its model; one that still runs after the grace period is terminated, even
 * inside an engine call (the addon survives that: see test/serve/native-worker.test.ts).
 */
import { Worker } from 'node:worker_threads';

import type { EncodedImage, ScorerInfo } from '../detect/types.js';
import { DuiadError, type ErrorCode } from '../errors.js';
import { HttpError, httpErrorFromWorker } from './errors.js';
import type { JobKind, JobResults, PoolMessage, WireError, WorkerMessage } from './protocol.js';

/** Something that happened to a worker, for the caller to log. */
export type PoolEvent =
  | { type: 'workerReady'; worker: number }
  | { type: 'workerExited'; worker: number; exitCode: number; duringJob: boolean }
  | { type: 'workerLoadFailed'; worker: number; code: string; message: string }
  | { type: 'jobTimedOut'; worker: number; timeoutMs: number };

/** How a pool is started. */
export interface PoolOptions {
  /** Absolute path of the module exporting `loadScorer`. */
  scorerModule: string;
  modelPath: string;
  /** Engine threads per worker; absent = the engine's default (every core). */
  threads?: number;
  /** Worker threads, each with its own copy of the model. */
  workers: number;
  /** Jobs that may wait for a worker; one more is refused with 503. */
  queue: number;
  /** A job running longer than this (milliseconds) fails with 504 and its worker is replaced. */
  jobTimeoutMs: number;
  onEvent?: (event: PoolEvent) => void;
}

/** The pool's load, for `/health`. */
export interface PoolStats {
  workers: number;
  ready: number;
  active: number;
  waiting: number;
  maxWaiting: number;
}

interface Job {
  id: number;
  kind: JobKind;
  images: EncodedImage[];
  resolve: (results: JobResults<JobKind>) => void;
  reject: (error: Error) => void;
}

/**
 * One worker. `starting`: loading the model; `idle`, `busy`: serving; `retiring`: timed out,
 * replaced, finishing its computation before it stops; `stopping`: asked to stop by `close`;
 * `dead`: exited.
 */
interface Slot {
  index: number;
  worker: Worker;
  state: 'starting' | 'idle' | 'busy' | 'retiring' | 'stopping' | 'dead';
  /** The request waiting on this worker; gone once answered, failed or timed out. */
  job?: Job;
  /** The worker is loading or running a job it has not answered yet. */
  computing: boolean;
  stopRequested: boolean;
  timer?: NodeJS.Timeout;
  exited: Promise<void>;
}

const workerFile = new URL('./worker.js', import.meta.url);
/** How long a worker with nothing to compute may take to stop before it is terminated. */
const stopGraceMs = 5000;

function loadError(error: WireError): DuiadError {
  const known: readonly string[] = ['E_USAGE', 'E_NOT_FOUND', 'E_FORMAT', 'E_SHAPE', 'E_VALUE'];
  const code = (known.includes(error.code) ? error.code : 'E_MODEL') as ErrorCode;
  return new DuiadError(code, error.message);
}

function closingError(): HttpError {
  return new HttpError(503, 'E_CLOSING', 'serve: the server is shutting down');
}

function isServing(slot: Slot): boolean {
  return slot.state === 'starting' || slot.state === 'idle' || slot.state === 'busy';
}

/** A started pool of workers that all loaded the model. */
export class WorkerPool {
  /** The loaded model's summary (from the first worker). */
  readonly info: ScorerInfo;
  private readonly options: PoolOptions;
  private readonly slots: Slot[] = [];
  /** Timed-out workers finishing their computation; they hold no request. */
  private readonly retiring = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closing = false;
  private drained: (() => void) | null = null;

  private constructor(options: PoolOptions, info: ScorerInfo) {
    this.options = options;
    this.info = info;
  }

  /**
   * Starts `options.workers` workers and waits until each has loaded the model. Rejects with a
   * DuiadError carrying the worker's error code (E_MODEL when it had none) if any fails.
   */
  static async start(options: PoolOptions): Promise<WorkerPool> {
    const slots: Slot[] = [];
    const loads = Array.from({ length: options.workers }, (_, index) => {
      const { slot, ready } = spawnWorker(index, options);
      slots.push(slot);
      return ready;
    });
    const settled = await Promise.allSettled(loads);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    const first = settled[0];
    if (failed !== undefined || first?.status !== 'fulfilled') {
      // Every worker has loaded or failed by now: none is inside an engine call.
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
      throw failed?.reason ?? new DuiadError('E_MODEL', 'serve: no worker started');
    }
    const pool = new WorkerPool(options, first.value);
    for (const slot of slots) pool.adopt(slot);
    return pool;
  }

  /** Current load. */
  stats(): PoolStats {
    return {
      workers: this.slots.length,
      ready: this.slots.filter((s) => s.state === 'idle' || s.state === 'busy').length,
      active: this.slots.filter((s) => s.state === 'busy').length,
      waiting: this.queue.length,
      maxWaiting: this.options.queue,
    };
  }

  /**
   * Scores images, or draws their anomaly maps, on the next free worker. Rejects with an
   * HttpError: 503 E_BUSY when the queue is full, 503 E_CLOSING after `close`, 500 E_WORKER if
   * the worker crashes, 504 E_TIMEOUT past the time limit; with the scorer's code if it throws.
   */
  run<K extends JobKind>(kind: K, images: readonly EncodedImage[]): Promise<JobResults<K>> {
    if (this.closing) return Promise.reject(closingError());
    if (!this.slots.some(isServing)) {
      const message = 'serve: no worker could load the model';
      return Promise.reject(new HttpError(503, 'E_WORKER', message));
    }
    const idle = this.slots.find((s) => s.state === 'idle');
    if (idle === undefined && this.queue.length >= this.options.queue) {
      const { queue } = this.options;
      return Promise.reject(
        new HttpError(503, 'E_BUSY', `serve: busy (${queue} jobs already waiting); retry later`),
      );
    }
    return new Promise<JobResults<K>>((resolve, reject) => {
      // Copies, so that transferring them to the worker detaches nothing the caller holds.
      const owned = images.map((image) => ({ path: image.path, data: image.data.slice() }));
      const job: Job = {
        id: this.nextId++,
        kind,
        images: owned,
        resolve: resolve as (results: JobResults<JobKind>) => void,
        reject,
      };
      if (idle !== undefined) this.dispatch(idle, job);
      else this.queue.push(job);
    });
  }

  /**
   * Stops the pool: refuses new jobs, then by default finishes the running and waiting jobs;
   * with `force` it fails them at once with 503 E_CLOSING. Each worker then disposes of its
   * scorer and exits; the promise resolves when all have, which for a forced-out worker is when
   * its current computation returns (see the NOTE above).
   */
  async close(options: { force?: boolean } = {}): Promise<void> {
    this.closing = true;
    if (options.force) {
      for (const job of this.queue.splice(0)) job.reject(closingError());
      for (const slot of this.slots) this.failJob(slot, closingError());
      this.drained?.();
    } else if (!this.isDrained()) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
    }
    await Promise.all([...this.slots, ...this.retiring].map((slot) => this.stopWorker(slot)));
  }

  private adopt(slot: Slot): void {
    this.slots[slot.index] = slot;
    slot.state = 'idle';
    slot.computing = false;
    slot.worker.on('message', (message: WorkerMessage) => this.onMessage(slot, message));
    slot.worker.on('exit', (exitCode) => this.onExit(slot, exitCode));
  }

  private dispatch(slot: Slot, job: Job): void {
    slot.state = 'busy';
    slot.job = job;
    slot.computing = true;
    slot.timer = setTimeout(() => this.timedOut(slot), this.options.jobTimeoutMs);
    const message: PoolMessage = { type: 'job', id: job.id, kind: job.kind, images: job.images };
    const buffers = job.images.map((image) => image.data.buffer as ArrayBuffer);
    slot.worker.postMessage(message, buffers);
  }

  /** Fails the job with 504, replaces the worker and lets it stop once its computation returns. */
  private timedOut(slot: Slot): void {
    const { jobTimeoutMs } = this.options;
    this.options.onEvent?.({ type: 'jobTimedOut', worker: slot.index, timeoutMs: jobTimeoutMs });
    const message = `serve: scoring took longer than ${jobTimeoutMs} ms; the worker was replaced`;
    this.failJob(slot, new HttpError(504, 'E_TIMEOUT', message));
    slot.state = 'retiring';
    this.retiring.add(slot);
    this.requestStop(slot);
    if (this.closing) this.checkDrained();
    else this.replace(slot.index);
  }

  /** Takes the job off a slot and fails it; the worker may still be computing it. */
  private failJob(slot: Slot, error: Error): void {
    const job = slot.job;
    clearTimeout(slot.timer);
    slot.job = undefined;
    job?.reject(error);
  }

  private onMessage(slot: Slot, message: WorkerMessage): void {
    if (message.type !== 'done' && message.type !== 'failed') return;
    slot.computing = false;
    const job = slot.job;
    if (job !== undefined && job.id === message.id) {
      clearTimeout(slot.timer);
      slot.job = undefined;
      if (message.type === 'done') job.resolve(message.results);
      else job.reject(httpErrorFromWorker(message.error.code, message.error.message));
    }
    if (slot.state !== 'busy') return;
    slot.state = 'idle';
    this.next(slot);
  }

  private next(slot: Slot): void {
    const job = this.queue.shift();
    if (job !== undefined) this.dispatch(slot, job);
    else this.checkDrained();
  }

  private isDrained(): boolean {
    return this.queue.length === 0 && this.slots.every((s) => s.state !== 'busy');
  }

  private checkDrained(): void {
    if (this.isDrained()) this.drained?.();
  }

  private onExit(slot: Slot, exitCode: number): void {
    const previous = slot.state;
    slot.state = 'dead';
    slot.computing = false;
    this.retiring.delete(slot);
    if (previous === 'stopping' || previous === 'dead') return;
    const duringJob = slot.job !== undefined;
    this.options.onEvent?.({ type: 'workerExited', worker: slot.index, exitCode, duringJob });
    if (previous === 'retiring') return;
    const message = `serve: the worker scoring this request stopped (exit code ${exitCode}); it is being replaced`;
    this.failJob(slot, new HttpError(500, 'E_WORKER', message));
    if (this.closing) {
      this.failQueueIfNoWorkers();
      this.checkDrained();
    } else {
      this.replace(slot.index);
    }
  }

  private replace(index: number): void {
    const { slot, ready } = spawnWorker(index, this.options);
    this.slots[index] = slot;
    ready.then(
      () => {
        // `close` may have asked this worker to stop while it loaded.
        if (this.closing) return void this.stopWorker(slot);
        this.adopt(slot);
        this.options.onEvent?.({ type: 'workerReady', worker: index });
        this.next(slot);
      },
      (error: DuiadError) => {
        slot.state = 'dead';
        const { code, message } = error;
        this.options.onEvent?.({ type: 'workerLoadFailed', worker: index, code, message });
        this.failQueueIfNoWorkers();
      },
    );
  }

  private failQueueIfNoWorkers(): void {
    if (this.slots.some(isServing)) return;
    const error = new HttpError(503, 'E_WORKER', 'serve: no worker could load the model');
    for (const job of this.queue.splice(0)) job.reject(error);
    this.checkDrained();
  }

  private requestStop(slot: Slot): void {
    if (slot.stopRequested || slot.state === 'dead') return;
    slot.stopRequested = true;
    slot.worker.postMessage({ type: 'stop' } satisfies PoolMessage);
  }

  /**
   * Asks a worker to stop (after its current job) and waits until it exits. A worker that
   * still runs after the grace period is terminated.
   */
  private async stopWorker(slot: Slot): Promise<void> {
    if (slot.state === 'dead') return;
    if (slot.state !== 'retiring') slot.state = 'stopping';
    this.requestStop(slot);
    const check = setInterval(() => void slot.worker.terminate(), stopGraceMs);
    await slot.exited;
    clearInterval(check);
  }
}

/** Starts one worker; `ready` settles when it has loaded the model or failed to. */
function spawnWorker(
  index: number,
  options: PoolOptions,
): { slot: Slot; ready: Promise<ScorerInfo> } {
  const worker = new Worker(workerFile, {
    workerData: {
      scorerModule: options.scorerModule,
      modelPath: options.modelPath,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
    },
  });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const slot: Slot = {
    index,
    worker,
    state: 'starting',
    computing: true,
    stopRequested: false,
    exited,
  };
  // An uncaught exception in the worker ends in 'exit', which the pool handles; without a
  // listener, the 'error' event would end the server too.
  worker.on('error', () => undefined);
  const ready = new Promise<ScorerInfo>((resolve, reject) => {
    const onMessage = (message: WorkerMessage) => {
      if (message.type === 'ready') resolve(message.info);
      if (message.type === 'loadFailed') reject(loadError(message.error));
      if (message.type === 'ready' || message.type === 'loadFailed') cleanup();
    };
    const onExit = (exitCode: number) => {
      const message = `serve: worker ${index} stopped while loading the model (exit code ${exitCode})`;
      reject(new DuiadError('E_MODEL', message));
      cleanup();
    };
    const cleanup = () => {
      slot.computing = false;
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('exit', onExit);
  });
  return { slot, ready };
}
