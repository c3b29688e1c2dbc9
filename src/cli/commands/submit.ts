import type { Command } from 'commander';
import { apiRequest } from '../../api/client.js';
import { readInputFile } from '../../home/files.js';
import type { SubmitResult } from '../../node/node.js';
import { loadSpecFile } from '../../spec/load.js';
import { print, printJson } from '../output.js';

/** Largest packed source `bit4bit submit --source` sends (the node may accept less). */
const MAX_SOURCE_BYTES = 512 * 1024 * 1024;

export function registerSubmitCommand(program: Command): void {
  program
    .command('submit')
    .description("publish a spec to the network through a node (signed by the node's key); with --source, the node also seeds the packed source")
    .argument('<spec>', 'spec file (YAML or JSON)')
    .requiredOption('--node <url>', 'the node API, e.g. http://127.0.0.1:8080')
    .option('--source <file>', 'packed source tarball (`bit4bit pack`); must hash to the spec\'s source.sha256')
    .option('--json', 'print JSON')
    .action(async (specFile: string, opts: { node: string; source?: string; json?: boolean }) => {
      const { spec } = await loadSpecFile(specFile);
      const source = opts.source ? (await readInputFile(opts.source, MAX_SOURCE_BYTES, 'source')).toString('base64') : undefined;
      const result = await apiRequest<SubmitResult>(opts.node, '/v1/specs', { method: 'POST', body: { spec, ...(source !== undefined && { source }) }, timeoutMs: 600_000 });
      if (opts.json) printJson(result);
      else {
        print(`submitted ${result.spec}`);
        print(`announcement ${result.announcement} (publisher ${result.publisher})`);
        if (result.seeded) print('source seeded by the node');
        if (result.queued) print('the node queued a rebuild');
      }
    });
}
