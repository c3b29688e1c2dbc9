import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Bit4bitError } from '../../src/errors.js';
import { loadSpecFile, resolveSpecArgument } from '../../src/spec/load.js';
import { computeSpecId, MAX_SPEC_BYTES, parseSpec, validateSpec } from '../../src/spec/validate.js';
import { dockerfileSpec, hexOf, mkosiSpec, toJson, toYaml } from '../support/specs.js';
import { useTempDirs } from '../support/temp.js';
import { refusal } from '../support/refusal.js';

/** Asserts a spec value is refused as invalid with a line naming `field` and containing `says`. */
function assertRefused(value: unknown, field: string, says: RegExp): void {
  const e = refusal(() => validateSpec(value));
  assert.equal(e.code, 'invalid-spec');
  assert.equal(e.kind, 'invalid-input');
  const line = e.details?.find((d) => d.startsWith(`${field}: `));
  assert.ok(line, `no problem reported for ${field}; got:\n${e.message}`);
  assert.match(line, says);
  assert.ok(e.message.includes(line), 'the message shows every problem line');
}

describe('spec: parsing, validation and ids', () => {
  const tempDir = useTempDirs();

  describe('spec id', () => {
    it('is sha256 over the RFC 8785 canonical JSON of the document as written', () => {
      const spec = mkosiSpec({ name: 'tiny', sourceDateEpoch: 1700000000, source: { sha256: '0'.repeat(64) } });
      // Written by hand from RFC 8785: keys sorted by code unit, no whitespace, integers as decimals.
      const canonical =
        '{"apiVersion":"bit4bit/v1","builder":{"type":"mkosi","version":"24.3"},"kind":"BuildSpec",' +
        `"name":"tiny","source":{"sha256":"${'0'.repeat(64)}"},"sourceDateEpoch":1700000000}`;
      const expected = `sha256:${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
      assert.equal(computeSpecId(spec), expected);
      assert.equal(parseSpec(toYaml(spec)).id, expected);
    });

    it('is the same for the YAML and JSON forms of one spec, whatever the key order, layout and comments', () => {
      const spec = dockerfileSpec();
      const fromJson = parseSpec(toJson(spec));
      const fromYaml = parseSpec(toYaml(spec));
      const reordered = Object.fromEntries(Object.entries(spec).reverse());
      const handYaml = [
        '# keys in a different order, flow style and quotes mixed',
        'builder:',
        '  baseImages:',
        `    - {image: "docker.io/library/debian:bookworm@sha256:${hexOf('debian')}"}`,
        '  buildArgs: {GREETING: hello}',
        '  platform: linux/amd64',
        '  dockerfile: Dockerfile',
        "  version: '1.28.2'",
        '  type: dockerfile',
        `inputs: [{name: extra.bin, sha256: ${hexOf('extra')}}]`,
        'sourceDateEpoch: 1700000000  # the commit time',
        'source:',
        '  urls: [https://example.org/hello.tar]',
        `  sha256: ${hexOf('source tar')}`,
        'description: hello world image',
        'name: example/hello',
        'kind: BuildSpec',
        'apiVersion: bit4bit/v1',
      ].join('\n');
      assert.equal(fromYaml.id, fromJson.id);
      assert.equal(parseSpec(toJson(reordered)).id, fromJson.id);
      assert.equal(parseSpec(handYaml).id, fromJson.id);
      assert.deepEqual(parseSpec(handYaml).spec, spec);
    });

    it('changes when any pinned input changes', () => {
      const base = computeSpecId(dockerfileSpec());
      assert.notEqual(computeSpecId(dockerfileSpec({ sourceDateEpoch: 1700000001 })), base);
      assert.notEqual(computeSpecId(dockerfileSpec({ source: { sha256: hexOf('other tar') } })), base);
    });

    it('is taken over the document as written: an optional field left out is not filled in with a default', () => {
      const withDefault = dockerfileSpec();
      const { platform: _platform, ...builderWithout } = withDefault.builder as { platform?: string };
      const without = { ...withDefault, builder: builderWithout } as typeof withDefault;
      assert.notEqual(validateSpec(without).id, validateSpec(withDefault).id);
      assert.equal('platform' in validateSpec(without).spec.builder, false);
    });

    it('accepts each builder type: dockerfile, mkosi and rootfs', () => {
      assert.equal(validateSpec(dockerfileSpec()).spec.builder.type, 'dockerfile');
      assert.equal(validateSpec(mkosiSpec()).spec.builder.type, 'mkosi');
      const rootfs = mkosiSpec({ builder: { type: 'rootfs', version: '1.5.7', suite: 'bookworm', packages: { lock: 'debian.lock' } } });
      assert.equal(validateSpec(rootfs).spec.builder.type, 'rootfs');
    });
  });

  describe('refusals name the field and say what is expected', () => {
    it('a base image by tag without @sha256', () => {
      const spec = dockerfileSpec();
      (spec.builder as { baseImages: { image: string }[] }).baseImages = [{ image: 'debian:bookworm' }];
      assertRefused(spec, 'builder.baseImages[0].image', /pinned by manifest digest.*bare tag can move.*got "debian:bookworm"/);
    });

    it('a missing sourceDateEpoch', () => {
      const { sourceDateEpoch: _drop, ...spec } = dockerfileSpec();
      assertRefused(spec, 'sourceDateEpoch', /required field is missing; expected an integer number of seconds/);
    });

    it('a sourceDateEpoch that is not an integer', () => {
      assertRefused(dockerfileSpec({ sourceDateEpoch: 1.5 }), 'sourceDateEpoch', /expected an integer/);
      assertRefused({ ...dockerfileSpec(), sourceDateEpoch: '1700000000' }, 'sourceDateEpoch', /expected an integer.*got "1700000000"/);
    });

    it('an unknown builder type', () => {
      const spec = { ...dockerfileSpec(), builder: { type: 'nix', version: '2.18' } };
      assertRefused(spec, 'builder.type', /unknown builder type "nix"; expected one of dockerfile, mkosi, rootfs/);
    });

    it('a source without sha256', () => {
      assertRefused({ ...dockerfileSpec(), source: { urls: ['https://example.org/hello.tar'] } }, 'source.sha256', /required field is missing; expected 64 lowercase hex/);
    });

    it('two inputs with one name, or inputs on a rootfs build (no build context to put them in)', () => {
      const inputs = [
        { name: 'model.bin', sha256: hexOf('one') },
        { name: 'other.bin', sha256: hexOf('two') },
        { name: 'model.bin', sha256: hexOf('three') },
      ];
      assertRefused(dockerfileSpec({ inputs }), 'inputs[2].name', /"model.bin" is also inputs\[0\]\.name; each input needs its own file name/);
      const rootfs = { ...dockerfileSpec({ inputs: inputs.slice(0, 1) }), builder: { type: 'rootfs', version: '1.3.5', suite: 'bookworm', packages: { lock: 'debian.lock.json' } } };
      assertRefused(rootfs, 'inputs', /a rootfs build has no build context.*for dockerfile and mkosi builds/);
    });

    it('a sha256 that is not 64 lowercase hex characters', () => {
      assertRefused(dockerfileSpec({ source: { sha256: hexOf('x').toUpperCase() } }), 'source.sha256', /64 lowercase hex/);
    });

    it('an unknown field, suggesting the likely intended one', () => {
      assertRefused({ ...dockerfileSpec(), sourceDateEpoh: 1 }, 'sourceDateEpoh', /unknown field \(did you mean "sourceDateEpoch"\?\); allowed here: .*sourceDateEpoch/);
      const spec = dockerfileSpec();
      (spec.builder as unknown as Record<string, unknown>).dockerfil = 'Dockerfile';
      assertRefused(spec, 'builder.dockerfil', /did you mean "dockerfile"\?/);
    });

    it('an unknown field far from any known one gets no suggestion', () => {
      const e = refusal(() => validateSpec({ ...dockerfileSpec(), zzzzzz: 1 }));
      assert.match(e.message, /zzzzzz: unknown field; allowed here/);
      assert.doesNotMatch(e.message, /did you mean/);
    });

    it('a local path or file: URL as the source', () => {
      assertRefused(dockerfileSpec({ source: { sha256: hexOf('t'), urls: ['/home/me/hello.tar'] } }), 'source.urls[0]', /http:\/\/ or https:\/\/ URL; a path on one machine is never a valid source/);
      assertRefused(dockerfileSpec({ source: { sha256: hexOf('t'), urls: ['file:///home/me/hello.tar'] } }), 'source.urls[0]', /never a valid source/);
      assertRefused({ ...dockerfileSpec(), source: './hello' }, 'source', /a path on one machine is never a valid source, got "\.\/hello"/);
    });

    it('a git source named by branch instead of commit', () => {
      assertRefused(dockerfileSpec({ source: { sha256: hexOf('t'), git: { url: 'https://example.org/x.git', commit: 'main' } } }), 'source.git.commit', /full git commit id.*never a branch or tag/);
    });

    it('an unquoted YAML version that parses as a number', () => {
      const yaml = toYaml(mkosiSpec()).replace("version: '24.3'", 'version: 24.3').replace('version: "24.3"', 'version: 24.3');
      assert.match(yaml, /version: 24\.3\n/);
      const e = refusal(() => parseSpec(yaml));
      assert.match(e.message, /builder\.version: expected the exact tool version .*got 24\.3/);
    });

    it('every problem at once, one line each', () => {
      const { sourceDateEpoch: _drop, ...spec } = { ...dockerfileSpec(), nmae: 'typo' };
      const e = refusal(() => validateSpec(spec));
      assert.ok(e.details);
      assert.ok(e.details.some((d) => d.startsWith('sourceDateEpoch:')));
      assert.ok(e.details.some((d) => d.startsWith('nmae:') && d.includes('did you mean "name"')));
    });

    it('a wrong apiVersion or kind', () => {
      assertRefused({ ...dockerfileSpec(), apiVersion: 'bit4bit/v2' }, 'apiVersion', /expected the string "bit4bit\/v1", got "bit4bit\/v2"/);
      assertRefused({ ...dockerfileSpec(), kind: 'Spec' }, 'kind', /expected the string "BuildSpec"/);
    });
  });

  describe('document parsing', () => {
    it('refuses duplicate keys in YAML and in JSON', () => {
      const yaml = `${toYaml(mkosiSpec())}name: again\n`;
      const e = refusal(() => parseSpec(yaml));
      assert.equal(e.code, 'unparsable');
      assert.match(e.message, /Map keys must be unique/);
      const json = toJson(mkosiSpec()).replace('{', '{"name": "first",');
      assert.equal(refusal(() => parseSpec(json)).code, 'unparsable');
    });

    it('refuses custom YAML tags: a spec is data', () => {
      const e = refusal(() => parseSpec(`${toYaml(mkosiSpec())}description: !!js/function 'x'\n`));
      assert.equal(e.code, 'unparsable');
    });

    it(`refuses a document larger than ${MAX_SPEC_BYTES} bytes before parsing it`, () => {
      const big = `${toYaml(mkosiSpec())}# ${'x'.repeat(MAX_SPEC_BYTES)}\n`;
      const e = refusal(() => parseSpec(big));
      assert.equal(e.code, 'too-large');
      assert.match(e.message, /larger than 1048576 bytes/);
    });

    it('refuses an oversized spec file without reading it as a spec', async () => {
      const file = join(await tempDir(), 'big.yaml');
      await writeFile(file, `${toYaml(mkosiSpec())}# ${'x'.repeat(MAX_SPEC_BYTES)}\n`);
      await assert.rejects(loadSpecFile(file), (e: Bit4bitError) => e.code === 'too-large' && e.message.includes(file));
    });

    it('loads a spec file and resolves a spec argument given as a file or as an id', async () => {
      const file = join(await tempDir(), 'hello.yaml');
      await writeFile(file, toYaml(dockerfileSpec()));
      const loaded = await loadSpecFile(file);
      assert.equal(loaded.id, computeSpecId(dockerfileSpec()));
      assert.deepEqual(await resolveSpecArgument(file), { id: loaded.id, loaded });
      assert.deepEqual(await resolveSpecArgument(loaded.id), { id: loaded.id });
      await assert.rejects(loadSpecFile(join(file, '..', 'missing.yaml')), (e: Bit4bitError) => e.code === 'unreadable' && /no such file/.test(e.message));
    });
  });
});
