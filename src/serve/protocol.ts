/**
 * Messages between the server's worker pool and its worker threads. Everything here crosses a
 * thread boundary by structured clone, so it is plain data.
 */
import type {
  AnomalyMap,
  EncodedImage,
  ScoredImage,
  ScorerInfo,
  UnscoredImage,
} from '../detect/types.js';

/** What a worker is started with. */
export interface WorkerData {
  /** Absolute path of the module exporting `loadScorer`. */
  scorerModule: string;
  modelPath: string;
  /** Engine threads of this worker (OpenMP threads are set per calling thread); absent = all cores. */
  threads?: number;
}

/** What a job asks of a scorer: scores, or anomaly maps. */
export type JobKind = 'score' | 'map';

/** Results of a job, in the order of its images. */
export type JobResults<K extends JobKind> = K extends 'score'
  ? Array<ScoredImage | UnscoredImage>
  : Array<AnomalyMap | UnscoredImage>;

/** A failure, with the stable code of the error that caused it. */
export interface WireError {
  code: string;
  message: string;
}

/** Pool to worker: a job, or the request to dispose of the scorer and exit. */
export type PoolMessage =
  { type: 'job'; id: number; kind: JobKind; images: EncodedImage[] } | { type: 'stop' };

/** Worker to pool. */
export type WorkerMessage =
  | { type: 'ready'; info: ScorerInfo }
  | { type: 'loadFailed'; error: WireError }
  | { type: 'done'; id: number; results: JobResults<JobKind> }
  | { type: 'failed'; id: number; error: WireError };

/** A thrown value as a wire error: a DuiadError keeps its code, anything else is internal. */
export function toWireError(error: unknown): WireError {
  const message = error instanceof Error ? error.message : String(error);
  const given: unknown = error instanceof Error ? (error as { code?: unknown }).code : undefined;
  const code = typeof given === 'string' ? given : 'E_INTERNAL';
  return { code: code.startsWith('E_') ? code : 'E_INTERNAL', message };
}
