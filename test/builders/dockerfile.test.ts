import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { BuildFailure } from '../../src/builders/backend.js';
import { buildahVersion, checkImageReferences, dockerfileBackend, parseDockerfile, splitReference } from '../../src/builders/dockerfile.js';
import { rebuild, type RebuildOptions } from '../../src/build/rebuild.js';
import { useTempDirs } from '../support/temp.js';
import { withMiniBase, writeFixture } from '../build/fixtures.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('dockerfile backend: image references (pure)', () => {
  it('lists FROM images, stage names and COPY --from, joining continuations and skipping comments', () => {
    const parsed = parseDockerfile(
      ['# syntax comment', `FROM --platform=linux/amd64 debian:bookworm@${DIGEST} AS build`, 'RUN make \\', '  # inner comment', '  && true', 'FROM scratch', `COPY --from=build /out /out`, `COPY --chown=0:0 --from=tools@${DIGEST} /x /x`].join('\n'),
      {},
    );
    assert.deepEqual(
      parsed.references.map((r) => [r.kind, r.image, r.line]),
      [
        ['from', `debian:bookworm@${DIGEST}`, 2],
        ['from', 'scratch', 6],
        ['copy-from', 'build', 7],
        ['copy-from', `tools@${DIGEST}`, 8],
      ],
    );
    assert.deepEqual(parsed.stages, ['build', '1']);
  });

  it('substitutes ARGs declared before the first FROM, overridden by the spec\'s build args', () => {
    const text = `ARG BASE=debian@${DIGEST}\nFROM \${BASE}\n`;
    assert.equal(parseDockerfile(text, {}).references[0]!.image, `debian@${DIGEST}`);
    assert.equal(parseDockerfile(text, { BASE: 'other' }).references[0]!.image, 'other');
  });

  it('accepts scratch, earlier stages and images pinned exactly as in builder.baseImages', () => {
    const parsed = parseDockerfile(`FROM localhost/base@${DIGEST} AS one\nFROM one\nFROM scratch\nCOPY --from=one /a /a\n`, {});
    checkImageReferences(parsed, [{ image: `localhost/base@${DIGEST}` }]);
  });

  it('refuses a FROM that is not pinned in the spec, naming the line and the pins', () => {
    const parsed = parseDockerfile(`FROM debian:bookworm\n`, {});
    assert.throws(
      () => checkImageReferences(parsed, [{ image: `debian:bookworm@${DIGEST}` }]),
      (e: unknown) => e instanceof BuildFailure && e.failureClass === 'build-error' && /line 1: FROM debian:bookworm is not/.test(e.message) && e.message.includes(DIGEST),
    );
  });

  it('refuses COPY --from an image that is not pinned', () => {
    const parsed = parseDockerfile(`FROM scratch\nCOPY --from=busybox /bin/sh /sh\n`, {});
    assert.throws(() => checkImageReferences(parsed, []), /COPY\/ADD --from busybox/);
  });

  it('splits name, tag and digest', () => {
    assert.deepEqual(splitReference(`localhost:5000/a/b:1.0@${DIGEST}`), { name: 'localhost:5000/a/b', tag: '1.0', digest: DIGEST });
    assert.deepEqual(splitReference(`localhost:5000/a/b@${DIGEST}`), { name: 'localhost:5000/a/b', digest: DIGEST });
  });
});

describe('dockerfile backend: real buildah', function () {
  this.timeout(120_000);
  const tempDir = useTempDirs('bit4bit-dockerfile-');
  let options: RebuildOptions;
  let base: string;

  before(async () => {
    ({ options, base } = await withMiniBase(tempDir));
  });

  it('reports the installed buildah version', async () => {
    assert.match((await buildahVersion()) ?? '', /^\d+\.\d+\.\d+$/);
    assert.equal(dockerfileBackend.tool, 'buildah');
  });

  it('builds FROM a base given as a short name with a tag, and the digest is what skopeo computes', async () => {
    const f = await writeFixture(await tempDir(), {
      name: 'tagged',
      baseImages: [{ image: `${base.replace('localhost/mini', 'mini:v1')}` }],
      dockerfile: `FROM ${base.replace('localhost/mini', 'mini:v1')}\nARG SOURCE_DATE_EPOCH\nRUN echo "$SOURCE_DATE_EPOCH" > /sde\n`,
    });
    // The base is stored under its digest only; any name the spec gives it works.
    const keep = await tempDir();
    const r = await rebuild(f.loaded, { ...options, sourceHint: f.sourceDir, keepDir: keep });
    assert.equal(r.outcome, 'reproduced', r.failure?.message);
    const raw = execFileSync('skopeo', ['inspect', '--raw', `oci:${r.artifact}:latest`]);
    const { createHash } = await import('node:crypto');
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, r.digest);
  });

  it('passes build args and the target stage', async () => {
    const f = await writeFixture(await tempDir(), {
      name: 'stages',
      baseImages: [{ image: base }],
      buildArgs: { GREETING: 'hello' },
      dockerfile: `FROM ${base} AS one\nARG GREETING\nRUN echo "$GREETING" > /greeting\nFROM one AS two\nRUN false\n`,
    });
    const r = await rebuild({ ...f.loaded, spec: { ...f.loaded.spec, builder: { ...f.loaded.spec.builder, target: 'one' } as typeof f.loaded.spec.builder } }, { ...options, sourceHint: f.sourceDir });
    assert.equal(r.outcome, 'reproduced', r.failure?.message);
  });

  it('puts extra inputs at the root of the build context: the image depends on their bytes, and one may not replace a source file', async () => {
    const model = async (bytes: string) => ({ name: 'model.bin', sha256: await options.cache.putBytes(Buffer.from(bytes)) });
    const dockerfile = `FROM ${base}\nCOPY model.bin /models/model.bin\n`;
    const build = async (label: string, inputs: { name: string; sha256: string }[], files?: Record<string, string>) => {
      const f = await writeFixture(await tempDir(), { name: label, baseImages: [{ image: base }], dockerfile, inputs, ...(files && { files }) });
      return rebuild(f.loaded, { ...options, sourceHint: f.sourceDir });
    };
    const first = await build('with-input', [await model('weights v1')]);
    assert.equal(first.outcome, 'reproduced', first.failure?.message);
    const again = await build('with-input', [await model('weights v1')]);
    assert.equal(again.digest, first.digest, 'same input, same image');
    const other = await build('with-input', [await model('weights v2')]);
    assert.equal(other.outcome, 'reproduced', other.failure?.message);
    assert.notEqual(other.digest, first.digest, 'the input bytes are in the image');

    const clash = await build('clash', [await model('weights v1')], { 'model.bin': 'a file of the source' });
    assert.equal(clash.outcome, 'failed');
    assert.equal(clash.failure?.class, 'build-error');
    assert.match(clash.failure!.message, /input model.bin would replace model.bin in the source tree; rename the input or the file/);
  });

  it('fails with a clear message when a FROM image is not in baseImages', async () => {
    const f = await writeFixture(await tempDir(), { name: 'unpinned', dockerfile: 'FROM debian:bookworm\nRUN true\n' });
    const r = await rebuild(f.loaded, { ...options, sourceHint: f.sourceDir });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failure?.class, 'build-error');
    assert.match(r.failure!.message, /FROM debian:bookworm is not a build stage, scratch, or one of builder.baseImages/);
  });
});
