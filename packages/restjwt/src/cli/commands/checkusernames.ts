import { Command } from 'commander';
import { normalizeUsername, type UserStore } from '@restjwt/core';
import { CliError } from '../errors.js';
import { databaseOption } from '../options.js';
import { withStore } from '../store.js';

interface CheckUsernamesOptions {
  database: string;
}

/** Users read per query. */
const PAGE = 500;

/** A user as the report names one. */
export interface NamedUser {
  id: string;
  username: string;
}

/** What {@link checkUsernames} found. Nothing is ever changed. */
export interface UsernameReport {
  /** How many users were read. */
  checked: number;
  /** Users whose usernames share one NFKC form (two or more each), in the order the store lists them. */
  lookAlikes: { normalized: string; users: NamedUser[] }[];
  /** Users whose stored username is not in NFKC form, with that form. */
  notNormalized: (NamedUser & { normalized: string })[];
}

/**
 * Reads every user of `store` (in pages, calling `progress` with the count read so far after each) and reports the
 * look-alike usernames, which login and user creation treat as one name since usernames are normalised to NFKC,
 * and the usernames stored in another form (rows written before, or by SQL). Memory grows with the user count (one
 * entry per distinct NFKC name).
 */
export async function checkUsernames(store: Pick<UserStore, 'listUsers'>, progress: (checked: number) => void = () => {}): Promise<UsernameReport> {
  const report: UsernameReport = { checked: 0, lookAlikes: [], notNormalized: [] };
  const first = new Map<string, NamedUser>();
  const groups = new Map<string, NamedUser[]>();
  for (let offset = 0; ; offset += PAGE) {
    const page = await store.listUsers({ limit: PAGE, offset });
    for (const { id, username } of page) {
      const normalized = normalizeUsername(username);
      if (normalized !== username) report.notNormalized.push({ id, username, normalized });
      const earlier = first.get(normalized);
      if (earlier === undefined) first.set(normalized, { id, username });
      else {
        const group = groups.get(normalized) ?? [earlier];
        group.push({ id, username });
        groups.set(normalized, group);
      }
    }
    report.checked += page.length;
    if (page.length > 0) progress(report.checked);
    if (page.length < PAGE) break;
  }
  report.lookAlikes = [...groups].map(([normalized, users]) => ({ normalized, users }));
  return report;
}

/** A username in quotes, with invisible and control characters spelled as `\u{…}` so that look-alikes can be told apart. */
function shown(username: string): string {
  return `"${username.replace(/[\p{C}\p{Z}]/gu, (c) => (c === ' ' ? c : `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`))}"`;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** The report as printed on stdout. */
export function formatUsernameReport(r: UsernameReport): string {
  const lines: string[] = [];
  if (r.lookAlikes.length > 0) {
    lines.push('Look-alike usernames (the same once normalised to NFKC, as Django normalises usernames):');
    for (const g of r.lookAlikes) lines.push(`  ${shown(g.normalized)}: ${g.users.map((u) => `id ${u.id} ${shown(u.username)}`).join(', ')}`);
  }
  if (r.notNormalized.length > 0) {
    lines.push('Usernames not stored in NFKC form:');
    for (const u of r.notNormalized) lines.push(`  id ${u.id} ${shown(u.username)} (NFKC form: ${shown(u.normalized)})`);
  }
  const found = r.lookAlikes.length > 0 || r.notNormalized.length > 0;
  lines.push(
    `Checked ${plural(r.checked, 'user')}: ` +
      (found
        ? `${plural(r.lookAlikes.length, 'group')} of look-alike usernames, ${plural(r.notNormalized.length, 'username')} not in NFKC form.`
        : 'no look-alike usernames, every username in NFKC form.'),
  );
  return `${lines.join('\n')}\n`;
}

/** `restjwt checkusernames`: reports look-alike and non-NFKC usernames; exit status 1 when there are some. */
export function checkUsernamesCommand(): Command {
  return new Command('checkusernames')
    .description('report users whose usernames are the same once normalised to NFKC (look-alikes), and usernames not stored in NFKC form; changes nothing')
    .addOption(databaseOption())
    .addHelpText(
      'after',
      '\nUsernames are created and looked up in NFKC form, as Django does; rows stored otherwise (before that, or by SQL)\n' +
        'are listed with their ids, never merged. Exit status 0 when there are none, 1 when some were found. Progress goes\n' +
        'to stderr, the report to stdout. Example:\n' +
        '  restjwt checkusernames --database django+postgres://app@db.internal/app\n',
    )
    .action(async (options: CheckUsernamesOptions) => {
      const report = await withStore(options.database, (store) =>
        checkUsernames(store, (checked) => process.stderr.write(`checked ${plural(checked, 'user')}…\n`)),
      );
      process.stdout.write(formatUsernameReport(report));
      if (report.lookAlikes.length > 0 || report.notNormalized.length > 0) {
        throw new CliError(
          'Some usernames need attention; nothing was changed. Login looks up the NFKC form first: where a group has a user ' +
            'stored in that form, every spelling logs in to that user only. Decide which account each person keeps and rename ' +
            'or deactivate the others (accounts are never merged for you); rename each user not in NFKC form to the NFKC ' +
            'form shown, when no other user has it (in SQL or the Django admin). Then run "restjwt checkusernames" again.',
        );
      }
    });
}
