import { invalidInput } from '../errors.js';
import { compileSchema, describeSchemaErrors } from '../schema/compile.js';
import type { Stanza } from './deb822.js';
import schema from './debian-lock.v1.schema.json' with { type: 'json' };

/**
 * The Debian package lock (docs/formats/debian-lock.md): the exact .debs, by sha256,
 * that a build may install. It is written once by `bit4bit lock debian` against the
 * live mirror and then lives in the source tree, so the source's sha256 pins it.
 * This module is the format's pure core: types, validation, encoding, and the joins
 * that turn apt's answer into lock entries.
 */

export interface LockedPackage {
  name: string;
  version: string;
  architecture: string;
  sha256: string;
  size: number;
  /** The index's `Filename`: the .deb's path under `baseUrl`. */
  path: string;
  /** The archive the .deb was resolved from, without a trailing slash. */
  baseUrl: string;
  /** The archive's Priority/Section (its override file), not the .deb's control fields. */
  priority: string;
  section: string;
}

/**
 * How the base set is chosen, as mmdebstrap's variants choose it from the index:
 * - `essential`: every `Essential: yes` package;
 * - `apt`: essential + apt;
 * - `minbase`: essential + apt + every `Priority: required` package;
 * - `none`: only the requested packages.
 * The closure of the base set plus the requested packages is what gets locked.
 */
export const LOCK_VARIANTS = ['essential', 'apt', 'minbase', 'none'] as const;
export type LockVariant = (typeof LOCK_VARIANTS)[number];

export interface DebianLock {
  apiVersion: 'bit4bit/v1';
  kind: 'DebianLock';
  suite: string;
  architecture: string;
  variant?: LockVariant;
  requested?: string[];
  packages: LockedPackage[];
}

export const debianLockSchema = schema;
const validateSchema = compileSchema<DebianLock>(schema);

/** A lock is a small document; this bounds what a source tree can make us parse. */
export const MAX_LOCK_BYTES = 16 * 1024 * 1024;

/** Validates a parsed lock: the schema, then what a schema cannot say (order, uniqueness). */
export function validateDebianLock(value: unknown, what = 'Debian lock'): DebianLock {
  if (!validateSchema(value)) {
    const details = describeSchemaErrors(validateSchema.errors ?? [], schema);
    throw invalidInput('invalid-lock', `${what} is not a valid bit4bit/v1 DebianLock:\n  ${details.join('\n  ')}`, details);
  }
  const files = new Set<string>();
  value.packages.forEach((p, i) => {
    const prev = value.packages[i - 1];
    // One entry per name, sorted: a lock is a set, and its bytes are canonical.
    if (prev && !(prev.name < p.name)) {
      throw invalidInput('invalid-lock', `${what}: packages[${i}].name: expected names sorted and unique, but "${p.name}" follows "${prev.name}"`);
    }
    if (p.architecture !== value.architecture && p.architecture !== 'all') {
      throw invalidInput('invalid-lock', `${what}: packages[${i}].architecture: expected "${value.architecture}" or "all", got "${p.architecture}"`);
    }
    const file = debFileName(p);
    if (files.has(file)) throw invalidInput('invalid-lock', `${what}: packages[${i}].path: two packages share the file name ${file}`);
    files.add(file);
  });
  return value;
}

