import type { IdentifyResult, PeerId } from '@libp2p/interface';
import type { FastifyInstance } from 'fastify';
import { multiaddr } from '@multiformats/multiaddr';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createAttestation, type Attestation, type RebuildResult } from '../attestation/attestation.js';
import { FAILURE_CLASSES, type FailureClass } from '../attestation/statement.js';
import { createApiServer } from '../api/server.js';
import { auditSigners, type SignerAudit } from '../audit/audit.js';
import { createBundle, type QuorumBundle } from '../bundle/bundle.js';
import { BlobCache } from '../cache/blob-cache.js';
import { evaluateConsensus, type ConsensusResult, type ConsensusState } from '../consensus/consensus.js';
import { sha256Hex } from '../canonical/index.js';
import { Bit4bitError, invalidInput, isBit4bitError } from '../errors.js';
import type { Signer } from '../keys/keys.js';
import { createAnnouncement, type Announcement } from '../net/announcement.js';
import { BlobExchange } from '../net/blob-exchange.js';
import { Gossip } from '../net/gossip.js';
import { loadOrCreatePeerKey } from '../net/identity.js';
import { createNetNode, type NetNode } from '../net/libp2p.js';
import { SYNC_PROTOCOL } from '../net/protocols.js';
import { handleSync, syncWith, type SpecSummary, type SyncSink, type SyncSource, type SyncStats } from '../net/sync.js';
import { validateGossipAttestation } from '../net/validation/attestation.js';
import { GossipAction } from '../net/validation/errors.js';
import { validateGossipSpec } from '../net/validation/spec.js';
import type { TrustPolicy } from '../policy/policy.js';
import type { LoadedSpec } from '../spec/types.js';
import { AttestationStore, type IngestStatus } from '../store/store.js';
import { AnnouncementStore } from './announcements.js';
import { Batcher } from './batcher.js';
import { BuildQueue } from './build-queue.js';
import type { NodeSettings } from './config.js';
import { silentLogger, type Logger } from './log.js';
import { NodeMetrics } from './metrics.js';
import type { Rebuilder } from './rebuilder.js';

/** Where a node keeps its state; `bit4bit node start` derives these from the home. */
export interface NodeDirs {
  storeDir: string;
  cacheDir: string;
  /** Node-only state: `peer.key` (libp2p identity, 0600) and `announcements/`. */
  nodeDir: string;
}

export interface VerifierNodeInit {
  dirs: NodeDirs;
  signer: Signer;
  policy: TrustPolicy;
  settings: NodeSettings;
  /** The rebuild backend; without one the node only observes (build.specs must be none). */
  rebuilder?: Rebuilder;
  logger?: Logger;
  /** gossipsub heartbeat (tests: 100 ms). */
  heartbeatMs?: number;
  /** Multiaddr prefixes exempt from connection limits (tests on loopback). */
  connectionAllow?: string[];
  /** Called when a spec's consensus state changes (benchmarks, embedding). */
  onConsensusChange?: (result: ConsensusResult) => void;
}

export interface SubmitResult {
  spec: string;
  announcement: string;
  publisher: string;
  /** The packed source was stored here and announced in the DHT. */
  seeded: boolean;
  /** This node queued a rebuild of it. */
  queued: boolean;
}

export interface HealthReport {
  status: 'ok';
  peerId: string;
  signer: string;
  addresses: string[];
  peers: number;
  buildQueue: { waiting: number; running: number };
  build: NodeSettings['build']['specs'];
}

/**
 * A verifier node (DESIGN §6): the attestation store, libp2p (gossip, sync, blob
 * exchange), the build queue and the HTTP API's backend, wired in this one place.
 * Everything it learns — from gossip, from sync, from its own builds, from the API —
 * goes through the same validate → store → consensus path.
 */
export class VerifierNode {
  readonly metrics: NodeMetrics;
  private readonly gossip: Gossip;
  private readonly blobs: BlobExchange;
  private readonly queue: BuildQueue;
  private readonly states = new Map<string, ConsensusState>();
  private readonly syncing = new Set<string>();
  private readonly toProvide = new Set<string>();
  private readonly bootstrapDials = new Set<string>();
  /** Bootstrap addresses whose last dial failed: said once at warn, then at debug until one succeeds. */
  private readonly unreachableBootstrap = new Set<string>();
  private syncTimer: NodeJS.Timeout | undefined;
  private api: FastifyInstance | undefined;
  /** Base URL of the HTTP API once started (e.g. http://127.0.0.1:8080), else undefined. */
  apiUrl: string | undefined;
  private stopped = false;
  private readonly log: Logger;
  /** Gossiped attestations arriving together are stored and counted together. */
  private readonly gossipIngest = new Batcher<{ att: Attestation; via: string }, IngestStatus>((items) => this.ingest(items));

