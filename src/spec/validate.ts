import { parseDocument } from 'yaml';
import { canonicalDigest } from '../canonical/index.js';
import { invalidInput } from '../errors.js';
import { compileSchema, describeSchemaErrors } from '../schema/compile.js';
import schema from './buildspec.v1.schema.json' with { type: 'json' };
import type { BuildSpec, LoadedSpec } from './types.js';

/** Specs are small documents; anything larger is refused before parsing. */
export const MAX_SPEC_BYTES = 1024 * 1024;

export const buildSpecSchema = schema;

const validateSchema = compileSchema<BuildSpec>(schema);

/**
 * Parses a YAML or JSON document (JSON is YAML 1.2) into a plain value. Duplicate
 * keys, custom tags and alias bombs are refused: a spec is data, nothing more.
 */
export function parseDocumentText(text: string, what: string): unknown {
  if (Buffer.byteLength(text) > MAX_SPEC_BYTES) {
    throw invalidInput('too-large', `${what} is larger than ${MAX_SPEC_BYTES} bytes; a spec or policy is a small document`);
  }
  const doc = parseDocument(text, { schema: 'core', uniqueKeys: true, prettyErrors: true, strict: true });
  const problems = [...doc.errors, ...doc.warnings];
  if (problems.length > 0) {
    throw invalidInput(
      'unparsable',
      `${what} is not valid YAML/JSON: ${problems[0]!.message.split('\n')[0]}`,
      problems.map((p) => p.message),
    );
  }
  return doc.toJS({ maxAliasCount: 64 });
}

/** Validates a parsed value against the BuildSpec v1 schema and computes its id. */
export function validateSpec(value: unknown, what = 'spec'): LoadedSpec {
  // The schema first; the cross-field checks only on a document of the right shape.
  const details = validateSchema(value) ? inputProblems(value) : describeSchemaErrors(validateSchema.errors ?? [], schema);
  if (details.length > 0) throw invalidInput('invalid-spec', `${what} is not a valid bit4bit/v1 BuildSpec:\n  ${details.join('\n  ')}`, details);
  return { id: computeSpecId(value as BuildSpec), spec: value as BuildSpec };
}

/**
 * Extra inputs are placed at the root of the build's source tree under their names
 * (docs/formats/buildspec.md), so two may not share a name, and a rootfs build, which
 * has no build context, cannot take any.
 */
function inputProblems(spec: BuildSpec): string[] {
  const inputs = spec.inputs ?? [];
  if (inputs.length > 0 && spec.builder.type === 'rootfs') {
    return ['inputs: a rootfs build has no build context to place inputs in; inputs are for dockerfile and mkosi builds'];
  }
  const first = new Map<string, number>();
  const problems: string[] = [];
  inputs.forEach((input, i) => {
    const earlier = first.get(input.name);
    if (earlier === undefined) first.set(input.name, i);
    else problems.push(`inputs[${i}].name: "${input.name}" is also inputs[${earlier}].name; each input needs its own file name`);
  });
  return problems;
}

/** Parses and validates a spec document given as YAML or JSON text. */
export function parseSpec(text: string, what = 'spec'): LoadedSpec {
  return validateSpec(parseDocumentText(text, what), what);
}

/**
 * Spec id = `sha256:` + hex sha256 of the RFC 8785 canonical JSON of the parsed
 * document, exactly as written (no defaults filled in), so that the YAML and JSON
 * forms of one spec share an id.
 */
export function computeSpecId(spec: BuildSpec): string {
  return canonicalDigest(spec);
}

