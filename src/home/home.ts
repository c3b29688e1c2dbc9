import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { Bit4bitError, invalidInput } from '../errors.js';
import { generateSigningKeyPem, signerFromPem, type Signer } from '../keys/keys.js';
import { readPolicyFile } from '../policy/file.js';
import { singleSignerPolicyDocument, type TrustPolicy } from '../policy/policy.js';
import { parseDocumentText } from '../spec/validate.js';
import { exists, writeFileAtomic } from './files.js';

/**
 * Everything a user's bit4bit keeps lives under one home directory:
 *
 *   <home>/signing.key   Ed25519 private key, PKCS#8 PEM, mode 0600
 *   <home>/config.yaml   settings (policy path, node settings)
 *   <home>/policy.yaml   the default trust policy
 *   <home>/store/        LevelDB: envelopes, specs, indexes
 *   <home>/cache/        content-addressed blobs (sources, inputs, images)
 *   <home>/node/         verifier node state: libp2p identity (peer.key, 0600), announcements
 */
export interface Home {
  dir: string;
  keyFile: string;
  configFile: string;
  storeDir: string;
  cacheDir: string;
}

export interface HomeConfig {
  /** Trust policy file, relative to the home unless absolute. */
  policy: string;
  /** Settings of `bit4bit node start`; validated by src/node/config.ts. */
  node?: unknown;
}

/** `--home DIR`, else `$BIT4BIT_HOME`, else `$XDG_DATA_HOME/bit4bit` (default `~/.local/share/bit4bit`). */
export function resolveHome(option?: string, env: NodeJS.ProcessEnv = process.env): Home {
  const dir = resolve(option ?? env.BIT4BIT_HOME ?? join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'bit4bit'));
  return { dir, keyFile: join(dir, 'signing.key'), configFile: join(dir, 'config.yaml'), storeDir: join(dir, 'store'), cacheDir: join(dir, 'cache') };
}

export interface InitResult {
  signer: Signer;
  createdKey: boolean;
  createdConfig: boolean;
  createdPolicy: boolean;
  policyFile: string;
}

/**
 * Creates the signing key (0600, never overwritten unless `force`), and a config and
 * a single-signer policy when absent (existing ones are the user's and are kept).
 */
export async function initHome(home: Home, { force = false } = {}): Promise<InitResult> {
  const keyExists = await exists(home.keyFile);
  if (keyExists && !force) {
    throw invalidInput('key-exists', `a signing key already exists at ${home.keyFile}; pass --force to replace it (the old key's attestations will no longer be yours)`);
  }
  const pem = generateSigningKeyPem();
  const signer = signerFromPem(pem);
  await writeFileAtomic(home.keyFile, pem, 0o600);

  const createdConfig = !(await exists(home.configFile));
  if (createdConfig) {
    const config: HomeConfig = { policy: 'policy.yaml' };
    await writeFileAtomic(home.configFile, `# bit4bit configuration; relative paths are relative to this directory\n${stringify(config)}`);
  }
  const policyFile = (await loadConfig(home)).policyFile;
  const createdPolicy = !(await exists(policyFile));
  if (createdPolicy) {
    const doc = singleSignerPolicyDocument('self', Buffer.from(signer.publicKey).toString('hex'));
    await writeFileAtomic(
      policyFile,
      '# Trust policy: the signers whose attestations count, and how many must agree.\n' +
        '# Add the public keys (`bit4bit id`) of operators you trust and raise the threshold.\n' +
        stringify(doc),
    );
  }
  return { signer, createdKey: true, createdConfig, createdPolicy, policyFile };
}

export async function loadSigner(home: Home): Promise<Signer> {
  let pem: string;
  try {
    pem = await readFile(home.keyFile, 'utf8');
  } catch {
    throw invalidInput('no-key', `no signing key at ${home.keyFile}; create one with \`bit4bit init\` (or pass --home)`);
  }
  return signerFromPem(pem, `signing key ${home.keyFile}`);
}

export async function loadConfig(home: Home): Promise<{ config: HomeConfig; policyFile: string }> {
  let config: HomeConfig = { policy: 'policy.yaml' };
  if (await exists(home.configFile)) {
    const value = parseDocumentText(await readFile(home.configFile, 'utf8'), `config ${home.configFile}`);
    if (typeof value !== 'object' || value === null || typeof (value as HomeConfig).policy !== 'string') {
      throw invalidInput('invalid-config', `config ${home.configFile}: policy must be the path of a trust policy file`);
    }
    config = value as HomeConfig;
  }
  const policyFile = isAbsolute(config.policy) ? config.policy : join(home.dir, config.policy);
  return { config, policyFile };
}

/** The policy named by `--policy FILE`, else the home's configured policy. */
export async function loadPolicy(home: Home, file?: string): Promise<{ policy: TrustPolicy; file: string }> {
  const path = file ?? (await loadConfig(home)).policyFile;
  if (!file && !(await exists(path))) {
    throw new Bit4bitError('no-policy', `no trust policy at ${path}; run \`bit4bit init\` or pass --policy FILE`, 'invalid-input');
  }
  return { policy: await readPolicyFile(path), file: path };
}
