import { Ajv2020, type ErrorObject, type SchemaObject, type ValidateFunction } from 'ajv/dist/2020.js';

/**
 * One Ajv setup for every published schema (build spec, statement, policy): JSON
 * Schema 2020-12, all errors collected, and our `x-expected` annotation, a human
 * description of what a field expects that error messages quote.
 */
const ajv = new Ajv2020({
  allErrors: true,
  verbose: true,
  discriminator: true,
  strict: true,
  // `required` inside if/then names properties declared by the enclosing schema.
  strictRequired: false,
});
ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });

export function compileSchema<T>(schema: SchemaObject): ValidateFunction<T> {
  return ajv.compile<T>(schema);
}

/** Turns ajv's errors into one line per problem: `field.path: what is expected`. */
export function describeSchemaErrors(errors: readonly ErrorObject[], root?: SchemaObject): string[] {
  const lines = new Set<string>();
  for (const e of errors) {
    // `oneOf` only summarises its branches' errors; a missing discriminator tag is
    // already reported by `required`.
    if (e.keyword === 'oneOf') continue;
    if (e.keyword === 'discriminator' && (e.params as { error: string }).error === 'tag') continue;
    lines.add(describeOne(e, root));
  }
  return [...lines];
}

function describeOne(e: ErrorObject, root: SchemaObject | undefined): string {
  const path = fieldPath(e.instancePath);
  const expected = (e.parentSchema as { 'x-expected'?: string } | undefined)?.['x-expected'];
  switch (e.keyword) {
    case 'required': {
      const field = joinPath(path, (e.params as { missingProperty: string }).missingProperty);
      const sub = (e.parentSchema as { properties?: Record<string, { 'x-expected'?: string; $ref?: string }> })
        .properties?.[(e.params as { missingProperty: string }).missingProperty];
      const hint = sub?.['x-expected'] ?? refExpected(sub?.$ref, root);
      return `${field}: required field is missing${hint ? `; expected ${hint}` : ''}`;
    }
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
      const guess = closest(extra, known);
      return `${joinPath(path, extra)}: unknown field${guess ? ` (did you mean "${guess}"?)` : ''}; allowed here: ${known.join(', ')}${expected ? `; expected ${expected}` : ''}`;
    }
    case 'discriminator': {
      const p = e.params as { tag: string; tagValue: unknown; error: string };
      return `${joinPath(path, p.tag)}: unknown builder type ${JSON.stringify(p.tagValue)}; expected one of dockerfile, mkosi, rootfs`;
    }
    case 'const':
      return `${path}: expected ${expected ?? JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}, got ${JSON.stringify(e.data)}`;
    case 'enum':
      return `${path}: expected ${expected ?? `one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`}, got ${JSON.stringify(e.data)}`;
    default:
      return `${path}: expected ${expected ?? e.message ?? 'a different value'}${e.data !== undefined && typeof e.data !== 'object' ? `, got ${JSON.stringify(e.data)}` : ''}`;
  }
}

function refExpected(ref: string | undefined, root: SchemaObject | undefined): string | undefined {
  if (!ref?.startsWith('#/$defs/') || !root) return undefined;
  return (root.$defs as Record<string, { 'x-expected'?: string }> | undefined)?.[ref.slice('#/$defs/'.length)]?.['x-expected'];
}

/** JSON pointer `/builder/baseImages/0/image` → `builder.baseImages[0].image`. */
export function fieldPath(pointer: string): string {
  if (pointer === '') return '(document)';
  return pointer
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function joinPath(path: string, field: string): string {
  return path === '(document)' ? field : `${path}.${field}`;
}

/** The known name closest to a typo, if it is close enough to be a likely typo. */
function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
