/**
 * A pool of scoring worker threads with a bounded queue. Each worker loads the model once and
 * runs one job at a time; a job waits in the queue when every worker is busy, and is refused
 * (503) when the queue is full. A worker that crashes or runs past the time limit fails its job
 * with a 5xx and is replaced.
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

interface Slot {
  index: number;
  worker: Worker;
  state: 'starting' | 'idle' | 'busy' | 'dead';
  job?: Job;
  timer?: NodeJS.Timeout;
}

const workerFile = new URL('./worker.js', import.meta.url);
const stopGraceMs = 5000;

function loadError(error: WireError): DuiadError {
  const known: readonly string[] = ['E_USAGE', 'E_NOT_FOUND', 'E_FORMAT', 'E_SHAPE', 'E_VALUE'];
  const code = (known.includes(error.code) ? error.code : 'E_MODEL') as ErrorCode;
  return new DuiadError(code, error.message);
}

/** A started pool of workers that all loaded the model. */
export class WorkerPool {
  /** The loaded model's summary (from the first worker). */
  readonly info: ScorerInfo;
  private readonly options: PoolOptions;
  private readonly slots: Slot[] = [];
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
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
      throw failed?.reason ?? new DuiadError('E_MODEL', 'serve: no worker started');
    }
    const pool = new WorkerPool(options, first.value);
    for (const slot of slots) pool.adopt(slot);
    return pool;
  }

  /** Current load. */
  stats(): PoolStats {
    const live = this.slots.filter((s) => s.state === 'idle' || s.state === 'busy');
    return {
      workers: this.slots.length,
      ready: live.length,
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
    if (!this.slots.some((s) => s.state !== 'dead')) {
      return Promise.reject(
        new HttpError(503, 'E_WORKER', 'serve: no worker could load the model'),
      );
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
   * Stops the pool. By default it finishes the running and waiting jobs first; with `force` it
   * fails them with 503 E_CLOSING. Then each worker disposes of its scorer and exits.
   */
  async close(options: { force?: boolean } = {}): Promise<void> {
    this.closing = true;
    if (options.force) {
      for (const job of this.queue.splice(0)) job.reject(closingError());
      for (const slot of this.slots) this.failJob(slot, closingError());
      await Promise.all(
        this.slots.map((slot) => {
          slot.state = 'dead';
          return slot.worker.terminate();
        }),
      );
      this.drained?.();
      return;
    }
    if (!this.isDrained()) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
    }
    await Promise.all(this.slots.map((slot) => stopWorker(slot)));
  }

  private adopt(slot: Slot): void {
    this.slots[slot.index] = slot;
    slot.state = 'idle';
    slot.worker.on('message', (message: WorkerMessage) => this.onMessage(slot, message));
    slot.worker.on('exit', (exitCode) => this.onExit(slot, exitCode));
  }

  private dispatch(slot: Slot, job: Job): void {
    slot.state = 'busy';
    slot.job = job;
    const { jobTimeoutMs } = this.options;
    slot.timer = setTimeout(() => {
      this.options.onEvent?.({ type: 'jobTimedOut', worker: slot.index, timeoutMs: jobTimeoutMs });
      const message = `serve: scoring took longer than ${jobTimeoutMs} ms; the worker was replaced`;
      this.failJob(slot, new HttpError(504, 'E_TIMEOUT', message));
      void slot.worker.terminate();
    }, jobTimeoutMs);
    const message: PoolMessage = { type: 'job', id: job.id, kind: job.kind, images: job.images };
    slot.worker.postMessage(
      message,
      job.images.map((image) => image.data.buffer as ArrayBuffer),
    );
  }

  /** Takes the job off a slot and fails it; the slot's state is left to the caller. */
  private failJob(slot: Slot, error: Error): void {
    const job = slot.job;
    clearTimeout(slot.timer);
    slot.job = undefined;
    job?.reject(error);
  }

  private onMessage(slot: Slot, message: WorkerMessage): void {
    const job = slot.job;
    if (message.type !== 'done' && message.type !== 'failed') return;
    if (job === undefined || job.id !== message.id) return;
    clearTimeout(slot.timer);
    slot.job = undefined;
    if (message.type === 'done') job.resolve(message.results);
    else job.reject(httpErrorFromWorker(message.error.code, message.error.message));
    slot.state = 'idle';
    this.next(slot);
  }

  private next(slot: Slot): void {
    const job = this.queue.shift();
    if (job !== undefined) this.dispatch(slot, job);
    else if (this.isDrained()) this.drained?.();
  }

  private isDrained(): boolean {
    return this.queue.length === 0 && this.slots.every((s) => s.state !== 'busy');
  }

  private onExit(slot: Slot, exitCode: number): void {
    if (slot.state === 'dead') return;
    const duringJob = slot.job !== undefined;
    this.options.onEvent?.({ type: 'workerExited', worker: slot.index, exitCode, duringJob });
    const message = `serve: the worker scoring this request stopped (exit code ${exitCode}); it is being replaced`;
    this.failJob(slot, new HttpError(500, 'E_WORKER', message));
    slot.state = 'dead';
    if (this.closing) {
      this.failQueueIfNoWorkers();
      if (this.isDrained()) this.drained?.();
      return;
    }
    this.replace(slot.index);
  }

  private replace(index: number): void {
    const { slot, ready } = spawnWorker(index, this.options);
    this.slots[index] = slot;
    ready.then(
      () => {
        if (this.closing) return void stopWorker(slot);
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
    if (this.slots.some((s) => s.state !== 'dead')) return;
    const error = new HttpError(503, 'E_WORKER', 'serve: no worker could load the model');
    for (const job of this.queue.splice(0)) job.reject(error);
    this.drained?.();
  }
}

function closingError(): HttpError {
  return new HttpError(503, 'E_CLOSING', 'serve: the server is shutting down');
}

/** Starts one worker; `ready` settles when it has loaded the model or failed to. */
function spawnWorker(
  index: number,
  options: PoolOptions,
): { slot: Slot; ready: Promise<ScorerInfo> } {
  const worker = new Worker(workerFile, {
    workerData: { scorerModule: options.scorerModule, modelPath: options.modelPath },
  });
  const slot: Slot = { index, worker, state: 'starting' };
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
      reject(
        new DuiadError(
          'E_MODEL',
          `serve: worker ${index} stopped while loading the model (exit code ${exitCode})`,
        ),
      );
      cleanup();
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('exit', onExit);
  });
  return { slot, ready };
}

/** Asks a worker to dispose of its scorer and exit; terminates it if it does not in time. */
async function stopWorker(slot: Slot): Promise<void> {
  if (slot.state === 'dead') return;
  slot.state = 'dead';
  const exited = new Promise<void>((resolve) => slot.worker.once('exit', () => resolve()));
  slot.worker.postMessage({ type: 'stop' } satisfies PoolMessage);
  const timer = setTimeout(() => void slot.worker.terminate(), stopGraceMs);
  await exited;
  clearTimeout(timer);
}
