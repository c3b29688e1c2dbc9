import type { Command } from 'commander';
import { rename, rm, writeFile } from 'node:fs/promises';
import { invalidInput } from '../../errors.js';
import { LOCK_VARIANTS, lockSize, serializeDebianLock, type LockVariant } from '../../debian/lock.js';
import { DEFAULT_MIRROR, DEFAULT_SECURITY_MIRROR, resolveDebianLock } from '../../debian/resolve.js';
import { print, printJson } from '../output.js';

export function registerLockCommands(program: Command): void {
  const lock = program.command('lock').description('pin package inputs (by version and sha256) for a build spec');

  lock
    .command('debian')
    .description(
      'resolve a Debian package set against the live mirror and write a lock (docs/formats/debian-lock.md); ' +
        'put the lock in the source tree and name it in builder.packages.lock',
    )
    .requiredOption('--suite <codename>', 'Debian suite, e.g. bookworm')
    .option('--packages <a,b,...>', 'packages to install besides the variant\'s base set', '')
    .option('--variant <variant>', `base set: ${LOCK_VARIANTS.join(' | ')} (minbase = Essential + apt + Priority: required, as mmdebstrap)`, 'minbase')
    .option('--architecture <arch>', 'Debian architecture', 'amd64')
    .option('--mirror <url>', 'Debian mirror', DEFAULT_MIRROR)
    .option('--security-mirror <url>', 'Debian security mirror', DEFAULT_SECURITY_MIRROR)
    .requiredOption('--out <file>', 'where to write the lock (JSON)')
    .option('--json', 'print a JSON summary')
    .action(async (opts: { suite: string; packages: string; variant: string; architecture: string; mirror: string; securityMirror: string; out: string; json?: boolean }) => {
      if (!(LOCK_VARIANTS as readonly string[]).includes(opts.variant)) {
        throw invalidInput('bad-variant', `--variant ${opts.variant}: expected one of ${LOCK_VARIANTS.join(', ')}`);
      }
      const packages = opts.packages.split(',').map((p) => p.trim()).filter(Boolean);
      const result = await resolveDebianLock({
        suite: opts.suite,
        packages,
        variant: opts.variant as LockVariant,
        architecture: opts.architecture,
        mirror: opts.mirror,
        securityMirror: opts.securityMirror,
        progress: (line) => process.stderr.write(`${line}\n`),
      });
      // Written beside the target and renamed: a failed run never leaves half a lock.
      const tmp = `${opts.out}.partial`;
      try {
        await writeFile(tmp, serializeDebianLock(result));
        await rename(tmp, opts.out);
      } finally {
        await rm(tmp, { force: true });
      }
      const summary = { file: opts.out, suite: result.suite, architecture: result.architecture, packages: result.packages.length, bytes: lockSize(result) };
      if (opts.json) printJson(summary);
      else print(`${opts.out}: ${summary.packages} packages for ${summary.suite}/${summary.architecture}, ${(summary.bytes / 1e6).toFixed(1)} MB of .debs`);
    });
}
