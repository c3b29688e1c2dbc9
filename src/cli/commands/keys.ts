import type { Command } from 'commander';
import { initHome, loadSigner } from '../../home/home.js';
import { homeOf } from '../context.js';
import { print, printJson } from '../output.js';

export function registerKeyCommands(program: Command): void {
  program
    .command('init')
    .description('create a signing key (mode 0600), a config and a default single-signer trust policy under the home')
    .option('--force', 'replace an existing signing key')
    .action(async (opts: { force?: boolean }, cmd: Command) => {
      const home = homeOf(cmd);
      const r = await initHome(home, { force: opts.force });
      print(`created signing key ${home.keyFile}`);
      print(`signer   ${r.signer.keyid}`);
      print(`public   ${Buffer.from(r.signer.publicKey).toString('hex')}`);
      if (r.createdConfig) print(`created config ${home.configFile}`);
      if (r.createdPolicy) print(`created policy ${r.policyFile} (trusts this key only; add other signers to it)`);
    });

  program
    .command('id')
    .description("print this home's signer id (sha256 of the public key) and public key")
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const signer = await loadSigner(homeOf(cmd));
      const id = { signer: signer.keyid, publicKey: Buffer.from(signer.publicKey).toString('hex') };
      if (opts.json) printJson(id);
      else {
        print(`signer     ${id.signer}`);
        print(`publicKey  ${id.publicKey}`);
      }
    });
}
