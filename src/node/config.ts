import { isAbsolute, join } from 'node:path';
import { invalidInput } from '../errors.js';
import { compileSchema, describeSchemaErrors } from '../schema/compile.js';
import schema from './node-config.v1.schema.json' with { type: 'json' };

/**
 * The `node:` section of the home config (YAML), validated by node-config.v1.schema.json.
 * Every field has a default, so a home without a `node:` section runs a local node:
 * listening on all interfaces, API on 127.0.0.1:8080, rebuilding every spec it hears of.
 */
export interface NodeConfigDocument {
  listen?: string[];
  announce?: string[];
  bootstrap?: string[];
  privateAddresses?: boolean;
  api?: { listen?: string; enabled?: boolean; maxSourceBytes?: number };
  policy?: string;
  build?: { specs?: BuildSelection; publishers?: string[]; concurrency?: number; queueLimit?: number; timeoutSeconds?: number; fetchUrls?: boolean; twice?: boolean };
  sync?: { intervalSeconds?: number };
  maxBlobBytes?: number;
}

export type BuildSelection = 'all' | 'allowlist' | 'none';

export interface NodeSettings {
  listen: string[];
  announce: string[];
  bootstrap: string[];
  privateAddresses: boolean;
  api: { enabled: boolean; host: string; port: number; maxSourceBytes: number };
  /** Absolute path of the trust policy, or undefined for the home's policy. */
  policyFile?: string;
  build: { specs: BuildSelection; publishers: string[]; concurrency: number; queueLimit: number; timeoutMs: number; fetchUrls: boolean; twice: boolean };
  syncIntervalMs: number;
  maxBlobBytes: number;
}

export const nodeConfigSchema = schema;
const validate = compileSchema<NodeConfigDocument>(schema);

export const DEFAULT_API_PORT = 8080;

/** Validates the `node:` section (undefined = all defaults) and fills in defaults. */
export function parseNodeConfig(value: unknown, homeDir: string, what = 'config node:'): NodeSettings {
  const doc = value ?? {};
  if (!validate(doc)) {
    const details = describeSchemaErrors(validate.errors ?? [], schema);
    throw invalidInput('invalid-config', `${what} is not valid:\n  ${details.join('\n  ')}`, details);
  }
  const [host, port] = splitHostPort(doc.api?.listen ?? `127.0.0.1:${DEFAULT_API_PORT}`);
  // A verifier node verifies: by default it rebuilds every spec it hears of.
  const specs = doc.build?.specs ?? 'all';
  const publishers = doc.build?.publishers ?? [];
  if (specs === 'allowlist' && publishers.length === 0) {
    throw invalidInput('invalid-config', `${what} build.specs is "allowlist" but build.publishers is empty; list the publishers whose specs to build`);
  }
  return {
    listen: doc.listen ?? ['/ip4/0.0.0.0/tcp/4001'],
    announce: doc.announce ?? [],
    bootstrap: doc.bootstrap ?? [],
    privateAddresses: doc.privateAddresses ?? false,
    api: { enabled: doc.api?.enabled ?? true, host, port, maxSourceBytes: doc.api?.maxSourceBytes ?? 64 * 1024 * 1024 },
    ...(doc.policy !== undefined && { policyFile: isAbsolute(doc.policy) ? doc.policy : join(homeDir, doc.policy) }),
    build: {
      specs,
      publishers,
      concurrency: doc.build?.concurrency ?? 1,
      queueLimit: doc.build?.queueLimit ?? 1000,
      timeoutMs: (doc.build?.timeoutSeconds ?? 3600) * 1000,
      fetchUrls: doc.build?.fetchUrls ?? true,
      twice: doc.build?.twice ?? false,
    },
    syncIntervalMs: Math.round((doc.sync?.intervalSeconds ?? 60) * 1000),
    maxBlobBytes: doc.maxBlobBytes ?? 4 * 1024 * 1024 * 1024,
  };
}

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  const host = s.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(s.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidInput('invalid-config', `api.listen: port must be 0..65535, got ${s.slice(i + 1)}`);
  return [host, port];
}