  private constructor(
    readonly net: NetNode,
    readonly store: AttestationStore,
    readonly announcements: AnnouncementStore,
    readonly cache: BlobCache,
    private readonly init: VerifierNodeInit,
  ) {
    this.log = init.logger ?? silentLogger();
    const { settings } = init;
    this.queue = new BuildQueue(settings.build.concurrency, settings.build.queueLimit, (spec, e) => this.log.error({ spec, err: errorText(e) }, 'build job failed'));
    this.metrics = new NodeMetrics({
      peers: () => this.net.getPeers().length,
      queueDepth: () => this.queue.depth,
      buildsRunning: () => this.queue.active,
      consensusStates: () => this.states,
    });
    this.gossip = new Gossip(net, {
      validateAttestation: (data) => validateGossipAttestation(this.store, data),
      validateAnnouncement: (data) => validateGossipSpec({ hasAnnouncement: (id) => this.announcements.has(id) }, data),
      onAttestation: async (att, from) => void (await this.gossipIngest.submit({ att, via: `gossip ${shortPeer(from)}` })),
      onAnnouncement: async (ann, from) => void (await this.acceptAnnouncement(ann, `gossip ${shortPeer(from)}`)),
      onResult: (topic, action, code, from, reason) => {
        this.metrics.gossip.inc({ topic, action });
        if (action === GossipAction.REJECT) this.log.warn({ topic, from, code, reason }, 'gossip message rejected');
        else if (action === GossipAction.IGNORE) this.log.debug({ topic, from, code }, 'gossip message ignored');
      },
      onLocalError: (topic, e) => {
        this.metrics.gossip.inc({ topic, action: GossipAction.IGNORE });
        this.log.error({ topic, err: errorText(e) }, 'could not process a gossip message');
      },
    });
    this.blobs = new BlobExchange(net, cache, {
      maxBlobBytes: settings.maxBlobBytes,
      onServe: (sha256, peer, found) => {
        this.metrics.blobsServed.inc({ found: String(found) });
        this.log.debug({ sha256, peer, found }, 'blob requested');
      },
      onError: (e, peer) => this.log.debug({ peer, err: errorText(e) }, 'blob exchange stream failed'),
    });
  }

  static async create(init: VerifierNodeInit): Promise<VerifierNode> {
    const { settings, dirs } = init;
    if (settings.build.specs !== 'none' && !init.rebuilder) {
      throw invalidInput(
        'no-rebuilder',
        `build.specs is "${settings.build.specs}" but this node has no rebuild backend; set build.specs: none to run as an observer`,
      );
    }
    await mkdir(dirs.nodeDir, { recursive: true, mode: 0o700 });
    const privateKey = await loadOrCreatePeerKey(join(dirs.nodeDir, 'peer.key'));
    const store = await AttestationStore.open(dirs.storeDir);
    let announcements: AnnouncementStore | undefined;
    try {
      announcements = await AnnouncementStore.open(join(dirs.nodeDir, 'announcements'));
      const counters: { onGossip?: (topic: string, bytes: number) => void } = {};
      const net = await createNetNode({
        onGossipMessage: (topic, bytes) => counters.onGossip?.(topic, bytes),
        privateKey,
        listen: settings.listen,
        announce: settings.announce,
        privateAddresses: settings.privateAddresses,
        allow: init.connectionAllow,
        heartbeatMs: init.heartbeatMs,
      });
      const node = new VerifierNode(net, store, announcements, new BlobCache(dirs.cacheDir), init);
      counters.onGossip = (topic, bytes) => {
        node.metrics.gossipCopies.inc({ topic });
        node.metrics.gossipBytes.inc({ topic }, bytes);
      };
      return node;
    } catch (e) {
      await announcements?.close();
      await store.close();
      throw e;
    }
  }

  get peerId(): PeerId {
    return this.net.peerId;
  }

  get signerId(): string {
    return this.init.signer.keyid;
  }

  get policy(): TrustPolicy {
    return this.init.policy;
  }

