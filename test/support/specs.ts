import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import type { BuildSpec } from '../../src/spec/types.js';

/** A deterministic 64-hex sha256 standing in for some content named `label`. */
export function hexOf(label: string): string {
  return createHash('sha256').update(label).digest('hex');
}

/** `sha256:<hex>` of `label`: a stand-in image digest. */
export function digestOf(label: string): string {
  return `sha256:${hexOf(label)}`;
}

/** A valid Dockerfile spec; `overrides` replace top-level fields. */
export function dockerfileSpec(overrides: Partial<BuildSpec> = {}): BuildSpec {
  return {
    apiVersion: 'bit4bit/v1',
    kind: 'BuildSpec',
    name: 'example/hello',
    description: 'hello world image',
    sourceDateEpoch: 1700000000,
    source: { sha256: hexOf('source tar'), urls: ['https://example.org/hello.tar'] },
    builder: {
      type: 'dockerfile',
      version: '1.28.2',
      dockerfile: 'Dockerfile',
      platform: 'linux/amd64',
      buildArgs: { GREETING: 'hello' },
      baseImages: [{ image: `docker.io/library/debian:bookworm@sha256:${hexOf('debian')}` }],
    },
    inputs: [{ name: 'extra.bin', sha256: hexOf('extra') }],
    ...overrides,
  };
}

/** A valid mkosi spec. */
export function mkosiSpec(overrides: Partial<BuildSpec> = {}): BuildSpec {
  return {
    apiVersion: 'bit4bit/v1',
    kind: 'BuildSpec',
    name: 'example/os',
    sourceDateEpoch: 1,
    source: { sha256: hexOf('os source') },
    builder: { type: 'mkosi', version: '24.3' },
    ...overrides,
  };
}

/** The spec as a YAML document, with a comment, in block style. */
export function toYaml(spec: unknown): string {
  return `# a build spec\n${stringify(spec)}`;
}

export function toJson(spec: unknown): string {
  return `${JSON.stringify(spec, null, 2)}\n`;
}
