import type { Command } from 'commander';
import { join } from 'node:path';
import { readInputFile } from '../../home/files.js';
import { loadConfig, loadPolicy, loadSigner } from '../../home/home.js';
import { readPolicyFile } from '../../policy/file.js';
import { parseDocumentText } from '../../spec/validate.js';
import { parseNodeConfig } from '../../node/config.js';
import { homeOf } from '../context.js';

/** `bit4bit node start`: run a verifier node until SIGINT/SIGTERM (DESIGN §6). */
export function registerNodeCommands(program: Command): void {
  const node = program.command('node').description('run a verifier node');
  node
    .command('start')
    .description('start a verifier node: libp2p gossip/sync/blob exchange, the build queue and the HTTP API; stops cleanly on Ctrl-C or SIGTERM')
    .option('--config <file>', 'node settings file (YAML, the fields of the `node:` section); default: the `node:` section of the home config')
    .option('--log-json', 'log JSON lines instead of readable lines')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .action(async (opts: { config?: string; logJson?: boolean; logLevel: string }, cmd: Command) => {
      const home = homeOf(cmd);
      const { config } = await loadConfig(home);
      const section = opts.config
        ? parseDocumentText((await readInputFile(opts.config, 1024 * 1024, 'node config')).toString('utf8'), `node config ${opts.config}`)
        : (config as { node?: unknown }).node;
      const settings = parseNodeConfig(section, home.dir, opts.config ? `node config ${opts.config}` : `${home.configFile} node:`);
      const signer = await loadSigner(home);
      const policy = settings.policyFile ? await readPolicyFile(settings.policyFile) : (await loadPolicy(home)).policy;
      // libp2p, fastify and the builders load only here, so other commands start fast.
      const [{ createLogger }, { VerifierNode }, { hermeticRebuilder }] = await Promise.all([
        import('../../node/log.js'),
        import('../../node/node.js'),
        import('../../build/rebuilder.js'),
      ]);
      const logger = createLogger({ json: opts.logJson === true, level: opts.logLevel });
      const verifier = await VerifierNode.create({
        dirs: { storeDir: home.storeDir, cacheDir: home.cacheDir, nodeDir: join(home.dir, 'node') },
        signer,
        policy,
        settings,
        logger,
        ...(settings.build.specs !== 'none' && {
          rebuilder: hermeticRebuilder({
            allowFetch: settings.build.fetchUrls,
            timeoutMs: settings.build.timeoutMs,
            twice: settings.build.twice,
            workRoot: join(home.dir, 'work'),
          }),
        }),
      });
      // A long-running daemon: a stray rejection inside libp2p (seen on failed background
      // dials under load) is logged, not fatal.
      process.on('unhandledRejection', (e) => logger.error({ err: e instanceof Error ? e.message : String(e) }, 'unhandled rejection'));
      await verifier.start();
      if (verifier.apiUrl) process.stdout.write(`${verifier.apiUrl}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, 'stopping');
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await verifier.stop();
    });
}
