/**
 * The HTTP server: scoring on worker threads behind a bounded queue (see `server.ts` for the
 * endpoints).
 */
export {
  createServer,
  defaultServeLimits,
  startServer,
  type DuiadServer,
  type ServeLimits,
  type ServerEvent,
  type ServerOptions,
} from './server.js';
export { HttpError, type ErrorBody, type ServeErrorCode } from './errors.js';
export type { PoolEvent, PoolStats } from './pool.js';
export { defaultScorerModule, importLoadScorer, type LoadScorer } from './scorer-module.js';
