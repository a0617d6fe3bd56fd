/**
 * Errors the HTTP server answers with: each has an HTTP status and a stable code, and is sent
 * as `{ "error": message, "code": code }`.
 */
import type { ErrorCode } from '../errors.js';

/**
 * Stable codes of the server's error answers: the library's own codes (an image that fails to
 * decode is `E_FORMAT`), plus those that only a server has.
 */
export type ServeErrorCode =
  | ErrorCode
  /** The body, an image in it, or a batch is over a limit (413). */
  | 'E_TOO_LARGE'
  /** The Content-Type is not one the endpoint reads (415). */
  | 'E_MEDIA_TYPE'
  /** The queue is full; retry later (503). */
  | 'E_BUSY'
  /** The server is shutting down (503). */
  | 'E_CLOSING'
  /** A worker crashed, or no worker could load the model (500 or 503). */
  | 'E_WORKER'
  /** A job ran past its time limit; its worker was replaced (504). */
  | 'E_TIMEOUT'
  /** No such route (404). */
  | 'E_NO_ROUTE'
  /** Anything unexpected (500). */
  | 'E_INTERNAL';

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: string;
  code: ServeErrorCode;
}

/** An error with the HTTP status and code the server answers it with. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: ServeErrorCode;

  constructor(status: number, code: ServeErrorCode, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}

/** Codes that blame the request or the image: answered with 400. */
const clientCodes: readonly string[] = ['E_USAGE', 'E_NOT_FOUND', 'E_FORMAT', 'E_SHAPE', 'E_VALUE'];

/**
 * The HTTP status for a library error code: faults of the image or the request are 400; faults
 * of the model, the engine, or codes this server does not know are 500.
 */
export function statusForCode(code: string): number {
  return clientCodes.includes(code) ? 400 : 500;
}

/** An error a worker reported, with the code it gave when it is one the server knows. */
export function httpErrorFromWorker(code: string, message: string): HttpError {
  const known = clientCodes.includes(code) || code === 'E_MODEL' || code === 'E_NATIVE';
  return new HttpError(
    statusForCode(code),
    known ? (code as ServeErrorCode) : 'E_INTERNAL',
    message,
  );
}
