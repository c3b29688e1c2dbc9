import { Option, type Command } from 'commander';
import { createAttestation, verifyAttestation, type RebuildResult } from '../../attestation/attestation.js';
import { FAILURE_CLASSES, OUTCOMES, type FailureClass, type Outcome } from '../../attestation/statement.js';
import { isBundleDocument, MAX_BUNDLE_BYTES, verifyBundle } from '../../bundle/bundle.js';
import { SHA256_DIGEST } from '../../canonical/index.js';
import { Bit4bitError, invalidInput } from '../../errors.js';
import { readInputFile, writeFileAtomic } from '../../home/files.js';
import { loadSigner } from '../../home/home.js';
import { parsePublicKeyHex } from '../../keys/keys.js';
import { readPolicyFile } from '../../policy/file.js';
import { loadSpecFile } from '../../spec/load.js';
import { homeOf } from '../context.js';
import { print, printJson, signerLabel } from '../output.js';

interface AttestOptions {
  digest?: string[];
  outcome: Outcome;
  reason?: string;
  class: FailureClass;
  toolVersion?: string;
  out?: string;
}

export function registerAttestCommands(program: Command): void {
  program
    .command('attest')
    .description('sign a rebuild result for a spec as a DSSE envelope holding an in-toto Statement v1')
    .argument('<spec>', 'spec file that was rebuilt')
    .option('--digest <sha256:hex...>', 'the digest the rebuild produced (for unstable: each digest seen)')
    .addOption(new Option('--outcome <outcome>', 'what the rebuild gave').choices(OUTCOMES).default('reproduced'))
    .option('--reason <text>', 'what went wrong (failed/unstable)')
    .addOption(new Option('--class <class>', 'failure class (failed)').choices(FAILURE_CLASSES).default('build-error'))
    .option('--tool-version <version>', 'tool version used (default: the version the spec pins)')
    .option('--out <file>', 'write the envelope here instead of stdout')
    .action(async (specFile: string, opts: AttestOptions, cmd: Command) => {
      const { id, spec } = await loadSpecFile(specFile);
      const signer = await loadSigner(homeOf(cmd));
      const now = new Date();
      const att = createAttestation(
        { specId: id, spec, toolVersion: opts.toolVersion, result: rebuildResult(opts), startedOn: now, finishedOn: now },
        signer,
      );
      const text = `${JSON.stringify(att.envelope, null, 2)}\n`;
      if (opts.out) {
        await writeFileAtomic(opts.out, text);
        process.stderr.write(`wrote ${att.outcome} attestation ${att.id} for ${id} to ${opts.out}\n`);
      } else process.stdout.write(text);
    });

  program
    .command('verify')
    .description('verify an attestation envelope (against a key or a policy) or a quorum bundle (against a policy); exit 0 valid, 1 invalid, 2 unreadable')
    .argument('<file>', 'envelope or bundle (JSON)')
    .option('--key <hex>', 'raw Ed25519 public key (64 hex) the envelope must be signed with')
    .option('--policy <file>', 'trust policy the signer (or the bundle quorum) must satisfy')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { key?: string; policy?: string; json?: boolean }) => {
      if (!opts.key === !opts.policy) throw invalidInput('usage', 'give exactly one of --key HEX or --policy FILE');
      const data = await readInputFile(file, MAX_BUNDLE_BYTES, 'input');
      const value = parseJsonFile(data, file);
      const report = (result: Record<string, unknown>, line: string) => (opts.json ? printJson({ valid: true, ...result }) : print(line));
      try {
        if (isBundleDocument(value)) {
          if (!opts.policy) throw invalidInput('usage', 'a quorum bundle is checked against a policy: pass --policy FILE');
          const c = verifyBundle(value, await readPolicyFile(opts.policy));
          report(
            { kind: 'bundle', spec: c.spec, digest: c.digest, agreeing: c.agreeing },
            `valid: quorum bundle for ${c.spec}: ${c.agreeing.length} trusted signer(s) agree on ${c.digest}`,
          );
        } else if (opts.key) {
          const a = verifyAttestation(data, { publicKey: toHexKey(opts.key) });
          report(summary(a), `valid: ${a.outcome} attestation for ${a.spec} signed by ${a.signer}`);
        } else {
          const policy = await readPolicyFile(opts.policy!);
          const a = verifyAttestation(data);
          const trusted = policy.signers.get(a.signer);
          if (!trusted) throw new Bit4bitError('untrusted', `signature is valid but signer ${a.signer} is not in policy ${opts.policy}`, 'negative');
          report(summary(a), `valid: ${a.outcome} attestation for ${a.spec} signed by ${signerLabel(a.signer, { [a.signer]: trusted.name })}`);
        }
      } catch (e) {
        if (opts.json && e instanceof Bit4bitError) printJson({ valid: false, code: e.code, reason: e.message });
        throw e;
      }
    });
}

function rebuildResult(opts: AttestOptions): RebuildResult {
  const digests = opts.digest ?? [];
  for (const d of digests) if (!SHA256_DIGEST.test(d)) throw invalidInput('bad-digest', `--digest must be sha256:<64 lowercase hex>, got ${JSON.stringify(d)}`);
  switch (opts.outcome) {
    case 'reproduced':
      if (digests.length !== 1) throw invalidInput('usage', 'a reproduced attestation needs exactly one --digest sha256:<hex>');
      return { outcome: 'reproduced', digest: digests[0]! };
    case 'failed':
      if (digests.length) throw invalidInput('usage', 'a failed attestation carries no digest; drop --digest');
      return { outcome: 'failed', failure: { class: opts.class, message: opts.reason ?? '' } };
    case 'unstable':
      if (new Set(digests).size < 2) throw invalidInput('usage', 'an unstable attestation needs the two (or more) different digests: --digest A --digest B');
      return { outcome: 'unstable', digests, ...(opts.reason && { differences: [opts.reason] }) };
  }
}

function summary(a: { id: string; signer: string; spec: string; outcome: string; digest: string | null }) {
  return { kind: 'envelope', id: a.id, signer: a.signer, spec: a.spec, outcome: a.outcome, digest: a.digest };
}

function toHexKey(hex: string): string {
  parsePublicKeyHex(hex, '--key');
  return hex;
}

export function parseJsonFile(data: Buffer, file: string): unknown {
  try {
    return JSON.parse(data.toString('utf8'));
  } catch {
    throw invalidInput('malformed', `${file} is not JSON (expected a DSSE envelope or a quorum bundle)`);
  }
}
