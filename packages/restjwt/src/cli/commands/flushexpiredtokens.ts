import { Command } from 'commander';
import { databaseOption, redisOption } from '../options.js';
import { withStore } from '../store.js';

interface FlushOptions {
  database: string;
  redis?: string;
}

function tokens(n: number): string {
  return `${n} expired ${n === 1 ? 'token' : 'tokens'}`;
}

/** `restjwt flushexpiredtokens`: simplejwt's management command of the same name, for a cron job. */
export function flushExpiredTokensCommand(): Command {
  return new Command('flushexpiredtokens')
    .description('delete outstanding and blacklisted tokens that have expired (run it daily from cron)')
    .addOption(databaseOption())
    .addOption(redisOption())
    .action(async (options: FlushOptions) => {
      const deleted = await withStore(
        options.database,
        (store) =>
          store.flushExpired(new Date(), {
            // Progress goes to stderr so that stdout holds only the summary.
            onProgress: (p) => process.stderr.write(`deleted ${tokens(p.deleted)}…\n`),
          }),
        // With Redis, the cache entries of the flushed tokens are dropped too.
        { redisUrl: options.redis ?? null },
      );
      process.stdout.write(`Deleted ${tokens(deleted)}.\n`);
    });
}