  async start(): Promise<void> {
    await this.net.start();
    this.gossip.start();
    await handleSync(this.net, this.syncSource(), (e, peer) => this.log.debug({ peer, err: errorText(e) }, 'sync request stream failed'));
    await this.blobs.start();
    this.net.addEventListener('peer:identify', this.onIdentify);
    this.net.addEventListener('peer:connect', this.onConnect);
    this.net.addEventListener('peer:disconnect', this.onDisconnect);
    await this.loadConsensusStates();
    const { api } = this.init.settings;
    if (api.enabled) {
      this.api = createApiServer(this, { maxSourceBytes: api.maxSourceBytes, logger: this.log.child({ component: 'api' }) });
      const address = await this.api.listen({ host: api.host, port: api.port });
      this.apiUrl = address.replace('[::1]', 'localhost');
    }
    this.log.info({ peerId: this.peerId.toString(), signer: this.signerId, addresses: this.addresses(), api: this.apiUrl, build: this.init.settings.build.specs }, 'node started');
    this.dialBootstrap();
    await this.replayAnnouncements();
    this.syncTimer = setInterval(() => void this.tick(), this.init.settings.syncIntervalMs);
    this.syncTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.syncTimer);
    await this.api?.close();
    await this.queue.stop();
    this.net.removeEventListener('peer:identify', this.onIdentify);
    this.net.removeEventListener('peer:connect', this.onConnect);
    this.net.removeEventListener('peer:disconnect', this.onDisconnect);
    this.gossip.stop();
    await this.net.stop();
    await this.announcements.close();
    await this.store.close();
    this.log.info('node stopped');
  }

  addresses(): string[] {
    return this.net.getMultiaddrs().map(String);
  }

  // ---- what the API and the CLI ask -------------------------------------------

  async consensus(spec: string): Promise<ConsensusResult> {
    return evaluateConsensus(spec, this.init.policy, await this.store.votes(spec));
  }

  async attestations(spec: string): Promise<{ id: string; envelope: Attestation['envelope'] }[]> {
    return this.store.envelopes(spec);
  }

  async bundle(spec: string): Promise<QuorumBundle> {
    const doc = await this.store.getSpec(spec);
    if (!doc) throw new Bit4bitError('unknown-spec', `this node has no spec document for ${spec}`, 'negative');
    return createBundle(spec, doc, await this.consensus(spec), await this.store.envelopes(spec));
  }

  /** Audits all signers, or one by keyid or policy name (like `bit4bit audit`). */
  async signers(signerArg?: string): Promise<SignerAudit[]> {
    let signer = signerArg;
    if (signer !== undefined && !/^[0-9a-f]{64}$/.test(signer)) {
      signer = [...this.init.policy.signers].find(([, s]) => s.name === signerArg)?.[0];
      if (!signer) throw new Bit4bitError('unknown-signer', `"${signerArg}" is neither a keyid (64 hex) nor a signer name in the policy`, 'negative');
    }
    return auditSigners(this.store, this.init.policy, signer);
  }

  health(): HealthReport {
    return {
      status: 'ok',
      peerId: this.peerId.toString(),
      signer: this.signerId,
      addresses: this.addresses(),
      peers: this.net.getPeers().length,
      buildQueue: { waiting: this.queue.depth, running: this.queue.active },
      build: this.init.settings.build.specs,
    };
  }

  /**
   * Publishes a spec on behalf of this node's signer: stores it, seeds its packed
   * source (verified against `spec.source.sha256`) and announces it on gossip.
   */
  async submit(loaded: LoadedSpec, source?: Uint8Array): Promise<SubmitResult> {
    let seeded = false;
    if (source) {
      await this.cache.putBytes(source, { expected: loaded.spec.source.sha256, maxBytes: this.init.settings.api.maxSourceBytes, what: `source of spec ${loaded.id}` });
      seeded = true;
      this.provideLater(loaded.spec.source.sha256);
    }
    const ann = createAnnouncement(loaded, this.init.signer);
    const queued = await this.acceptAnnouncement(ann, 'api');
    const recipients = await this.gossip.publishAnnouncement(ann).catch((e) => {
      this.log.warn({ spec: ann.specId, err: errorText(e) }, 'could not gossip the announcement; peers will get it by sync');
      return 0;
    });
    this.log.info({ spec: ann.specId, name: ann.spec.name, seeded, recipients }, 'spec submitted');
    return { spec: ann.specId, announcement: ann.id, publisher: ann.publisher, seeded, queued };
  }

  /**
   * Stores a verified attestation (made elsewhere, e.g. by `bit4bit attest`) and
   * gossips it. Returns the number of peers it was sent to.
   */
  async publish(att: Attestation): Promise<number> {
    await this.ingestAttestations([att], 'local');
    return this.gossip.publishAttestation(att);
  }

  /** Fetches a blob from peers into the cache (no-op when present). */
  async fetchBlob(sha256: string, signal?: AbortSignal): Promise<void> {
    await this.blobs.fetch(sha256, { signal });
  }

  async provide(sha256: string): Promise<void> {
    await this.blobs.provide(sha256);
  }

  /** One catch-up session with a peer (or with every connected peer). */
  async syncNow(peer?: PeerId): Promise<SyncStats[]> {
    const peers = peer ? [peer] : this.net.getPeers();
    const results = await Promise.allSettled(peers.map((p) => this.syncPeer(p)));
    return results.flatMap((r) => (r.status === 'fulfilled' && r.value ? [r.value] : []));
  }

  /** Resolves when no build is waiting or running. */
  async buildsIdle(): Promise<void> {
    await this.queue.idle();
  }

  // ---- the one path everything goes through -----------------------------------

  /** Stores verified attestations and re-evaluates consensus for the specs they touch; returns how many were new. */
  async ingestAttestations(atts: Attestation[], via: string): Promise<number> {
    const statuses = await this.ingest(atts.map((att) => ({ att, via })));
    return statuses.filter((s) => s === 'accepted').length;
  }

  private async ingest(items: { att: Attestation; via: string }[]): Promise<IngestStatus[]> {
    if (items.length === 0) return [];
    const statuses = await this.store.ingest(items.map((i) => i.att));
    const touched = new Set<string>();
    for (const [i, { att: a, via }] of items.entries()) {
      if (statuses[i] !== 'accepted') continue;
      touched.add(a.spec);
      this.log.info({ spec: a.spec, signer: a.signer, outcome: a.outcome, digest: a.digest, via }, 'attestation stored');
    }
    for (const spec of touched) await this.updateConsensus(spec);
    return statuses;
  }

  /** Stores a verified announcement and its spec; queues a build when this node builds it. */
  async acceptAnnouncement(ann: Announcement, via: string): Promise<boolean> {
    await this.store.putSpec(ann.specId, ann.spec);
    if (await this.announcements.put(ann)) {
      this.log.info({ spec: ann.specId, name: ann.spec.name, publisher: ann.publisher, via }, 'spec announced');
    }
    return this.maybeQueueBuild(ann.specId, ann.publisher, ann.publicKey);
  }

  private async updateConsensus(spec: string): Promise<void> {
    const c = await this.consensus(spec);
    const before = this.states.get(spec);
    this.states.set(spec, c.state);
    if (before === c.state) return;
    this.init.onConsensusChange?.(c);
    if (c.state === 'agreed') this.log.info({ spec, digest: c.digest, agreeing: c.agreeing.length, dissenting: c.dissenting.length }, 'quorum reached');
    else if (c.state !== 'pending') this.log.warn({ spec, state: c.state, votes: c.votes.map((v) => `${v.digest}:${v.signers.length}`) }, `consensus ${c.state}`);
  }

  private async loadConsensusStates(): Promise<void> {
    for (const spec of await this.store.attestedSpecs()) this.states.set(spec, (await this.consensus(spec)).state);
  }

  // ---- builds -------------------------------------------------------------------

  private async maybeQueueBuild(specId: string, publisher: string, publicKey: string): Promise<boolean> {
    const { build } = this.init.settings;
    if (build.specs === 'none' || !this.init.rebuilder || this.stopped) return false;
    if (build.specs === 'allowlist' && !build.publishers.includes(publisher) && !build.publishers.includes(publicKey)) return false;
    if ((await this.store.votes(specId)).some((v) => v.signer === this.signerId)) return false;
    try {
      const queued = this.queue.add(specId, (signal) => this.build(specId, signal));
      if (queued) this.log.info({ spec: specId, waiting: this.queue.depth, running: this.queue.active }, 'build queued');
      return queued;
    } catch (e) {
      this.log.warn({ spec: specId, err: errorText(e) }, 'build not queued');
      return false;
    }
  }

  private async build(specId: string, signal: AbortSignal): Promise<void> {
    const spec = await this.store.getSpec(specId);
    if (!spec) throw new Bit4bitError('unknown-spec', `spec ${specId} vanished from the store`, 'environment');
    const loaded = { id: specId, spec };
    const log = this.log.child({ spec: specId });
    log.info({ name: spec.name, builder: spec.builder.type }, 'build started');
    const startedOn = new Date();
    let output: { result: RebuildResult; toolVersion: string; startedOn: Date; finishedOn: Date };
    try {
      output = await this.init.rebuilder!.rebuild(loaded, {
        cache: this.cache,
        signal,
        fetchBlob: async (sha256) => {
          log.info({ sha256 }, 'fetching input from peers');
          await this.blobs.fetch(sha256, { signal, what: `input sha256:${sha256} of ${specId}` });
        },
        progress: (msg) => log.info({ progress: msg }, 'build progress'),
        lookupSpec: async (id) => {
          const spec = await this.store.getSpec(id);
          return spec && { id, spec };
        },
      });
    } catch (e) {
      if (signal.aborted) {
        log.info('build aborted (node stopping); it will run again after a restart');
        return;
      }
      // A rebuild that threw is still an answer the network should hear: "could not build".
      const failureClass: FailureClass = isBit4bitError(e) && (FAILURE_CLASSES as readonly string[]).includes(e.code) ? (e.code as FailureClass) : 'build-error';
      output = { result: { outcome: 'failed', failure: { class: failureClass, message: errorText(e) } }, toolVersion: spec.builder.version, startedOn, finishedOn: new Date() };
    }
    const att = createAttestation({ specId, spec, toolVersion: output.toolVersion, result: output.result, startedOn: output.startedOn, finishedOn: output.finishedOn }, this.init.signer);
    this.metrics.builds.inc({ outcome: att.outcome });
    const { failure } = att.statement.predicate;
    log.info(
      { outcome: att.outcome, digest: att.digest, ...(failure && { failure: `${failure.class}: ${failure.message}` }), seconds: (output.finishedOn.getTime() - output.startedOn.getTime()) / 1000 },
      'build finished',
    );
    await this.ingestAttestations([att], 'own build');
    const recipients = await this.gossip.publishAttestation(att).catch((e) => {
      log.warn({ err: errorText(e) }, 'could not gossip the attestation; peers will get it by sync');
      return 0;
    });
    log.info({ envelope: att.id, recipients }, 'attestation published');
    // Having the inputs now, this node can serve them to the next verifier.
    for (const sha256 of [spec.source.sha256, ...(spec.inputs ?? []).map((i) => i.sha256)]) {
      if (await this.cache.has(sha256)) this.provideLater(sha256);
    }
  }

  /** At start: rebuild whatever this node was asked to build and has not attested yet. */
  private async replayAnnouncements(): Promise<void> {
    if (this.init.settings.build.specs === 'none') return;
    for await (const [, record] of this.announcements.all()) {
      const ann = await this.store.getSpec(record.specId);
      if (!ann) continue;
      // The announcement record does not keep the raw key; allowlists may name keyids or keys.
      const publicKey = publicKeyOfAnnouncement(record.envelope);
      await this.maybeQueueBuild(record.specId, record.publisher, publicKey);
    }
  }

  // ---- peers and catch-up -----------------------------------------------------

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    if (evt.detail.protocols.includes(SYNC_PROTOCOL)) void this.syncPeer(evt.detail.peerId);
  };

  private readonly onConnect = (evt: CustomEvent<PeerId>): void => {
    this.log.info({ peer: evt.detail.toString(), peers: this.net.getPeers().length }, 'peer joined');
  };

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    this.log.info({ peer: evt.detail.toString(), peers: this.net.getPeers().length }, 'peer left');
  };

  private async syncPeer(peer: PeerId): Promise<SyncStats | undefined> {
    const key = peer.toString();
    if (this.syncing.has(key) || this.stopped) return undefined;
    this.syncing.add(key);
    try {
      const stats = await syncWith(this.net, peer, this.syncSink());
      this.metrics.syncs.inc({ result: 'ok' });
      if (stats.announcements || stats.envelopes) this.log.info({ peer: key, ...stats }, 'caught up from peer');
      return stats;
    } catch (e) {
      this.metrics.syncs.inc({ result: 'failed' });
      if (!this.stopped) this.log.debug({ peer: key, err: errorText(e) }, 'sync with peer failed');
      return undefined;
    } finally {
      this.syncing.delete(key);
    }
  }

  /** Periodic upkeep: re-dial lost bootstrap peers, sync with a random peer, retry pending provides. */
  private async tick(): Promise<void> {
    if (this.stopped) return;
    // Not only when alone: after a partition each side still has peers, and libp2p's own
    // reconnect attempts give up after about a minute, so the sides would never meet again.
    this.dialBootstrap();
    const peers = this.net.getPeers();
    if (peers.length > 0) void this.syncPeer(peers[Math.floor(Math.random() * peers.length)]!);
    for (const sha256 of [...this.toProvide]) this.provideLater(sha256);
  }

  /** Dials every bootstrap peer this node is not connected to (and not already dialing). */
  private dialBootstrap(): void {
    const connected = new Set(this.net.getPeers().map(String));
    for (const addr of this.init.settings.bootstrap) {
      let ma;
      try {
        ma = multiaddr(addr);
      } catch (e) {
        this.log.warn({ addr, err: errorText(e) }, 'bad bootstrap address');
        continue;
      }
      const peer = /\/p2p\/([^/]+)$/.exec(addr)?.[1];
      if (peer === this.peerId.toString() || (peer && connected.has(peer)) || this.bootstrapDials.has(addr)) continue;
      this.bootstrapDials.add(addr);
      this.net
        .dial(ma, { signal: AbortSignal.timeout(10_000) })
        .then(() => {
          if (this.unreachableBootstrap.delete(addr)) this.log.info({ addr }, 'bootstrap peer reachable again');
        })
        .catch((e) => {
          if (this.stopped) return;
          const again = this.unreachableBootstrap.has(addr);
          this.unreachableBootstrap.add(addr);
          this.log[again ? 'debug' : 'warn']({ addr, err: errorText(e) }, 'bootstrap peer unreachable; will retry every sync interval');
        })
        .finally(() => this.bootstrapDials.delete(addr));
    }
  }

  private provideLater(sha256: string): void {
    this.toProvide.add(sha256);
    if (this.net.getPeers().length === 0) return; // nobody to tell yet; the next tick retries
    this.blobs.provide(sha256).then(
      () => {
        if (this.toProvide.delete(sha256)) this.log.info({ sha256 }, 'providing blob');
      },
      (e) => this.log.debug({ sha256, err: errorText(e) }, 'provide failed; will retry'),
    );
  }

  // ---- sync adapters over the stores ------------------------------------------

  private syncSource(): SyncSource {
    return {
      specSummaries: async (after, limit) => {
        const specs = (await this.store.attestedSpecs()).filter((s) => after === undefined || s > after).slice(0, limit);
        return Promise.all(specs.map(async (s) => (await this.summary(s))!));
      },
      envelopeIds: async (spec, after, limit) => (await this.sortedIds(spec)).filter((id) => after === undefined || id > after).slice(0, limit),
      getEnvelope: (id) => this.store.getEnvelope(id),
      announcementIds: (after, limit) => this.announcements.ids(after, limit),
      getAnnouncement: async (id) => (await this.announcements.get(id))?.envelope,
    };
  }

  private syncSink(): SyncSink {
    return {
      specSummary: (spec) => this.summary(spec),
      hasEnvelope: (id) => this.store.hasEnvelope(id),
      hasAnnouncement: (id) => this.announcements.has(id),
      validateAttestation: (data) => validateGossipAttestation(this.store, data),
      validateAnnouncement: (data) => validateGossipSpec({ hasAnnouncement: (id) => this.announcements.has(id) }, data),
      ingestAttestations: async (atts) => void (await this.ingestAttestations(atts, 'sync')),
      ingestAnnouncement: async (ann) => void (await this.acceptAnnouncement(ann, 'sync')),
    };
  }

  private async sortedIds(spec: string): Promise<string[]> {
    return (await this.store.votes(spec)).map((v) => v.id).sort();
  }

  private async summary(spec: string): Promise<SpecSummary | undefined> {
    const ids = await this.sortedIds(spec);
    if (ids.length === 0) return undefined;
    return { spec, count: ids.length, hash: sha256Hex(ids.join('\n')) };
  }
}

function publicKeyOfAnnouncement(envelope: { payload: string }): string {
  try {
    const p = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { publisher?: unknown };
    return typeof p.publisher === 'string' ? p.publisher : '';
  } catch {
    return '';
  }
}

function shortPeer(peer: string): string {
  return peer.length > 16 ? `…${peer.slice(-8)}` : peer;
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
