import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { runCli } from '../support/cli.js';

describe('cli: bit4bit --version', () => {
  it('prints the version from package.json and exits 0', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await runCli([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${version}\n`);
    }
  });
});
