import type { Connection, PeerId, Stream } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { Attestation } from '../attestation/attestation.js';
import type { EnvelopeJson } from '../attestation/dsse.js';
import { SHA256_DIGEST } from '../canonical/index.js';
import type { Announcement } from './announcement.js';
import { FrameStream, isRecord, ProtocolError } from './frames.js';
import type { NetNode } from './libp2p.js';
import {
  MAX_SYNC_REQUEST_BYTES,
  MAX_SYNC_RESPONSE_BYTES,
  SYNC_ANNOUNCEMENTS_PAGE,
  SYNC_ENVELOPES_BATCH,
  SYNC_IDS_PAGE,
  SYNC_PROTOCOL,
  SYNC_SPECS_PAGE,
} from './protocols.js';
import { GossipAction, GossipValidationError } from './validation/errors.js';

/**
 * `/bit4bit/sync/1`: catch-up by set reconciliation (docs/protocols/sync.md). The
 * client pages through the server's announcement ids and per-spec summaries
 * (envelope count + hash of the sorted envelope ids), descends only into specs whose
 * summary differs from its own, and fetches the envelopes it lacks by id. Everything
 * received is validated by the same rules as gossip.
 */

/** What a spec looks like from far away: equal summaries mean equal envelope sets. */
export interface SpecSummary {
  spec: string;
  count: number;
  /** hex sha256 of the sorted envelope ids joined with "\n". */
  hash: string;
}

/** What the server side reads. Every list is sorted ascending and starts after `after`. */
export interface SyncSource {
  specSummaries(after: string | undefined, limit: number): Promise<SpecSummary[]>;
  envelopeIds(spec: string, after: string | undefined, limit: number): Promise<string[]>;
  getEnvelope(id: string): Promise<EnvelopeJson | undefined>;
  announcementIds(after: string | undefined, limit: number): Promise<string[]>;
  getAnnouncement(id: string): Promise<EnvelopeJson | undefined>;
}

/** What the client side needs: its own view, and validation + ingest shared with gossip. */
export interface SyncSink {
  specSummary(spec: string): Promise<SpecSummary | undefined>;
  hasEnvelope(id: string): Promise<boolean>;
  hasAnnouncement(id: string): Promise<boolean>;
  /** Validates like gossip (throws GossipValidationError) and returns the attestation. */
  validateAttestation(data: Uint8Array): Promise<Attestation>;
  validateAnnouncement(data: Uint8Array): Promise<Announcement>;
  ingestAttestations(atts: Attestation[]): Promise<void>;
  ingestAnnouncement(ann: Announcement): Promise<void>;
}

export interface SyncStats {
  announcements: number;
  envelopes: number;
  specsCompared: number;
  specsDiffering: number;
}

type Request =
  | { type: 'announcement-ids'; after?: string }
  | { type: 'announcements'; ids: string[] }
  | { type: 'specs'; after?: string }
  | { type: 'envelope-ids'; spec: string; after?: string }
  | { type: 'envelopes'; ids: string[] };

/** Registers the server side. Each stream is a session of requests until the client half-closes. */
export async function handleSync(net: NetNode, source: SyncSource, onError?: (e: Error, peer: string) => void): Promise<void> {
  await net.handle(
    SYNC_PROTOCOL,
    async (stream: Stream, connection: Connection) => {
      const frames = new FrameStream(stream, MAX_SYNC_REQUEST_BYTES, 30_000);
      try {
        for (;;) {
          const value = await frames.readJson();
          if (value === null) break;
          let request: Request;
          try {
            request = parseRequest(value);
          } catch (e) {
            await frames.writeJson({ error: { code: (e as ProtocolError).code ?? 'bad-request', message: (e as Error).message } });
            break;
          }
          await frames.writeJson(await answer(source, request));
        }
        await frames.close();
      } catch (e) {
        onError?.(e as Error, connection.remotePeer.toString());
        frames.abort(e as Error);
      }
    },
    { maxInboundStreams: 4 },
  );
}

async function answer(source: SyncSource, r: Request): Promise<unknown> {
  switch (r.type) {
    case 'announcement-ids': {
      const ids = await source.announcementIds(r.after, SYNC_IDS_PAGE);
      return { ids, next: ids.length === SYNC_IDS_PAGE ? ids.at(-1)! : null };
    }
    case 'announcements':
      return { announcements: await Promise.all(r.ids.map(async (id) => (await source.getAnnouncement(id)) ?? null)) };
    case 'specs': {
      const specs = await source.specSummaries(r.after, SYNC_SPECS_PAGE);
      return { specs, next: specs.length === SYNC_SPECS_PAGE ? specs.at(-1)!.spec : null };
    }
    case 'envelope-ids': {
      const ids = await source.envelopeIds(r.spec, r.after, SYNC_IDS_PAGE);
      return { ids, next: ids.length === SYNC_IDS_PAGE ? ids.at(-1)! : null };
    }
    case 'envelopes':
      return { envelopes: await Promise.all(r.ids.map(async (id) => (await source.getEnvelope(id)) ?? null)) };
  }
}

