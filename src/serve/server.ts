/**
 * The HTTP API: scores images on a pool of worker threads, so the event loop only moves bytes.
 *
 *   POST /score        one image as the raw body (image/png, image/jpeg, image/webp or
 *                      application/octet-stream); `?name=` names it in the answer -> ScoredImage
 *   POST /map          the same body -> the anomaly map, image/png
 *   POST /score/batch  multipart/form-data, one file part per image, named by its filename ->
 *                      an array of ScoredImage or UnscoredImage, in the order of the parts
 *   GET  /health       -> { status, info: ScorerInfo, workers }; 503 unless status is 'ok'
 *
 * Every error answer is `{ error, code }` with a stable code (see `ServeErrorCode`).
 */
import multipart from '@fastify/multipart';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';

import { readImageHeader } from '../data/image-header.js';
import type { EncodedImage, ScorerInfo, UnscoredImage } from '../detect/types.js';
import { isScored } from '../detect/types.js';
import { DuiadError, UsageError } from '../errors.js';
import { type ErrorBody, HttpError, statusForCode } from './errors.js';
import { type PoolEvent, type PoolStats, WorkerPool } from './pool.js';
import { checkScorerModule, defaultScorerModule } from './scorer-module.js';

/** Limits that keep one client from taking the server down. */
export interface ServeLimits {
  /** Largest request body in bytes (one image, or a whole batch); over it: 413. */
  bodyBytes: number;
  /** Most pixels (width x height, read from the header) in one image; over it: 413. */
  pixels: number;
  /** Most images in one batch; over it: 413. */
  batchImages: number;
  /** Jobs (a request to /score, /map or /score/batch) that may wait for a worker; then 503. */
  queue: number;
  /** A job running longer than this (milliseconds) fails with 504; its worker is replaced. */
  jobTimeoutMs: number;
}

/** Defaults of `ServeLimits`. */
export const defaultServeLimits: Readonly<ServeLimits> = {
  bodyBytes: 16 * 1024 * 1024,
  pixels: 40_000_000,
  batchImages: 64,
  queue: 256,
  jobTimeoutMs: 120_000,
};

/** Something for the operator's log: a worker's lifecycle, or an unexpected error (a 500). */
export type ServerEvent = PoolEvent | { type: 'internalError'; message: string };

/** How a server is made. */
export interface ServerOptions {
  /** The model file every worker loads. */
  modelPath: string;
  /** Interface to listen on (default 127.0.0.1, this machine only). */
  host?: string;
  /** TCP port (default 8080; 0 picks a free one). */
  port?: number;
  /**
   * Worker threads, each with its own copy of the model (default 1). The engine already uses
   * every core inside one worker; more workers help when requests are small.
   */
  workers?: number;
  /**
   * Engine threads per worker (default: every core). With several workers, 1 keeps them from
   * competing for the same cores.
   */
  threads?: number;
  limits?: Partial<ServeLimits>;
  /**
   * Module exporting `loadScorer(modelPath)`; default the compiled detect module. Tests point it
   * at a fake scorer.
   */
  scorerModule?: string;
  /** Worker lifecycle events and unexpected errors, for the caller to log. */
  onEvent?: (event: ServerEvent) => void;
}

/** A server whose workers have loaded the model. */
export interface DuiadServer {
  readonly app: FastifyInstance;
  readonly info: ScorerInfo;
  /** Starts listening; resolves to the base URL, e.g. `http://127.0.0.1:8080`. */
  listen(): Promise<string>;
  /** The workers' load. */
  stats(): PoolStats;
  /**
   * Stops accepting requests, finishes those in flight, then stops the workers. With `force`,
   * requests in flight fail with 503 instead of finishing.
   */
  close(options?: { force?: boolean }): Promise<void>;
}

const imageTypes = ['image/png', 'image/jpeg', 'image/webp', 'application/octet-stream'];

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new UsageError(`serve: ${name} must be a positive integer (got ${value})`);
  }
}

function resolveLimits(given: Partial<ServeLimits> = {}): ServeLimits {
  const limits = { ...defaultServeLimits, ...given };
  for (const [name, value] of Object.entries(limits)) checkPositiveInteger(`limits.${name}`, value);
  return limits;
}

/** Checks that `data` is an image within the pixel limit; throws an HttpError if not. */
function checkImage(data: Uint8Array, name: string, limits: ServeLimits): void {
  if (data.length === 0) throw new HttpError(400, 'E_FORMAT', `${name}: the body is empty`);
  const header = readImageHeader(data, name);
  const pixels = header.width * header.height;
  if (pixels > limits.pixels) {
    const size = `${header.width} x ${header.height}`;
    const message = `${name}: ${size} pixels is over the limit of ${limits.pixels}`;
    throw new HttpError(413, 'E_TOO_LARGE', message);
  }
}

