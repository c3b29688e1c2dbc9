import { Level } from 'level';
import type { EnvelopeJson } from '../attestation/dsse.js';
import { Bit4bitError } from '../errors.js';
import type { Announcement } from '../net/announcement.js';

/**
 * Spec announcements the node has verified (LevelDB, beside the attestation store):
 *
 *   ann/<announcement id>  → { envelope, specId, publisher, receivedAt }
 *
 * They are what the sync protocol offers so a late node learns every spec, and what
 * the node replays at start to rebuild whatever it was asked to and has not attested.
 */
export interface AnnouncementRecord {
  envelope: EnvelopeJson;
  specId: string;
  publisher: string;
  receivedAt: number;
}

export class AnnouncementStore {
  private constructor(private readonly db: Level<string, AnnouncementRecord>) {}

  static async open(dir: string): Promise<AnnouncementStore> {
    const db = new Level<string, AnnouncementRecord>(dir, { valueEncoding: 'json' });
    try {
      await db.open();
    } catch (e) {
      throw new Bit4bitError('store-unavailable', `cannot open the announcement store at ${dir}: ${(e as Error).message}`, 'environment');
    }
    return new AnnouncementStore(db);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** False when it was already stored. */
  async put(ann: Announcement, receivedAt = Date.now()): Promise<boolean> {
    if (await this.has(ann.id)) return false;
    await this.db.put(ann.id, { envelope: ann.envelope, specId: ann.specId, publisher: ann.publisher, receivedAt });
    return true;
  }

  async has(id: string): Promise<boolean> {
    return (await this.db.get(id)) !== undefined;
  }

  async get(id: string): Promise<AnnouncementRecord | undefined> {
    return this.db.get(id);
  }

  /** Ids in ascending order, strictly after `after`. */
  async ids(after: string | undefined, limit: number): Promise<string[]> {
    return this.db.keys({ ...(after !== undefined && { gt: after }), limit }).all();
  }

  async *all(): AsyncGenerator<[string, AnnouncementRecord]> {
    yield* this.db.iterator();
  }
}
