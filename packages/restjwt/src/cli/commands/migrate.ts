import { Command } from 'commander';
import { databaseOption } from '../options.js';
import { withStore } from '../store.js';

interface MigrateOptions {
  database: string;
}

/** `restjwt migrate`: creates or upgrades the schema and lists what it applied. */
export function migrateCommand(): Command {
  return new Command('migrate')
    .description('create or upgrade the database schema (serve also does this on start)')
    .addOption(databaseOption())
    .action(async (options: MigrateOptions) => {
      // Open without migrating, so that migrate() reports what it applies.
      const applied = await withStore(options.database, (store) => store.migrate(), { migrate: false });
      if (applied.length === 0) {
        process.stdout.write('No migrations to apply.\n');
        return;
      }
      for (const name of applied) process.stdout.write(`Applied ${name}\n`);
    });
}
