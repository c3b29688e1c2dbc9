import type { Command } from 'commander';
import { verifyAttestation, type Attestation } from '../../attestation/attestation.js';
import { apiRequest } from '../../api/client.js';
import { auditSigners, type SignerAudit } from '../../audit/audit.js';
import { createBundle, isBundleDocument, MAX_BUNDLE_BYTES, type QuorumBundle } from '../../bundle/bundle.js';
import { evaluateConsensus, type ConsensusResult } from '../../consensus/consensus.js';
import { Bit4bitError, invalidInput, isBit4bitError } from '../../errors.js';
import { readInputFile, writeFileAtomic } from '../../home/files.js';
import { loadPolicy } from '../../home/home.js';
import { resolveSpecArgument } from '../../spec/load.js';
import { parseDocumentText, validateSpec } from '../../spec/validate.js';
import type { AttestationStore } from '../../store/store.js';
import { EXIT, homeOf, withStore } from '../context.js';
import { formatConsensus, print, printJson, signerLabel } from '../output.js';

interface IngestReport {
  file: string;
  status: 'accepted' | 'duplicate' | 'rejected';
  kind?: 'envelope' | 'spec' | 'bundle';
  id?: string;
  reason?: string;
}

export function registerStoreCommands(program: Command): void {
  program
    .command('ingest')
    .description('import attestation envelopes, specs or quorum bundles into the store (idempotent; a rejected file changes nothing)')
    .argument('<files...>', 'envelope, spec or bundle files')
    .option('--json', 'print JSON')
    .action(async (files: string[], opts: { json?: boolean }, cmd: Command) => {
      const reports = await withStore(homeOf(cmd), async (store) => {
        const out: IngestReport[] = [];
        for (const file of files) out.push(await ingestFile(store, file));
        return out;
      });
      if (opts.json) printJson(reports);
      else for (const r of reports) print(`${r.status.padEnd(9)} ${r.file}${r.kind ? `  ${r.kind} ${r.id}` : ''}${r.reason ? `  (${r.reason})` : ''}`);
      const rejected = reports.filter((r) => r.status === 'rejected');
      if (rejected.length) process.exitCode = rejected.some((r) => r.reason?.startsWith('bad signature')) ? EXIT.negative : EXIT.invalid;
    });

  program
    .command('query')
    .description('print the consensus on a spec under the trust policy; exit 0 when agreed, 1 otherwise')
    .argument('<spec>', 'spec id (sha256:...) or spec file')
    .option('--policy <file>', 'trust policy (default: the one in the home config)')
    .option('--node <url>', "ask a running node's HTTP API instead of opening the local store (the node's policy applies)")
    .option('--json', 'print JSON')
    .action(async (specArg: string, opts: { policy?: string; json?: boolean; node?: string }, cmd: Command) => {
      const home = homeOf(cmd);
      const { id } = await resolveSpecArgument(specArg);
      const result = opts.node
        ? await apiRequest<ConsensusResult>(opts.node, `/v1/specs/${id}/consensus`)
        : await (async () => {
            const { policy } = await loadPolicy(home, opts.policy);
            return withStore(home, async (store) => evaluateConsensus(id, policy, await store.votes(id)));
          })();
      if (opts.json) printJson(result);
      else print(formatConsensus(result));
      if (result.state !== 'agreed') process.exitCode = EXIT.negative;
    });

  program
    .command('audit')
    .description('per signer: attestations, agreements, dissents, failures, equivocations (with evidence) and last seen')
    .argument('[signer]', 'keyid (hex sha256 of the public key) or a name from the policy')
    .option('--policy <file>', 'trust policy (default: the one in the home config)')
    .option('--node <url>', "ask a running node's HTTP API instead of opening the local store (the node's policy applies)")
    .option('--json', 'print JSON')
    .action(async (signerArg: string | undefined, opts: { policy?: string; json?: boolean; node?: string }, cmd: Command) => {
      const home = homeOf(cmd);
      let signer = signerArg;
      let audits: SignerAudit[];
      if (opts.node) {
        // The node resolves names against its own policy.
        audits = signer === undefined ? await apiRequest<SignerAudit[]>(opts.node, '/v1/signers') : [await apiRequest<SignerAudit>(opts.node, `/v1/signers/${encodeURIComponent(signer)}`)];
      } else {
        const { policy } = await loadPolicy(home, opts.policy);
        if (signer !== undefined && !/^[0-9a-f]{64}$/.test(signer)) {
          signer = [...policy.signers].find(([, s]) => s.name === signerArg)?.[0];
          if (!signer) throw invalidInput('unknown-signer', `"${signerArg}" is neither a keyid (64 hex) nor a signer name in the policy`);
        }
        audits = await withStore(home, (store) => auditSigners(store, policy, signer));
      }
      if (opts.json) {
        printJson(signer === undefined ? audits : audits[0]);
        return;
      }
      for (const a of audits) {
        print(`${signerLabel(a.signer, { [a.signer]: a.name ?? undefined })}${a.trusted ? '' : '  [not in policy]'}`);
        print(`  attestations ${a.attestations} on ${a.specs} spec(s); agreed ${a.agreed}, dissented ${a.dissented}, failed ${a.failed}, unstable ${a.unstable}`);
        for (const e of a.equivocations) print(`  EQUIVOCATED on ${e.spec}: ${e.envelopes.join(', ')}`);
        print(`  last seen ${a.lastSeen ?? 'never'}`);
      }
    });

  program
    .command('bundle')
    .description('export the quorum proof of a spec (the spec and the agreeing envelopes); check it with `verify --policy`')
    .argument('<spec>', 'spec id (sha256:...) or spec file')
    .requiredOption('--out <file>', 'where to write the bundle')
    .option('--policy <file>', 'trust policy (default: the one in the home config)')
    .option('--node <url>', "ask a running node's HTTP API instead of opening the local store (the node's policy applies)")
    .action(async (specArg: string, opts: { out: string; policy?: string; node?: string }, cmd: Command) => {
      const home = homeOf(cmd);
      const { id, loaded } = await resolveSpecArgument(specArg);
      const bundle = opts.node
        ? await apiRequest<QuorumBundle>(opts.node, `/v1/specs/${id}/bundle`)
        : await (async () => {
            const { policy } = await loadPolicy(home, opts.policy);
            return withStore(home, async (store) => {
              const spec = loaded?.spec ?? (await store.getSpec(id));
              if (!spec) throw invalidInput('unknown-spec', `the spec document for ${id} is not in the store; pass the spec file instead of its id, or ingest it first`);
              return createBundle(id, spec, evaluateConsensus(id, policy, await store.votes(id)), await store.envelopes(id));
            });
          })();
      await writeFileAtomic(opts.out, `${JSON.stringify(bundle, null, 2)}\n`);
      print(`wrote quorum bundle for ${id} (${bundle.envelopes.length} envelope(s) on ${bundle.digest}) to ${opts.out}`);
    });
}

