/**
 * `restjwt importdjango --from DJANGO_URL --database URL` against a real Django database (migrated and filled by
 * Django and simplejwt 5.2.2): users keep their ids, hashes, flags and dates; unexpired outstanding and blacklisted
 * tokens come along; a second run changes nothing; a later run picks up new blacklistings.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkUsernames, formatUsernameReport } from '../../packages/restjwt/src/cli/commands/checkusernames.js';
import { importDjangoCommand } from '../../packages/restjwt/src/cli/commands/importdjango.js';
import { CliError } from '../../packages/restjwt/src/cli/errors.js';
import { openDjangoStore } from 'restjwt/stores/django';
import { openSqliteStore } from '@restjwt/sqlite';
import { PASSWORD, startApp } from '../helpers/server.js';
import { claimsOf, client, jti, type Client } from './helpers/client.js';
import {
  djangoSkipReason,
  dumpDjango,
  manage,
  migrateDjango,
  pythonSkipReason,
  seedDjangoUsers,
  SHARED_KEY,
  startDjango,
  type DjangoPeer,
  type PeerConfig,
} from './helpers/django.js';

const skip = djangoSkipReason() ?? pythonSkipReason(['bcrypt']);
if (skip !== null) console.warn(`[interop] skipping the importdjango tests: ${skip}`);

/** Runs the command in-process (the same code as the CLI binary) and captures its output. */
async function importdjango(args: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    await importDjangoCommand().exitOverride().parseAsync(args, { from: 'user' });
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr };
}

/** Every row of restjwt's tables, for "nothing changed" checks. */
function tableDump(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    return JSON.stringify(
      ['restjwt_user', 'restjwt_outstanding_token', 'restjwt_blacklisted_token'].map((t) => db.prepare(`SELECT * FROM ${t} ORDER BY id`).all()),
    );
  } finally {
    db.close();
  }
}

