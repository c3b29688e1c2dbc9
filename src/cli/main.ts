#!/usr/bin/env node
import '../polyfill.js';
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { isBit4bitError } from '../errors.js';
import { registerAttestCommands } from './commands/attest.js';
import { registerBuildCommands } from './commands/build.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerLockCommands } from './commands/lock.js';
import { registerNodeCommands } from './commands/node.js';
import { registerPackCommands } from './commands/pack.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerSpecCommands } from './commands/spec.js';
import { registerStoreCommands } from './commands/store.js';
import { registerSubmitCommand } from './commands/submit.js';
import { EXIT } from './context.js';

// The version of the package as installed (npm, the container image): package.json sits
// next to dist/, three levels above dist/src/cli/main.js.
const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('bit4bit')
  .description('bit4bit: rebuild pinned image specs, sign what you got, and agree on canonical digests with other verifiers')
  .version(version, '-V, --version', 'print the bit4bit version')
  .option('--home <dir>', 'state directory (default: $BIT4BIT_HOME, else $XDG_DATA_HOME/bit4bit, else ~/.local/share/bit4bit)')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerKeyCommands(program);
registerSpecCommands(program);
registerAttestCommands(program);
registerPolicyCommands(program);
registerStoreCommands(program);
registerPackCommands(program);
registerBuildCommands(program);
registerLockCommands(program);
registerNodeCommands(program);
registerSubmitCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = exitCodeFor(e);
}

function exitCodeFor(e: unknown): number {
  if (e instanceof CommanderError) {
    // Help and version are not errors; any other parse failure is bad usage. Commander printed it.
    return e.exitCode === 0 ? EXIT.ok : EXIT.invalid;
  }
  if (isBit4bitError(e)) {
    process.stderr.write(`error: ${e.message}\n`);
    return e.kind === 'invalid-input' ? EXIT.invalid : EXIT.negative;
  }
  process.stderr.write(`internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  return EXIT.negative;
}