/** Ingests one file; a file is all-or-nothing. */
async function ingestFile(store: AttestationStore, file: string): Promise<IngestReport> {
  try {
    const text = (await readInputFile(file, MAX_BUNDLE_BYTES, 'input')).toString('utf8');
    // Envelopes and bundles are JSON (bundles may be large); YAML is only for specs.
    const value = parseJsonOrSpecText(text, file);
    if (isBundleDocument(value)) {
      const { spec, envelopes } = value as { spec: unknown; envelopes: unknown };
      const { id: specId, spec: doc } = validateSpec(spec, `${file}: bundle.spec`);
      if (!Array.isArray(envelopes)) throw invalidInput('malformed', 'bundle.envelopes must be an array');
      const atts = envelopes.map((e, i) => verifyOr(`envelopes[${i}]: `, () => verifyAttestation(e as object as never)));
      const foreign = atts.find((a) => a.spec !== specId);
      if (foreign) throw invalidInput('malformed', `envelope ${foreign.id} is about spec ${foreign.spec}, not the bundle's ${specId}`);
      const newSpec = await store.putSpec(specId, doc);
      const statuses = await store.ingest(atts);
      const fresh = statuses.filter((s) => s === 'accepted').length;
      return { file, status: fresh || newSpec ? 'accepted' : 'duplicate', kind: 'bundle', id: specId, ...(fresh && { reason: `${fresh} new envelope(s)` }) };
    }
    if (typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === 'BuildSpec') {
      const { id, spec } = validateSpec(value, file);
      return { file, status: (await store.putSpec(id, spec)) ? 'accepted' : 'duplicate', kind: 'spec', id };
    }
    const att = verifyOr('', () => verifyAttestation(Buffer.from(text)));
    const [status] = await store.ingest([att]);
    return { file, status: status!, kind: 'envelope', id: att.id };
  } catch (e) {
    if (!isBit4bitError(e) || e.kind === 'environment') throw e;
    return { file, status: 'rejected', reason: e.message };
  }
}

function parseJsonOrSpecText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return parseDocumentText(text, file);
  }
}

/** Runs a verification, prefixing the reason so the report says which check failed. */
function verifyOr(prefix: string, fn: () => Attestation): Attestation {
  try {
    return fn();
  } catch (e) {
    if (!isBit4bitError(e)) throw e;
    const what = e.code === 'bad-signature' ? 'bad signature' : 'malformed';
    throw new Bit4bitError(e.code, `${what}: ${prefix}${e.message}`, e.kind);
  }
}
