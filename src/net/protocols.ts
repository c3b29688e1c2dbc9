/**
 * Names and limits of everything bit4bit speaks on the wire. docs/protocols/*.md is
 * the prose version; a change here is a protocol change and needs a new version.
 */

/** Gossip topic carrying attestation envelopes (docs/protocols/gossip.md). */
export const ATTESTATION_TOPIC = '/bit4bit/attestations/1';
/** Gossip topic carrying signed spec announcements (docs/protocols/gossip.md). */
export const SPEC_TOPIC = '/bit4bit/specs/1';
export const TOPICS = [ATTESTATION_TOPIC, SPEC_TOPIC] as const;

/** Request/response catch-up protocol (docs/protocols/sync.md). */
export const SYNC_PROTOCOL = '/bit4bit/sync/1';
/** Content-addressed blob exchange (docs/protocols/blob-exchange.md). */
export const BLOB_PROTOCOL = '/bit4bit/blob/1';
/** kad-dht protocol id: a private DHT, so bit4bit provider records stay among bit4bit nodes. */
export const DHT_PROTOCOL = '/bit4bit/kad/1.0.0';

/** Largest spec announcement accepted from gossip or sync (a DSSE envelope around a spec). */
export const MAX_ANNOUNCEMENT_BYTES = 128 * 1024;
/** gossipsub drops (without decoding) any message larger than this, before validation. */
export const MAX_GOSSIP_DATA_BYTES = 256 * 1024;

/** Sync: one request frame. */
export const MAX_SYNC_REQUEST_BYTES = 16 * 1024;
/** Sync: one response frame. */
export const MAX_SYNC_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Sync: spec summaries per page. */
export const SYNC_SPECS_PAGE = 512;
/** Sync: envelope ids per page. */
export const SYNC_IDS_PAGE = 2048;
/** Sync: envelopes per `envelopes` request (32 × 64 KiB ≤ 2 MiB, well under the frame limit). */
export const SYNC_ENVELOPES_BATCH = 32;
/** Sync: announcements per page (16 × 128 KiB = 2 MiB). */
export const SYNC_ANNOUNCEMENTS_PAGE = 16;

/** Blob exchange: the request frame. */
export const MAX_BLOB_REQUEST_BYTES = 512;
/** Blob exchange: one data chunk frame. */
export const BLOB_CHUNK_BYTES = 64 * 1024;