function parseRequest(v: unknown): Request {
  if (!isRecord(v) || typeof v.type !== 'string') throw new ProtocolError('bad-request', 'a request is an object with a "type"');
  const after = optionalDigest(v.after, 'after');
  switch (v.type) {
    case 'announcement-ids':
    case 'specs':
      return { type: v.type, ...(after && { after }) };
    case 'envelope-ids':
      return { type: v.type, spec: digest(v.spec, 'spec'), ...(after && { after }) };
    case 'announcements':
      return { type: v.type, ids: digestList(v.ids, SYNC_ANNOUNCEMENTS_PAGE) };
    case 'envelopes':
      return { type: v.type, ids: digestList(v.ids, SYNC_ENVELOPES_BATCH) };
    default:
      throw new ProtocolError('unknown-request', `unknown request type ${JSON.stringify(v.type).slice(0, 64)}`);
  }
}

function digest(v: unknown, field: string): string {
  if (typeof v !== 'string' || !SHA256_DIGEST.test(v)) throw new ProtocolError('bad-request', `${field} must be sha256:<64 hex>`);
  return v;
}
function optionalDigest(v: unknown, field: string): string | undefined {
  return v === undefined || v === null ? undefined : digest(v, field);
}
function digestList(v: unknown, max: number): string[] {
  if (!Array.isArray(v) || v.length > max) throw new ProtocolError('bad-request', `ids must be an array of at most ${max} ids`);
  return v.map((x) => digest(x, 'ids[]'));
}

/**
 * The client side: one session with one peer, fetching every announcement and
 * envelope it has that we lack. Throws ProtocolError when the peer breaks the
 * protocol or sends something invalid (the caller should stop trusting the peer).
 */
export async function syncWith(net: NetNode, peer: PeerId | Multiaddr, sink: SyncSink, options: { signal?: AbortSignal; sessionMs?: number } = {}): Promise<SyncStats> {
  // A session has a deadline: a peer cannot keep us paging forever.
  const signal = AbortSignal.any([AbortSignal.timeout(options.sessionMs ?? 300_000), ...(options.signal ? [options.signal] : [])]);
  const stream = await net.dialProtocol(peer, SYNC_PROTOCOL, { signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]) });
  const frames = new FrameStream(stream, MAX_SYNC_RESPONSE_BYTES, 30_000);
  const stats: SyncStats = { announcements: 0, envelopes: 0, specsCompared: 0, specsDiffering: 0 };
  const ask: Ask = async (request) => {
    signal.throwIfAborted();
    await frames.writeJson(request);
    const response = await frames.readJson();
    if (!isRecord(response)) throw new ProtocolError('bad-response', `no answer to ${request.type}`);
    if (response.error !== undefined) throw new ProtocolError('peer-error', `peer refused ${request.type}: ${JSON.stringify(response.error).slice(0, 200)}`);
    return response;
  };
  try {
    // 1. Announcements: the specs the network was asked to rebuild.
    const announcementIds = (after?: string): Request => ({ type: 'announcement-ids', ...(after && { after }) });
    for await (const batch of missingIdBatches(ask, announcementIds, (id) => sink.hasAnnouncement(id), SYNC_ANNOUNCEMENTS_PAGE)) {
      const got = responseList((await ask({ type: 'announcements', ids: batch })).announcements, batch.length, 'announcements');
      for (const [j, env] of got.entries()) {
        if (env === null) continue; // gone since listed: fine
        const ann = await validated(() => sink.validateAnnouncement(Buffer.from(JSON.stringify(env))));
        if (!ann) continue;
        if (ann.id !== batch[j]) throw new ProtocolError('wrong-content', `asked for announcement ${batch[j]}, got ${ann.id}`);
        await sink.ingestAnnouncement(ann);
        stats.announcements++;
      }
    }

    // 2. Envelopes, spec by spec, only where the summaries differ.
    for (let after: string | undefined; ; ) {
      const page = await ask({ type: 'specs', ...(after && { after }) });
      const specs = responseSummaries(page.specs, after);
      for (const remote of specs) {
        stats.specsCompared++;
        const local = await sink.specSummary(remote.spec);
        if (local && local.hash === remote.hash) continue;
        stats.specsDiffering++;
        stats.envelopes += await syncSpec(remote.spec, ask, sink);
      }
      after = nextCursor(page.next, after);
      if (!after) break;
    }
    await frames.close();
    return stats;
  } catch (e) {
    frames.abort(e as Error);
    throw e;
  }
}