function errorReply(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply.code(status).type('application/json').send(body);
}

/** Maps anything a route throws to a status and `{ error, code }`. */
function toErrorBody(error: unknown, limits: ServeLimits): [number, ErrorBody] {
  if (error instanceof HttpError) return [error.status, { error: error.message, code: error.code }];
  if (error instanceof DuiadError) {
    return [statusForCode(error.code), { error: error.message, code: error.code }];
  }
  const status = (error as FastifyError).statusCode ?? 500;
  if (status === 413) {
    const code = (error as FastifyError).code;
    const limit = ['FST_FILES_LIMIT', 'FST_PARTS_LIMIT'].includes(code)
      ? `${limits.batchImages} images`
      : `${limits.bodyBytes} bytes`;
    return [413, { error: `the request is over the limit of ${limit}`, code: 'E_TOO_LARGE' }];
  }
  if (status === 415) {
    const message = `unsupported Content-Type; send ${imageTypes.join(', ')} (or multipart/form-data to /score/batch)`;
    return [415, { error: message, code: 'E_MEDIA_TYPE' }];
  }
  if (status >= 400 && status < 500) {
    return [status, { error: (error as Error).message, code: 'E_USAGE' }];
  }
  return [500, { error: 'internal server error', code: 'E_INTERNAL' }];
}

function rawBody(body: unknown, route: string): Buffer {
  if (Buffer.isBuffer(body)) return body;
  const message = `${route} takes one raw image body (${imageTypes.join(', ')}); send multipart to /score/batch`;
  throw new HttpError(415, 'E_MEDIA_TYPE', message);
}

function imageName(query: { name?: unknown }): string {
  const name = query.name ?? 'image';
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) {
    throw new HttpError(
      400,
      'E_USAGE',
      'the name parameter must be given once, with 1 to 256 characters',
    );
  }
  return name;
}

function unscoredOf(error: unknown, path: string): UnscoredImage {
  if (error instanceof HttpError) return { path, code: 'E_VALUE', error: error.message };
  if (error instanceof DuiadError) return { path, code: error.code, error: error.message };
  throw error;
}

