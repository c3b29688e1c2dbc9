import type { Command } from 'commander';
import { readInputFile } from '../../home/files.js';
import { MAX_POLICY_BYTES } from '../../policy/file.js';
import { lintPolicy } from '../../policy/policy.js';
import { parseDocumentText } from '../../spec/validate.js';
import { EXIT } from '../context.js';
import { print, printJson } from '../output.js';

export function registerPolicyCommands(program: Command): void {
  const policy = program.command('policy').description('check trust policies');

  policy
    .command('lint')
    .description('check a trust policy: errors make it unusable (exit 2), warnings flag a weak one (exit 1)')
    .argument('<file>', 'policy file (YAML or JSON)')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const text = (await readInputFile(file, MAX_POLICY_BYTES, 'policy')).toString('utf8');
      const { problems, policy: parsed } = lintPolicy(parseDocumentText(text, `policy ${file}`));
      if (opts.json) printJson({ ok: problems.length === 0, problems });
      else if (problems.length === 0) {
        print(`ok: ${file}: ${parsed!.signers.size} signer(s), ${parsed!.root.threshold} of ${parsed!.root.members.length} top-level members must agree`);
      } else for (const p of problems) print(`${p.severity}: ${p.message}`);
      if (problems.some((p) => p.severity === 'error')) process.exitCode = EXIT.invalid;
      else if (problems.length > 0) process.exitCode = EXIT.negative;
    });
}
