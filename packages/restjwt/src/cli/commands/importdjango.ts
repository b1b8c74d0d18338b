import { Command, Option } from 'commander';
import { findUserByUsername, normalizeUsername, type ImportUserResult, type Store, type UserImportStore, type UserRecord } from '@restjwt/core';
import { canImportUsers } from '@restjwt/core/store-kit';
import { openDjangoStore, type DjangoStore } from '../../stores/django/index.js';
import { DJANGO_URL_EXAMPLES, isDjangoUrl, parseDjangoUrl } from '../../stores/django/url.js';
import { CliError } from '../errors.js';
import { databaseOption } from '../options.js';
import { withStore } from '../store.js';

interface ImportDjangoOptions {
  from: string;
  database: string;
}

/** Rows read per query. */
const PAGE = 500;

/** The target store has users whose ids or usernames clash with Django's; nothing was imported. */
export class ImportConflictError extends Error {
  /**
   * @param conflicts one line per clashing Django user.
   * @param lookAlikes whether some clash only once usernames are normalised to NFKC (look-alikes such as `ａｌｉｃｅ`
   *   beside `alice`): the message then says how to resolve those.
   */
  constructor(
    readonly conflicts: readonly string[],
    lookAlikes = false,
  ) {
    const shown = conflicts.slice(0, 10).map((c) => `  - ${c}`).join('\n');
    const more = conflicts.length > 10 ? `\n  … and ${conflicts.length - 10} more` : '';
    super(
      `Nothing was imported: ${conflicts.length} Django user${conflicts.length === 1 ? '' : 's'} clash with users of the target store:\n` +
        `${shown}${more}\nDjango's tokens name users by id, so they would authenticate as the wrong person. Import into an ` +
        'empty store, or one filled only by earlier imports from this Django database.' +
        (lookAlikes
          ? '\nUsernames are compared in NFKC form, as Django\'s normalize_username stores them, so look-alikes are one name: ' +
            'rename or remove one user of each look-alike pair (in Django, where "restjwt checkusernames --database ' +
            'django+URL" lists them all), then run the import again.'
          : ''),
    );
    this.name = 'ImportConflictError';
  }
}

/** What one run did, for the summary and for tests. */
export interface ImportSummary {
  users: { read: number; imported: number; existing: number; conflicts: number };
  tokens: { read: number; expiredSkipped: number; newOutstanding: number; newlyBlacklisted: number };
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * Copies a Django project's users (with their password hashes, flags and dates, under the same ids) and its
 * unexpired outstanding and blacklisted tokens into `target`. Idempotent: existing users are never changed,
 * tokens are recorded by jti, and a token already blacklisted stays so; a second run changes nothing.
 *
 * Usernames are stored in NFKC form, as Django's `normalize_username` makes them (a Django row stored otherwise is
 * imported under its NFKC form, said on `progress`).
 *
 * @throws ImportConflictError, before writing anything, when a Django user's id or username (in NFKC form) belongs to
 *   another user of the target, or two Django users' usernames are the same in NFKC form (look-alikes).
 */
export async function importFromDjango(
  source: DjangoStore,
  target: Store & UserImportStore,
  progress: (line: string) => void = () => {},
  now: Date = new Date(),
): Promise<ImportSummary> {
  const summary: ImportSummary = {
    users: { read: 0, imported: 0, existing: 0, conflicts: 0 },
    tokens: { read: 0, expiredSkipped: 0, newOutstanding: 0, newlyBlacklisted: 0 },
  };

  const totalUsers = await source.countDjangoUsers();
  // Tokens name users by id: importing Django's user 1 where the target's user 1 is someone else would let Django's
  // tokens for one person act as another. Check everything before writing anything. Usernames are compared (and
  // stored) in NFKC form, as every other way of creating a user does: a look-alike is the same name.
  const conflicts: string[] = [];
  let lookAlikes = false;
  const seen = new Map<string, string>(); // NFKC username → the Django id that has it
  for (let offset = 0; ; offset += PAGE) {
    const page = await source.listUsers({ limit: PAGE, offset });
    for (const user of page) {
      const name = normalizeUsername(user.username);
      const byId = await target.findUser('id', user.id);
      const byName = await findUserByUsername(target, user.username);
      const twin = seen.get(name);
      if (byId !== null && normalizeUsername(byId.username) !== name) {
        conflicts.push(`Django user ${user.id} "${user.username}": id ${user.id} is "${byId.username}" in the target store`);
      } else if (byName !== null && byName.id !== user.id) {
        lookAlikes ||= byName.username !== user.username;
        conflicts.push(`Django user ${user.id} "${user.username}": that username has id ${byName.id} in the target store${sameAs(byName.username, user.username)}`);
      } else if (twin !== undefined) {
        lookAlikes = true;
        conflicts.push(`Django user ${user.id} "${user.username}": the same username as Django user ${twin} once normalised to NFKC ("${name}")`);
      }
      if (twin === undefined) seen.set(name, user.id);
    }
    if (page.length < PAGE) break;
  }
  if (conflicts.length > 0) throw new ImportConflictError(conflicts, lookAlikes);

  for (let offset = 0; ; offset += PAGE) {
    const page = await source.listUsers({ limit: PAGE, offset });
    for (const user of page) {
      // tokenVersion is simplejwt's revoke claim (md5 of the hash): tokens Django issued with CHECK_REVOKE_TOKEN
      // keep validating until the password changes.
      const result = await importNormalized(target, user);
      summary.users.read++;
      if (result === 'imported') {
        summary.users.imported++;
        const name = normalizeUsername(user.username);
        if (name !== user.username) progress(`user ${user.id} "${user.username}" imported as "${name}" (its NFKC form, as Django stores usernames)`);
      } else if (result === 'exists') summary.users.existing++;
      else {
        // Only possible when another writer changed the target since the check above.
        summary.users.conflicts++;
        progress(`user ${user.id} "${user.username}" not imported: that id or username now belongs to another user in the target store`);
      }
    }
    if (page.length > 0) progress(`users: ${summary.users.read}/${totalUsers}`);
    if (page.length < PAGE) break;
  }

  const before = await target.countTokens();
  const totalTokens = (await source.countTokens()).outstanding;
  let after: string | null = null;
  for (;;) {
    const page = await source.listDjangoTokens({ afterRowId: after, limit: PAGE });
    for (const row of page) {
      summary.tokens.read++;
      // An expired token can never be used again: nothing to carry over (flushexpiredtokens would delete it).
      if (row.expiresAt.getTime() <= now.getTime()) {
        summary.tokens.expiredSkipped++;
        continue;
      }
      const token = {
        jti: row.jti,
        userId: row.userId,
        // Django does not record the type; sliding tokens are rare and behave the same in the blacklist.
        tokenType: 'refresh' as const,
        familyId: null,
        createdAt: row.createdAt ?? row.expiresAt,
        expiresAt: row.expiresAt,
      };
      if (row.blacklistedAt !== null) await target.blacklist(token);
      else await target.recordOutstanding(token);
    }
    if (page.length > 0) progress(`tokens: ${summary.tokens.read}/${totalTokens}`);
    if (page.length < PAGE) break;
    after = page[page.length - 1]?.rowId ?? after;
  }
  const end = await target.countTokens();
  summary.tokens.newOutstanding = end.outstanding - before.outstanding;
  summary.tokens.newlyBlacklisted = end.blacklisted - before.blacklisted;
  return summary;
}

