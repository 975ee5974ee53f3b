/** `flatminima report <results-dir>`: writes the HTML report (tables and plots) of a results directory. */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';

/** Registers `report` on the program. */
export function registerReport(program: Command): void {
  program
    .command('report')
    .description('write report.html (tables and plots) for a results directory')
    .argument('<results-dir>', 'a directory of <runId>/record.json run folders')
    .option('--out <dir>', 'where report.html and the plots go (default: the results directory)')
    .action(async (dirArg: string, flags: { out?: string }) => {
      const dir = resolve(dirArg);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`<results-dir> ${dirArg}: no such directory`);
      const { writeReport } = await import('../../report/index.js');
      const { htmlPath, files } = await writeReport(dir, flags.out !== undefined ? { outDir: resolve(flags.out) } : {});
      process.stdout.write(`report: ${htmlPath} (${files.length} plot files)\n`);
    });
}
