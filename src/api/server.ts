import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { SHA256_DIGEST } from '../canonical/index.js';
import { isBit4bitError } from '../errors.js';
import type { VerifierNode } from '../node/node.js';
import { MAX_SPEC_BYTES, validateSpec } from '../spec/validate.js';

/**
 * The node's HTTP API (docs/protocols/http-api.md). JSON in, JSON out, every input
 * size-limited and validated; errors are `{"error": {"code", "message"}}` with a status
 * that says whose fault it is. The bodies of the query routes are exactly what the CLI
 * prints with --json, so `--node URL` and a local store answer alike.
 */
export type ApiBackend = Pick<VerifierNode, 'consensus' | 'attestations' | 'bundle' | 'submit' | 'signers' | 'health'> & {
  metrics: { registry: { metrics(): Promise<string>; contentType: string } };
};

export interface ApiOptions {
  /** Largest packed source accepted by POST /v1/specs (decoded bytes). */
  maxSourceBytes: number;
  logger?: Logger;
}

/** Bytes of JSON around the spec and the base64 source that a submit body may add. */
const SUBMIT_OVERHEAD = 64 * 1024;

export function createApiServer(backend: ApiBackend, options: ApiOptions): FastifyInstance {
  // No fastify logger: requests are not logged one by one; failures are, below.
  const app = Fastify({ bodyLimit: 64 * 1024, requestTimeout: 120_000, routerOptions: { maxParamLength: 128 } });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isBit4bitError(error)) return sendError(reply, statusFor(error.code, error.kind), error.code, error.message);
    if (error.statusCode && error.statusCode < 500) return sendError(reply, error.statusCode, error.code ?? 'bad-request', error.message);
    options.logger?.error({ err: error.message, url: request.url.slice(0, 200) }, 'API request failed');
    return sendError(reply, 500, 'internal', 'internal error; see the node log');
  });
  app.setNotFoundHandler((request, reply) => sendError(reply, 404, 'no-route', `no route ${request.method} ${request.url.slice(0, 200)}`));

  app.get('/healthz', async () => backend.health());

  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', backend.metrics.registry.contentType);
    return backend.metrics.registry.metrics();
  });

  app.get<{ Params: { id: string } }>('/v1/specs/:id/consensus', async (request) => backend.consensus(specIdParam(request.params.id)));

  app.get<{ Params: { id: string } }>('/v1/specs/:id/attestations', async (request) => {
    const spec = specIdParam(request.params.id);
    return { spec, attestations: await backend.attestations(spec) };
  });

  app.get<{ Params: { id: string } }>('/v1/specs/:id/bundle', async (request) => backend.bundle(specIdParam(request.params.id)));

  app.post<{ Body: unknown }>(
    '/v1/specs',
    { bodyLimit: MAX_SPEC_BYTES + Math.ceil((options.maxSourceBytes * 4) / 3) + SUBMIT_OVERHEAD },
    async (request, reply) => {
      const { spec, source } = parseSubmitBody(request.body, options.maxSourceBytes);
      const result = await backend.submit(validateSpec(spec, 'body.spec'), source);
      reply.code(202);
      return result;
    },
  );

  app.get('/v1/signers', async () => backend.signers());

  app.get<{ Params: { id: string } }>('/v1/signers/:id', async (request) => {
    const id = request.params.id;
    if (id.length > 128) throw apiError(400, 'bad-signer', 'signer must be a keyid (64 hex) or a policy name');
    return (await backend.signers(id))[0];
  });

  return app;
}

function parseSubmitBody(body: unknown, maxSourceBytes: number): { spec: unknown; source?: Buffer } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw apiError(400, 'bad-body', 'body must be a JSON object {"spec": {...}, "source"?: "<base64>"}');
  const { spec, source, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length) throw apiError(400, 'bad-body', `unknown field(s) ${Object.keys(rest).join(', ').slice(0, 200)}; allowed: spec, source`);
  if (spec === undefined) throw apiError(400, 'bad-body', 'body.spec is required: a bit4bit/v1 BuildSpec as a JSON object');
  if (source === undefined) return { spec };
  if (typeof source !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(source)) throw apiError(400, 'bad-body', 'body.source must be standard base64 of the packed source');
  const bytes = Buffer.from(source, 'base64');
  if (bytes.length > maxSourceBytes) throw apiError(413, 'too-large', `source is ${bytes.length} bytes, more than this node's ${maxSourceBytes}-byte limit`);
  return { spec, source: bytes };
}

function specIdParam(id: string): string {
  if (!SHA256_DIGEST.test(id)) throw apiError(400, 'bad-spec-id', 'spec id must be sha256:<64 lowercase hex>');
  return id;
}

/** Whose fault and what kind: not found 404, no quorum yet 409, bad input 400, busy 503, other negative answers 422. */
function statusFor(code: string, kind: string): number {
  if (code === 'unknown-spec' || code === 'unknown-signer' || code === 'not-found') return 404;
  if (code === 'no-quorum') return 409;
  if (code === 'too-large') return 413;
  if (code === 'input-hash-mismatch' || kind === 'invalid-input') return 400;
  if (kind === 'environment') return 503;
  return 422;
}

function sendError(reply: FastifyReply, status: number, code: string, message: string) {
  return reply.code(status).send({ error: { code, message } });
}

function apiError(statusCode: number, code: string, message: string): Error & { statusCode: number; code: string } {
  return Object.assign(new Error(message), { statusCode, code });
}
