import { Bit4bitError } from '../errors.js';

/**
 * A small client for a node's HTTP API (docs/protocols/http-api.md), used by the CLI's
 * `--node URL`. API errors come back as Bit4bitErrors with the node's code: 4xx input
 * errors are `invalid-input` (exit 2), everything else `negative`/`environment` (exit 1).
 */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export async function apiRequest<T>(nodeUrl: string, path: string, init: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs?: number } = {}): Promise<T> {
  let base: URL;
  try {
    base = new URL(nodeUrl);
  } catch {
    throw new Bit4bitError('bad-url', `--node must be a URL such as http://127.0.0.1:8080, got ${JSON.stringify(nodeUrl)}`, 'invalid-input');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Bit4bitError('bad-url', `--node must be an http(s) URL, got ${nodeUrl}`, 'invalid-input');
  const url = new URL(path.replace(/^\//, ''), base.href.endsWith('/') ? base.href : `${base.href}/`);
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method ?? 'GET',
      ...(init.body !== undefined && { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } }),
      signal: AbortSignal.timeout(init.timeoutMs ?? 60_000),
    });
  } catch (e) {
    throw new Bit4bitError('node-unreachable', `cannot reach the node at ${base.origin}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`, 'environment');
  }
  const length = Number(res.headers.get('content-length') ?? 0);
  if (length > MAX_RESPONSE_BYTES) throw new Bit4bitError('too-large', `the node's answer is ${length} bytes, more than ${MAX_RESPONSE_BYTES}`, 'environment');
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Bit4bitError('bad-response', `the node at ${base.origin} answered ${res.status} with something that is not JSON`, 'environment');
  }
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string } }).error;
    const code = err?.code ?? `http-${res.status}`;
    const message = `node: ${err?.message ?? `HTTP ${res.status}`}`;
    throw new Bit4bitError(code, message, res.status === 400 || res.status === 413 ? 'invalid-input' : res.status >= 500 ? 'environment' : 'negative');
  }
  return body as T;
}