describe.skipIf(skip !== null)(`restjwt importdjango${skip === null ? '' : ` (skipped: ${skip})`}`, () => {
  let dir: string;
  let config: PeerConfig;
  let peer: DjangoPeer | undefined;
  let django: Client;
  let from: string;
  let target: string;
  const tokens: Record<string, { access: string; refresh: string }> = {};
  let expiredJti: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'restjwt-interop-import-'));
    const djangoFile = join(dir, 'django.sqlite3');
    config = { databaseUrl: `sqlite:///${djangoFile}` };
    from = `sqlite:${djangoFile}`; // the django+ prefix is optional for --from
    target = join(dir, 'restjwt.sqlite3');
    await migrateDjango(config);
    await seedDjangoUsers(config, [
      { username: 'alice', password: PASSWORD, email: 'alice@example.com' },
      { username: 'carol', password: PASSWORD, is_active: false, is_staff: true },
      { username: 'ghost', password: PASSWORD },
      { username: 'bob', password: PASSWORD, hasher: 'bcrypt_sha256' },
    ]);
    // A deleted user leaves a gap: ids must be kept, not renumbered.
    await manage(config, ['shell', '-c', "from django.contrib.auth.models import User; User.objects.filter(username='ghost').delete()"]);
    peer = await startDjango(config);
    django = client(peer.url);
    tokens.alice = await django.login('alice', PASSWORD);
    tokens.bob = await django.login('bob', PASSWORD);
    tokens.logout = await django.login('alice', PASSWORD);
    expect((await django.post('/api/token/blacklist/', { refresh: tokens.logout.refresh })).status).toBe(200);
    // An expired row, as a long-running deployment has many of.
    const store = await openDjangoStore(`django+${from}`);
    expiredJti = jti();
    const old = new Date(Date.now() - 3 * 86_400_000);
    await store.recordOutstanding({ jti: expiredJti, userId: '1', tokenType: 'refresh', familyId: null, createdAt: old, expiresAt: new Date(old.getTime() + 86_400_000) });
    await store.close();
  }, 60_000);

  afterAll(async () => {
    await peer?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies users with their ids, hashes, flags and dates, and the unexpired tokens; progress on stderr', async () => {
    const { stdout, stderr } = await importdjango(['--from', from, '--database', `sqlite:${target}`]);
    expect(stdout).toBe(
      'Users: 3 imported of 3 (0 already there, 0 conflicts).\n' +
        'Tokens: 4 read, 1 expired skipped; 3 new outstanding tokens, 1 newly blacklisted.\n',
    );
    expect(stderr).toMatch(/^users: 3\/3\ntokens: 4\/4\n$/);

    const dump = await dumpDjango(config);
    const store = await openSqliteStore({ filename: target });
    try {
      const imported = await store.listUsers();
      expect(imported.map((u) => [u.id, u.username])).toEqual([
        ['1', 'alice'],
        ['2', 'carol'],
        ['4', 'bob'],
      ]);
      for (const u of dump.users) {
        const mine = imported.find((i) => i.username === u.username)!;
        expect(mine).toMatchObject({ id: String(u.id), passwordHash: u.password, isActive: u.is_active, isStaff: u.is_staff, lastLogin: null });
        expect(mine.dateJoined.getTime()).toBe(Math.floor(Date.parse(u.date_joined)));
      }
      expect(await store.countTokens()).toEqual({ outstanding: 3, blacklisted: 1 });
      expect(await store.isBlacklisted(claimsOf(tokens.logout!.refresh).jti as string)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('after the import, Django users and Django tokens work against restjwt on its own store', async () => {
    const store = await openSqliteStore({ filename: target });
    const app = await startApp({ signingKey: SHARED_KEY, messageVersion: '5.2' }, { store });
    try {
      const r = client(app.url);
      // bob (id 4, after the gap) is still bob: his Django access token names him by id.
      expect((await r.get('/api/protected/', { authorization: `Bearer ${tokens.bob!.access}` })).status).toBe(200);
      expect((await r.get('/api/me/', { authorization: `Bearer ${tokens.bob!.access}` })).json).toMatchObject({ id: '4', username: 'bob' });
      expect((await r.post('/api/token/refresh/', { refresh: tokens.alice!.refresh })).status).toBe(200);
      expect((await r.post('/api/token/refresh/', { refresh: tokens.logout!.refresh })).json).toEqual({
        detail: 'Token is blacklisted',
        code: 'token_not_valid',
      });
      // Django hashes (pbkdf2_sha256, bcrypt_sha256) log in; the inactive user does not.
      expect((await r.post('/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(200);
      expect((await r.post('/api/token/', { username: 'bob', password: PASSWORD })).status).toBe(200);
      expect((await r.post('/api/token/', { username: 'carol', password: PASSWORD })).status).toBe(401);
    } finally {
      await app.close();
    }
  });

  it('is idempotent: a second run changes nothing', async () => {
    const before = tableDump(target);
    const { stdout } = await importdjango(['--from', `django+${from}`, '--database', `sqlite:${target}`]);
    expect(stdout).toBe(
      'Users: 0 imported of 3 (3 already there, 0 conflicts).\n' +
        'Tokens: 4 read, 1 expired skipped; 0 new outstanding tokens, 0 newly blacklisted.\n',
    );
    expect(tableDump(target)).toBe(before);
  });

  it('a later run carries over tokens blacklisted in Django since', async () => {
    const pair = await django.login('bob', PASSWORD);
    await importdjango(['--from', from, '--database', `sqlite:${target}`]);
    expect((await django.post('/api/token/blacklist/', { refresh: pair.refresh })).status).toBe(200);
    const { stdout } = await importdjango(['--from', from, '--database', `sqlite:${target}`]);
    expect(stdout).toContain('0 new outstanding tokens, 1 newly blacklisted.');
    const store = await openSqliteStore({ filename: target });
    try {
      expect(await store.isBlacklisted(claimsOf(pair.refresh).jti as string)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('imports nothing when a target user has a Django id or username: tokens would name the wrong person', async () => {
    const other = join(dir, 'other.sqlite3');
    const store = await openSqliteStore({ filename: other });
    await store.createUser({ username: 'zed', passwordHash: 'x' }); // takes id 1, alice's id in Django
    await store.close();
    const before = tableDump(other);
    await expect(importdjango(['--from', from, '--database', `sqlite:${other}`])).rejects.toThrow(
      /Nothing was imported: 1 Django user clash[\s\S]*Django user 1 "alice": id 1 is "zed"/,
    );
    expect(tableDump(other)).toBe(before);
  });

  it('refuses a bad --from, and a django+ --database', async () => {
    await expect(importdjango(['--from', 'mysql://x@y/z', '--database', `sqlite:${target}`])).rejects.toThrow(/Unsupported Django database URL/);
    await expect(importdjango(['--from', from, '--database', `django+${from}`])).rejects.toBeInstanceOf(CliError);
    await expect(importdjango(['--from', `sqlite:${join(dir, 'missing.sqlite3')}`, '--database', `sqlite:${target}`])).rejects.toThrow(
      /Cannot read the Django database/,
    );
  });
});

describe.skipIf(skip !== null)(`restjwt importdjango: look-alike usernames (NFKC)${skip === null ? '' : ` (skipped: ${skip})`}`, () => {
  let dir: string;
  let djangoFile: string;
  let from: string;

  /** Rows written by SQL into Django's auth_user, below Django's own normalisation, with alice's password hash. */
  function insertDjangoUsers(usernames: readonly string[]): void {
    const db = new Database(djangoFile);
    try {
      const insert = db.prepare(
        `INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
         SELECT password, NULL, 0, ?, '', '', '', 0, 1, date_joined FROM auth_user WHERE username = 'alice'`,
      );
      for (const u of usernames) insert.run(u);
    } finally {
      db.close();
    }
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'restjwt-interop-lookalike-'));
    djangoFile = join(dir, 'django.sqlite3');
    const config = { databaseUrl: `sqlite:///${djangoFile}` };
    from = `sqlite:${djangoFile}`;
    await migrateDjango(config);
    await seedDjangoUsers(config, [{ username: 'alice', password: PASSWORD }, { username: 'erin', password: PASSWORD }]);
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('two Django users whose usernames are one NFKC name import nothing, naming both and what to do', async () => {
    insertDjangoUsers(['ａｌｉｃｅ']); // id 3, a look-alike of alice (id 1)
    const target = join(dir, 'refused.sqlite3');
    await expect(importdjango(['--from', from, '--database', `sqlite:${target}`])).rejects.toThrow(
      /Nothing was imported: 1 Django user clash[\s\S]*Django user 3 "ａｌｉｃｅ": the same username as Django user 1 once normalised to NFKC \("alice"\)[\s\S]*rename or remove one user of each look-alike pair[\s\S]*restjwt checkusernames/,
    );
    const store = await openSqliteStore({ filename: target });
    try {
      expect(await store.listUsers()).toEqual([]);
    } finally {
      await store.close();
    }
    // checkusernames on the Django database lists them, as the message says.
    const django = await openDjangoStore(`django+${from}`);
    try {
      const report = await checkUsernames(django);
      expect(report.lookAlikes).toEqual([{ normalized: 'alice', users: [{ id: '1', username: 'alice' }, { id: '3', username: 'ａｌｉｃｅ' }] }]);
      expect(formatUsernameReport(report)).toContain('id 3 "ａｌｉｃｅ" (NFKC form: "alice")');
    } finally {
      await django.close();
    }
  });

  it('a lone non-NFKC Django username is imported in NFKC form (said on stderr) and logs in by either spelling', async () => {
    // The operator resolved the pair: the look-alike is renamed in Django.
    const db = new Database(djangoFile);
    db.prepare("UPDATE auth_user SET username = 'alice2' WHERE username = 'ａｌｉｃｅ'").run();
    db.close();
    insertDjangoUsers(['ｆｒａｎｋ']); // id 4
    const target = join(dir, 'imported.sqlite3');
    const { stdout, stderr } = await importdjango(['--from', from, '--database', `sqlite:${target}`]);
    expect(stdout).toMatch(/^Users: 4 imported of 4 \(0 already there, 0 conflicts\)\./);
    expect(stderr).toContain('user 4 "ｆｒａｎｋ" imported as "frank" (its NFKC form, as Django stores usernames)\n');
    const store = await openSqliteStore({ filename: target });
    const app = await startApp({ signingKey: SHARED_KEY }, { store });
    try {
      expect((await store.listUsers()).map((u) => [u.id, u.username])).toEqual([
        ['1', 'alice'],
        ['2', 'erin'],
        ['3', 'alice2'],
        ['4', 'frank'],
      ]);
      const r = client(app.url);
      for (const username of ['frank', 'ｆｒａｎｋ']) {
        const login = await r.post('/api/token/', { username, password: PASSWORD });
        expect(login.status, username).toBe(200);
        expect(claimsOf(login.json.access as string).user_id).toBe('4');
      }
    } finally {
      await app.close();
    }
    // A second run knows frank under his NFKC name: nothing changes.
    const again = await importdjango(['--from', from, '--database', `sqlite:${target}`]);
    expect(again.stdout).toMatch(/^Users: 0 imported of 4 \(4 already there, 0 conflicts\)\./);
  });

  it('a Django username whose NFKC form belongs to another target user is refused as a look-alike', async () => {
    const target = join(dir, 'taken.sqlite3');
    const store = await openSqliteStore({ filename: target });
    const frank = { id: '99', username: 'frank', email: '', passwordHash: '', isActive: true, isStaff: false, lastLogin: null, dateJoined: new Date(), tokenVersion: 'v' };
    expect(await store.importUser(frank)).toBe('imported');
    await store.close();
    // Django's user 4 is "ｆｒａｎｋ": its NFKC form is the target's user 99.
    await expect(importdjango(['--from', from, '--database', `sqlite:${target}`])).rejects.toThrow(
      /Django user 4 "ｆｒａｎｋ": that username has id 99 in the target store \(as "frank": the same once normalised to NFKC\)[\s\S]*look-alike pair/,
    );
  });
});
