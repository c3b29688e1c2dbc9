import { invalidInput } from '../errors.js';
import type { BuilderType } from '../spec/types.js';
import type { BuilderBackend } from './backend.js';
import { dockerfileBackend } from './dockerfile.js';
import { mkosiBackend } from './mkosi.js';
import { rootfsBackend } from './rootfs.js';

/** Every builder backend, by spec `builder.type`: adding a backend is one line here. */
const BACKENDS: Partial<Record<BuilderType, BuilderBackend>> = {
  dockerfile: dockerfileBackend,
  mkosi: mkosiBackend,
  rootfs: rootfsBackend,
};

export function backendFor(type: BuilderType): BuilderBackend {
  const backend = BACKENDS[type];
  if (!backend) throw invalidInput('unknown-builder', `no builder backend for type ${JSON.stringify(type)} in this bit4bit`);
  return backend;
}
