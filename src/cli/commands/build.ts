import type { Command } from 'commander';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BlobCache } from '../../cache/blob-cache.js';
import { ImageStore } from '../../build/image-store.js';
import { rebuild, type RebuildReport } from '../../build/rebuild.js';
import { defaultSourceHint, siblingSpecResolver } from '../../build/spec-lookup.js';
import { invalidInput } from '../../errors.js';
import { loadSpecFile } from '../../spec/load.js';
import { EXIT, homeOf } from '../context.js';
import { print, printJson } from '../output.js';

interface BuildOptions {
  twice?: boolean;
  json?: boolean;
  keep?: string;
  source?: string;
  timeout: string;
  offline?: boolean;
}

export function registerBuildCommands(program: Command): void {
  program
    .command('build')
    .description('rebuild a spec hermetically and print the digest it gave (nothing is signed; see `bit4bit attest`)')
    .argument('<spec>', 'spec file (YAML or JSON)')
    .option('--twice', 'build twice in fresh environments; different digests are reported as unstable, with what differed')
    .option('--json', 'print JSON')
    .option('--keep <dir>', 'keep the work directories and the output in DIR')
    .option('--source <dir|tar>', 'the build context: a directory (packed deterministically) or a tar; default: source/ beside the spec')
    .option('--timeout <seconds>', 'limit for each build', '3600')
    .option('--offline', 'never fetch inputs over the network: use only the cache and local files')
    .action(async (file: string, opts: BuildOptions, cmd: Command) => {
      const timeout = Number(opts.timeout);
      if (!Number.isInteger(timeout) || timeout <= 0) throw invalidInput('bad-timeout', `--timeout must be a positive whole number of seconds, got ${opts.timeout}`);
      if (opts.source && !(await stat(opts.source).catch(() => undefined))) throw invalidInput('no-source', `--source ${opts.source} does not exist`);
      const loaded = await loadSpecFile(file);
      const home = homeOf(cmd);
      const cache = new BlobCache(home.cacheDir);
      const sourceHint = opts.source ?? (await defaultSourceHint(dirname(file)));

      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop).once('SIGTERM', stop);
      let result: RebuildReport;
      try {
        result = await rebuild(loaded, {
          cache,
          imageStore: new ImageStore(cache),
          ...(sourceHint && { sourceHint }),
          allowFetch: !opts.offline,
          timeoutMs: timeout * 1000,
          signal: abort.signal,
          progress: (msg) => process.stderr.write(`==> ${msg}\n`),
          ...(opts.keep && { keepDir: opts.keep }),
          twice: opts.twice ?? false,
          resolveBaseSpec: siblingSpecResolver(file),
        });
      } finally {
        process.off('SIGINT', stop).off('SIGTERM', stop);
      }
      if (opts.json) printJson(result);
      else print(formatReport(result));
      process.exitCode = result.outcome === 'reproduced' ? EXIT.ok : EXIT.negative;
    });
}

function formatReport(r: RebuildReport): string {
  const rows: [string, string][] = [
    ['outcome', r.outcome],
    ['digest', r.digest ?? (r.digests ? r.digests.join(' vs ') : '-')],
    ['spec', `${r.spec} (${r.name})`],
    ['builder', `${r.builder} (${r.toolVersion || 'tool missing'})`],
    ['duration', `${(r.durationMs / 1000).toFixed(1)} s`],
  ];
  if (r.failure) rows.push(['failure', `${r.failure.class}: ${r.failure.message}`]);
  if (r.artifact) rows.push(['artifact', r.artifact]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
  if (r.differences?.length) lines.push('differences:', ...r.differences.map((d) => `  ${d}`));
  if (r.diffoscope) lines.push('diffoscope (first lines):', ...r.diffoscope.split('\n').map((l) => `  ${l}`));
  return lines.join('\n');
}