export function parseDebianLock(text: string, what = 'Debian lock'): DebianLock {
  if (Buffer.byteLength(text) > MAX_LOCK_BYTES) throw invalidInput('too-large', `${what} is larger than ${MAX_LOCK_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw invalidInput('unparsable', `${what} is not valid JSON: ${(e as Error).message}`);
  }
  return validateDebianLock(value, what);
}

/** The lock's canonical text: fixed key order, two-space indent, trailing newline. */
export function serializeDebianLock(lock: DebianLock): string {
  const ordered: DebianLock = {
    apiVersion: lock.apiVersion,
    kind: lock.kind,
    suite: lock.suite,
    architecture: lock.architecture,
    ...(lock.variant ? { variant: lock.variant } : {}),
    ...(lock.requested ? { requested: [...lock.requested].sort() } : {}),
    packages: [...lock.packages]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((p) => ({
        name: p.name,
        version: p.version,
        architecture: p.architecture,
        sha256: p.sha256,
        size: p.size,
        path: p.path,
        baseUrl: p.baseUrl,
        priority: p.priority,
        section: p.section,
      })),
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}

/** The file name a package gets in a local repository's pool (the basename of its path). */
export function debFileName(p: Pick<LockedPackage, 'path'>): string {
  return p.path.slice(p.path.lastIndexOf('/') + 1);
}

/** Total bytes of the locked .debs. */
export function lockSize(lock: Pick<DebianLock, 'packages'>): number {
  return lock.packages.reduce((n, p) => n + p.size, 0);
}

/** An index (Packages file) together with the archive it came from. */
export interface PackageIndex {
  baseUrl: string;
  stanzas: readonly Stanza[];
}

/**
 * The base set of a variant, selected from the indexes the way mmdebstrap does:
 * by the index's `Essential`/`Priority` fields for the lock's architecture (or all).
 */
export function variantBaseSet(variant: LockVariant, indexes: readonly PackageIndex[], architecture: string): string[] {
  if (variant === 'none') return [];
  const names = new Set<string>();
  for (const { stanzas } of indexes) {
    for (const s of stanzas) {
      const arch = s.get('Architecture');
      if (arch !== architecture && arch !== 'all') continue;
      const name = s.get('Package');
      if (!name) continue;
      if (s.get('Essential') === 'yes') names.add(name);
      else if (variant === 'minbase' && s.get('Priority') === 'required') names.add(name);
    }
  }
  if (variant !== 'essential') names.add('apt');
  return [...names].sort();
}

export interface ResolvedPackage {
  name: string;
  version: string;
  architecture: string;
}

/**
 * apt-get's simulation lists every package it would unpack as
 * `Inst name (version release[, release...] [arch])`; against an empty dpkg status
 * that is the whole closure.
 */
export function parseSimulatedInstall(output: string): ResolvedPackage[] {
  const resolved: ResolvedPackage[] = [];
  for (const line of output.split('\n')) {
    const m = /^Inst (\S+) \((\S+) [^[]*\[([^\]]+)\]\)/.exec(line);
    if (m) resolved.push({ name: m[1]!.replace(/:[a-z0-9-]+$/, ''), version: m[2]!, architecture: m[3]! });
  }
  return resolved;
}

/**
 * Joins apt's resolution with the index stanzas that describe each chosen .deb. The
 * first index that lists a (name, version, architecture) wins: the same version in two
 * suites is the same file (the archive is content-addressed by version).
 */
export function lockEntries(resolved: readonly ResolvedPackage[], indexes: readonly PackageIndex[]): LockedPackage[] {
  const wanted = new Map(resolved.map((r) => [`${r.name} ${r.version} ${r.architecture}`, r]));
  const found = new Map<string, LockedPackage>();
  for (const { baseUrl, stanzas } of indexes) {
    for (const s of stanzas) {
      const key = `${s.get('Package')} ${s.get('Version')} ${s.get('Architecture')}`;
      if (!wanted.has(key) || found.has(key)) continue;
      found.set(key, {
        name: s.get('Package')!,
        version: s.get('Version')!,
        architecture: s.get('Architecture')!,
        sha256: s.get('SHA256') ?? '',
        size: Number(s.get('Size')),
        path: s.get('Filename') ?? '',
        baseUrl: baseUrl.replace(/\/+$/, ''),
        // The archive's values; dpkg-scanpackages gets them back as an override file.
        priority: s.get('Priority') ?? 'optional',
        section: s.get('Section') ?? 'misc',
      });
    }
  }
  const missing = [...wanted.keys()].filter((k) => !found.has(k));
  if (missing.length) {
    throw invalidInput('lock-unresolvable', `apt chose packages that no fetched index describes: ${missing.join(', ')}`);
  }
  return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