function addRoutes(app: FastifyInstance, pool: WorkerPool, limits: ServeLimits): void {
  app.get('/health', async (_request, reply) => {
    const workers = pool.stats();
    const status = closingApps.has(app) ? 'closing' : workers.ready > 0 ? 'ok' : 'degraded';
    return reply.code(status === 'ok' ? 200 : 503).send({ status, info: pool.info, workers });
  });

  app.post<{ Querystring: { name?: unknown } }>('/score', async (request) => {
    const image = { path: imageName(request.query), data: rawBody(request.body, 'POST /score') };
    checkImage(image.data, image.path, limits);
    const [result] = await pool.run('score', [image]);
    if (result === undefined) throw new HttpError(500, 'E_INTERNAL', 'the scorer returned nothing');
    if (!isScored(result)) {
      throw new HttpError(statusForCode(result.code), result.code, result.error);
    }
    return result;
  });

  app.post<{ Querystring: { name?: unknown } }>('/map', async (request, reply) => {
    const image = { path: imageName(request.query), data: rawBody(request.body, 'POST /map') };
    checkImage(image.data, image.path, limits);
    const [result] = await pool.run('map', [image]);
    if (result === undefined) throw new HttpError(500, 'E_INTERNAL', 'the scorer returned nothing');
    if (!('png' in result)) {
      throw new HttpError(statusForCode(result.code), result.code, result.error);
    }
    return reply.type('image/png').send(Buffer.from(result.png));
  });

  app.post('/score/batch', async (request) => {
    if (!request.isMultipart()) {
      throw new HttpError(415, 'E_MEDIA_TYPE', 'POST /score/batch takes multipart/form-data');
    }

    // Read every file part, keeping the total under the body limit.
    const images: EncodedImage[] = [];
    let total = 0;
    try {
      for await (const part of request.parts()) {
        if (part.type !== 'file') {
          throw new HttpError(400, 'E_USAGE', `batch: field '${part.fieldname}' is not a file`);
        }
        if (part.filename.length > 256) {
          throw new HttpError(400, 'E_USAGE', 'batch: a file name is longer than 256 characters');
        }
        const data = await part.toBuffer();
        total += data.length;
        if (total > limits.bodyBytes) {
          throw new HttpError(
            413,
            'E_TOO_LARGE',
            `batch: over the limit of ${limits.bodyBytes} bytes`,
          );
        }
        images.push({ path: part.filename || `image-${images.length}`, data });
      }
    } catch (error) {
      // The multipart parser's own errors (no boundary, a body cut short) are the client's.
      if (error instanceof HttpError || (error as FastifyError).statusCode !== undefined) {
        throw error;
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new HttpError(400, 'E_FORMAT', `batch: malformed multipart body (${reason})`);
    }
    if (images.length === 0) throw new HttpError(400, 'E_USAGE', 'batch: no image files');

    // Turn away what is not an image here; score the rest as one job.
    const results: Array<ReturnType<typeof unscoredOf> | null> = images.map((image) => {
      try {
        checkImage(image.data, image.path, limits);
        return null;
      } catch (error) {
        return unscoredOf(error, image.path);
      }
    });
    const valid = images.filter((_, i) => results[i] === null);
    const scored = valid.length > 0 ? await pool.run('score', valid) : [];
    if (scored.length !== valid.length) {
      const message = `the scorer returned ${scored.length} results for ${valid.length} images`;
      throw new HttpError(500, 'E_INTERNAL', message);
    }
    let next = 0;
    return results.map((result) => result ?? scored[next++]);
  });
}

/** Apps whose server is closing, for /health. */
const closingApps = new WeakSet<FastifyInstance>();

function buildApp(
  pool: WorkerPool,
  limits: ServeLimits,
  onEvent?: (event: ServerEvent) => void,
): FastifyInstance {
  // Requests that arrive while closing get this server's own 503 below, not fastify's.
  const app = Fastify({ bodyLimit: limits.bodyBytes, logger: false, return503OnClosing: false });

  // Only image bodies (and multipart, below) are read; anything else is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(imageTypes, { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, body);
  });
  void app.register(multipart, {
    limits: { fileSize: limits.bodyBytes, files: limits.batchImages, parts: limits.batchImages },
  });

  // While closing, each answer ends its connection, so that keep-alive clients do not hold the
  // close open until their idle timeout.
  app.addHook('onSend', async (_request, reply) => {
    if (closingApps.has(app)) reply.header('connection', 'close');
  });
  app.addHook('onRequest', async (request) => {
    if (closingApps.has(app) && request.url !== '/health') {
      throw new HttpError(503, 'E_CLOSING', 'serve: the server is shutting down');
    }
  });
  app.setErrorHandler((error, _request, reply) => {
    const [status, body] = toErrorBody(error, limits);
    // The client gets no details of an unexpected error; the operator does.
    if (body.code === 'E_INTERNAL') onEvent?.({ type: 'internalError', message: String(error) });
    if (body.code === 'E_BUSY' || body.code === 'E_CLOSING') reply.header('retry-after', '1');
    return errorReply(reply, status, body);
  });
  app.setNotFoundHandler((request, reply) =>
    errorReply(reply, 404, {
      error: `no route ${request.method} ${request.url}`,
      code: 'E_NO_ROUTE',
    }),
  );
  void app.register(async (scope) => addRoutes(scope, pool, limits));
  return app;
}

/**
 * Starts the workers (each loads the model through the scorer module) and builds the HTTP app,
 * without listening. Rejects with the workers' error (a DuiadError) if the model cannot load.
 */
export async function createServer(options: ServerOptions): Promise<DuiadServer> {
  const limits = resolveLimits(options.limits);
  const workers = options.workers ?? 1;
  checkPositiveInteger('workers', workers);
  if (options.threads !== undefined) {
    checkPositiveInteger('threads', options.threads);
    if (options.threads > 256) {
      throw new UsageError(`serve: threads must be at most 256 (got ${options.threads})`);
    }
  }
  const scorerModule = checkScorerModule(options.scorerModule ?? defaultScorerModule);
  const pool = await WorkerPool.start({
    scorerModule,
    modelPath: options.modelPath,
    workers,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    queue: limits.queue,
    jobTimeoutMs: limits.jobTimeoutMs,
    onEvent: options.onEvent,
  });
  const app = buildApp(pool, limits, options.onEvent);
  let appClosed: Promise<void> | null = null;

  return {
    app,
    info: pool.info,
    stats: () => pool.stats(),
    listen: async () => {
      await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 8080 });
      const address = app.server.address();
      if (address === null || typeof address === 'string') return String(address);
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${host}:${address.port}`;
    },
    close: async ({ force = false } = {}) => {
      closingApps.add(app);
      if (force) {
        await pool.close({ force: true });
        // Uploads still arriving (a stalled client) would otherwise hold the close open.
        app.server.closeAllConnections();
      }
      appClosed ??= app.close();
      await appClosed;
      await pool.close();
    },
  };
}

/** `createServer`, then listen; resolves to the server and its base URL. */
export async function startServer(
  options: ServerOptions,
): Promise<{ server: DuiadServer; url: string }> {
  const server = await createServer(options);
  try {
    return { server, url: await server.listen() };
  } catch (error) {
    await server.close();
    throw error;
  }
}
