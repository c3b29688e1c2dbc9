import { readInputFile } from '../home/files.js';
import { parsePolicy, type TrustPolicy } from './policy.js';

export const MAX_POLICY_BYTES = 1024 * 1024;

/** Reads and checks a trust policy file; any error refuses it with every problem listed. */
export async function readPolicyFile(path: string): Promise<TrustPolicy> {
  const text = (await readInputFile(path, MAX_POLICY_BYTES, 'policy')).toString('utf8');
  return parsePolicy(text, `policy ${path}`);
}
