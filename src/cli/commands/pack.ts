import type { Command } from 'commander';
import { packToFile } from '../../source/pack.js';
import { print, printJson } from '../output.js';
import { rename, rm } from 'node:fs/promises';

export function registerPackCommands(program: Command): void {
  program
    .command('pack')
    .description('write the deterministic tar of a build context and print its sha256 (the spec\'s source.sha256)')
    .argument('<dir>', 'root of the build context')
    .requiredOption('--out <file>', 'where to write the tar')
    .option('--json', 'print JSON')
    .action(async (dir: string, opts: { out: string; json?: boolean }) => {
      // Written beside the target and renamed, so a failed pack leaves no partial file.
      const tmp = `${opts.out}.partial`;
      try {
        const r = await packToFile(dir, tmp);
        await rename(tmp, opts.out);
        if (opts.json) printJson({ sha256: r.sha256, entries: r.entries, bytes: r.bytes, file: opts.out });
        else print(`${r.sha256}  ${opts.out}  (${r.entries} entries, ${r.bytes} bytes)`);
      } finally {
        await rm(tmp, { force: true });
      }
    });
}