async function syncSpec(spec: string, ask: Ask, sink: SyncSink): Promise<number> {
  let fetched = 0;
  const envelopeIds = (after?: string): Request => ({ type: 'envelope-ids', spec, ...(after && { after }) });
  for await (const batch of missingIdBatches(ask, envelopeIds, (id) => sink.hasEnvelope(id), SYNC_ENVELOPES_BATCH)) {
    const got = responseList((await ask({ type: 'envelopes', ids: batch })).envelopes, batch.length, 'envelopes');
    const atts: Attestation[] = [];
    for (const [j, env] of got.entries()) {
      if (env === null) continue;
      const att = await validated(() => sink.validateAttestation(Buffer.from(JSON.stringify(env))));
      if (!att) continue;
      if (att.id !== batch[j]) throw new ProtocolError('wrong-content', `asked for envelope ${batch[j]}, got ${att.id}`);
      if (att.spec !== spec) throw new ProtocolError('wrong-content', `envelope ${att.id} is about ${att.spec}, listed under ${spec}`);
      atts.push(att);
    }
    await sink.ingestAttestations(atts);
    fetched += atts.length;
  }
  return fetched;
}

type Ask = (r: Request) => Promise<Record<string, unknown>>;

/**
 * Pages through a peer's id listing (`list(after)`, SYNC_IDS_PAGE ids a page) and yields
 * the ids we lack in batches of `size`; the next page is asked for only once the
 * caller has handled every batch of this one.
 */
async function* missingIdBatches(ask: Ask, list: (after?: string) => Request, has: (id: string) => Promise<boolean>, size: number): AsyncGenerator<string[]> {
  for (let after: string | undefined; ; ) {
    const page = await ask(list(after));
    const ids = responseIds(page.ids, SYNC_IDS_PAGE, after);
    const missing = [];
    for (const id of ids) if (!(await has(id))) missing.push(id);
    for (let i = 0; i < missing.length; i += size) yield missing.slice(i, i + size);
    after = nextCursor(page.next, after);
    if (!after) return;
  }
}

/** Runs a gossip validation: IGNORE → undefined, REJECT → ProtocolError (the peer sent garbage). */
async function validated<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof GossipValidationError) {
      if (e.action === GossipAction.IGNORE) return undefined;
      throw new ProtocolError(`invalid-${e.code}`, `peer sent an invalid item: ${e.message}`);
    }
    throw e;
  }
}

function responseIds(v: unknown, max: number, after: string | undefined): string[] {
  if (!Array.isArray(v) || v.length > max) throw new ProtocolError('bad-response', `ids must be an array of at most ${max}`);
  let last = after ?? '';
  for (const id of v) {
    if (typeof id !== 'string' || !SHA256_DIGEST.test(id)) throw new ProtocolError('bad-response', 'ids must be sha256:<hex>');
    // Strictly ascending: guarantees paging terminates.
    if (id <= last) throw new ProtocolError('bad-response', 'ids must be sorted ascending, after the cursor');
    last = id;
  }
  return v as string[];
}

function responseList(v: unknown, length: number, field: string): (unknown | null)[] {
  if (!Array.isArray(v) || v.length !== length) throw new ProtocolError('bad-response', `${field} must have one entry per requested id`);
  return v;
}

function responseSummaries(v: unknown, after: string | undefined): SpecSummary[] {
  if (!Array.isArray(v) || v.length > SYNC_SPECS_PAGE) throw new ProtocolError('bad-response', `specs must be an array of at most ${SYNC_SPECS_PAGE}`);
  let last = after ?? '';
  return v.map((s) => {
    if (!isRecord(s) || typeof s.spec !== 'string' || !SHA256_DIGEST.test(s.spec) || s.spec <= last) {
      throw new ProtocolError('bad-response', 'specs[] must be sorted summaries with a sha256:<hex> spec id');
    }
    if (!Number.isSafeInteger(s.count) || (s.count as number) < 0 || typeof s.hash !== 'string' || !/^[0-9a-f]{64}$/.test(s.hash)) {
      throw new ProtocolError('bad-response', 'specs[] summaries need a count and a hex hash');
    }
    last = s.spec;
    return { spec: s.spec, count: s.count as number, hash: s.hash };
  });
}

/** The next page's cursor; it must move forward, so a session always ends. */
function nextCursor(v: unknown, previous: string | undefined): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'string' || !SHA256_DIGEST.test(v)) throw new ProtocolError('bad-response', 'next must be null or sha256:<hex>');
  if (previous !== undefined && v <= previous) throw new ProtocolError('bad-response', 'next must be after the previous cursor');
  return v;
}
