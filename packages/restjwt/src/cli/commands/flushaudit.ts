import { Command, InvalidArgumentError } from 'commander';
import { parseDuration } from '@restjwt/core/adapter-kit';
import { hasAudit } from '@restjwt/core/store-kit';
import { loadSettingsInput, validateSettings } from '../config.js';
import { CliError } from '../errors.js';
import { databaseOption } from '../options.js';
import { withStore } from '../store.js';

interface FlushAuditOptions {
  database: string;
  config?: string;
  olderThan?: number;
}

function events(n: number): string {
  return `${n} audit ${n === 1 ? 'event' : 'events'}`;
}

/** A commander parser for `--older-than`: any duration the settings accept (`90d`, `12h`, `3600`). */
function durationArgument(value: string): number {
  const seconds = parseDuration(value);
  if (typeof seconds !== 'number' || seconds <= 0) throw new InvalidArgumentError(`--older-than must be a duration such as "90d", "12h" or "3600" (seconds).`);
  return Math.floor(seconds);
}

/** `restjwt flushaudit`: trims the audit log to its retention (`auditRetention`, default 90 days), for a cron job. */
export function flushAuditCommand(): Command {
  return new Command('flushaudit')
    .description('delete audit events older than the retention (the auditRetention setting, default 90 days; run it daily from cron)')
    .option('--older-than <duration>', 'delete events older than this instead ("30d", "12h", seconds)', durationArgument)
    .option('--config <file>', 'JSON settings file whose auditRetention to use; else the JSON in RESTJWT_SETTINGS')
    .addOption(databaseOption())
    .action(async (options: FlushAuditOptions) => {
      const retention = options.olderThan ?? validateSettings(await loadSettingsInput(options.config)).settings.auditRetention;
      const before = new Date(Date.now() - retention * 1000);
      const deleted = await withStore(options.database, async (store) => {
        if (!hasAudit(store)) {
          throw new CliError('This database keeps no audit log (a Django shared database has none): there is nothing to flush. Remove this cron job, or point --database at a restjwt database.');
        }
        // Progress goes to stderr so that stdout holds only the summary.
        return store.flushAudit(before, { onProgress: (p) => process.stderr.write(`deleted ${events(p.deleted)}…\n`) });
      });
      process.stdout.write(`Deleted ${events(deleted)} from before ${before.toISOString()}.\n`);
    });
}
