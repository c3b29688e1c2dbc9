import type { ConsensusResult } from '../consensus/consensus.js';

/** Stable JSON for `--json` output: two-space indented, newline-terminated. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** `name (keyid prefix)` for a signer the policy names, else the full keyid. */
export function signerLabel(keyid: string, names: Record<string, string | undefined>): string {
  const name = names[keyid];
  return name ? `${name} (${keyid.slice(0, 12)})` : keyid;
}

export function formatConsensus(c: ConsensusResult): string {
  const list = (xs: string[]) => (xs.length ? xs.map((k) => signerLabel(k, c.names)).join(', ') : '-');
  const rows: [string, string][] = [
    ['spec', c.spec],
    ['state', c.state],
    ['digest', c.digest ?? '-'],
    ['agreeing', list(c.agreeing)],
    ['dissenting', list(c.dissenting)],
    ['failed', list(c.failed)],
    ['unstable', list(c.unstable)],
    ['missing', list(c.missing)],
    ['equivocating', list(c.equivocating)],
  ];
  for (const v of c.votes) rows.push([`votes ${v.digest.slice(0, 19)}…`, `${v.signers.length}: ${list(v.signers)}`]);
  if (c.untrusted.length) rows.push(['untrusted', `${c.untrusted.length} signer(s) outside the policy, not counted`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