/** `, "x" once normalised to NFKC` when the existing name differs from the submitted one (a look-alike). */
function sameAs(existing: string, submitted: string): string {
  return existing === submitted ? '' : ` (as "${existing}": the same once normalised to NFKC)`;
}

/**
 * `importUser` with the username in NFKC form. A user imported before usernames were normalised, under its non-NFKC
 * name, is the same user (`exists`), not a conflict.
 */
async function importNormalized(target: UserImportStore & Pick<Store, 'findUser'>, user: UserRecord): Promise<ImportUserResult> {
  const name = normalizeUsername(user.username);
  const result = await target.importUser({ ...user, username: name });
  if (result !== 'conflict' || name === user.username) return result;
  const byId = await target.findUser('id', user.id);
  return byId !== null && byId.username === user.username ? 'exists' : result;
}

/** The summary as printed on stdout. */
export function formatImportSummary(s: ImportSummary): string {
  const u = s.users;
  const t = s.tokens;
  return (
    `Users: ${plural(u.imported, 'imported', 'imported')} of ${u.read} (${u.existing} already there, ${plural(u.conflicts, 'conflict')}).\n` +
    `Tokens: ${t.read} read, ${t.expiredSkipped} expired skipped; ${plural(t.newOutstanding, 'new outstanding token')}, ` +
    `${t.newlyBlacklisted} newly blacklisted.\n`
  );
}

/** `restjwt importdjango --from DJANGO_DATABASE_URL`: users and tokens from a Django project into restjwt's store. */
export function importDjangoCommand(): Command {
  return new Command('importdjango')
    .description("copy a Django project's users (with their password hashes) and tokens into restjwt's store; safe to run again")
    .addOption(
      new Option('--from <url>', `the Django database: ${DJANGO_URL_EXAMPLES} (the django+ prefix is optional here)`).makeOptionMandatory(),
    )
    .addOption(databaseOption())
    .addHelpText(
      'after',
      '\nUsers keep their ids (tokens name users by id), so import into a store whose users come from Django only.\n' +
        'Existing users are never changed; running the command again changes nothing. Progress goes to stderr, the\n' +
        'summary to stdout. Example:\n' +
        '  restjwt importdjango --from postgres://app@db.internal/app --database sqlite:./restjwt.sqlite3\n',
    )
    .action(async (options: ImportDjangoOptions) => {
      try {
        parseDjangoUrl(options.from, { prefixOptional: true });
      } catch (error) {
        throw new CliError((error as Error).message);
      }
      if (isDjangoUrl(options.database)) {
        throw new CliError('--database must be restjwt\'s own store (e.g. sqlite:./restjwt.sqlite3), not a django+ database: importdjango copies from Django into it.');
      }
      let source: DjangoStore;
      try {
        source = await openDjangoStore({ database: options.from });
      } catch (error) {
        throw new CliError(`Cannot read the Django database given with --from: ${(error as Error).message}`, { cause: error });
      }
      try {
        const summary = await withStore(options.database, async (target) => {
          if (!canImportUsers(target)) {
            throw new CliError(
              `The store at --database cannot take users with their Django ids. Import into SQLite (sqlite:./restjwt.sqlite3) ` +
                'or another store that supports importing users.',
            );
          }
          try {
            return await importFromDjango(source, target, (line) => process.stderr.write(`${line}\n`));
          } catch (error) {
            if (error instanceof ImportConflictError) throw new CliError(error.message, { cause: error });
            throw error;
          }
        });
        process.stdout.write(formatImportSummary(summary));
      } finally {
        await source.close();
      }
    });
}
