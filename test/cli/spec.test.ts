import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { computeSpecId } from '../../src/spec/validate.js';
import { runCli } from '../support/cli.js';
import { dockerfileSpec, toJson, toYaml } from '../support/specs.js';
import { useTempDirs } from '../support/temp.js';

describe('cli: bit4bit spec lint|digest', () => {
  const tempDir = useTempDirs();
  let dir: string;
  const spec = dockerfileSpec();
  const id = computeSpecId(spec);

  before(async () => {
    dir = await tempDir();
    await writeFile(join(dir, 'hello.yaml'), toYaml(spec));
    await writeFile(join(dir, 'hello.json'), toJson(spec));
  });

  it('lint: exit 0 and a one-line summary for a valid spec', async () => {
    const r = await runCli(['spec', 'lint', join(dir, 'hello.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `ok: ${join(dir, 'hello.yaml')} is a valid dockerfile spec "example/hello" (${id})\n`);
  });

  it('lint: exit 2 with what is wrong on stderr for an invalid spec', async () => {
    const byTag = dockerfileSpec();
    (byTag.builder as { baseImages: { image: string }[] }).baseImages = [{ image: 'debian:bookworm' }];
    await writeFile(join(dir, 'tag.yaml'), toYaml(byTag));
    await writeFile(join(dir, 'dup.yaml'), `${toYaml(spec)}name: twice\n`);
    const [tag, dup, missing] = await Promise.all([
      runCli(['spec', 'lint', join(dir, 'tag.yaml')]),
      runCli(['spec', 'lint', join(dir, 'dup.yaml')]),
      runCli(['spec', 'lint', join(dir, 'missing.yaml')]),
    ]);
    for (const r of [tag, dup, missing]) {
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
    }
    assert.match(tag.stderr, /^error: spec .*tag\.yaml is not a valid bit4bit\/v1 BuildSpec:\n  builder\.baseImages\[0\]\.image: expected an image reference pinned by manifest digest/);
    assert.match(dup.stderr, /is not valid YAML\/JSON: Map keys must be unique/);
    assert.match(missing.stderr, /cannot read spec .*missing\.yaml: no such file/);
  });

  it('digest: the YAML and JSON forms give the same spec id; --json prints {spec, name, builder}', async () => {
    const [yaml, json] = await Promise.all([runCli(['spec', 'digest', join(dir, 'hello.yaml')]), runCli(['spec', 'digest', '--json', join(dir, 'hello.json')])]);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.equal(yaml.stdout, `${id}\n`);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), { spec: id, name: 'example/hello', builder: 'dockerfile' });
  });

  it('bad usage (an unknown option) is exit 2', async () => {
    const r = await runCli(['spec', 'digest', '--jsno', join(dir, 'hello.json')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--jsno'/);
  });
});
