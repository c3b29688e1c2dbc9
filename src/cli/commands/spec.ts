import type { Command } from 'commander';
import { loadSpecFile } from '../../spec/load.js';
import { print, printJson } from '../output.js';

export function registerSpecCommands(program: Command): void {
  const spec = program.command('spec').description('check build specs and compute their ids');

  spec
    .command('lint')
    .description('validate a build spec (YAML or JSON) against the bit4bit/v1 BuildSpec schema')
    .argument('<file>', 'spec file')
    .action(async (file: string) => {
      const { id, spec: s } = await loadSpecFile(file);
      print(`ok: ${file} is a valid ${s.builder.type} spec "${s.name}" (${id})`);
    });

  spec
    .command('digest')
    .description('print the spec id: sha256 of the RFC 8785 canonical JSON of the spec document')
    .argument('<file>', 'spec file')
    .option('--json', 'print JSON')
    .action(async (file: string, opts: { json?: boolean }) => {
      const { id, spec: s } = await loadSpecFile(file);
      if (opts.json) printJson({ spec: id, name: s.name, builder: s.builder.type });
      else print(id);
    });
}
