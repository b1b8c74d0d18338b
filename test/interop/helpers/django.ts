/**
 * The real djangorestframework-simplejwt peer for interop tests: the Django project in `../django_peer/`, run with
 * Debian's python3 packages (`/usr/bin/python3`, not a pyenv python on PATH) under gunicorn on a free loopback port.
 *
 * `startDjango` migrates the database, creates the users asked for, starts gunicorn and waits until it answers;
 * `stop` ends it. Tests call `djangoSkipReason()` first and skip with its message when the packages are missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from '../../helpers/free-port.js';

export const PYTHON = '/usr/bin/python3';
export const PEER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'django_peer');
/** The packages the peer needs, as Debian names them (what `.ci/run` installs). */
export const DEBIAN_PACKAGES =
  'python3-django python3-djangorestframework python3-djangorestframework-simplejwt python3-jwt gunicorn python3-argon2 python3-bcrypt python3-psycopg2';

/** The key both servers sign and verify HS256 tokens with. Long enough for restjwt's key-strength check. */
export const SHARED_KEY = 'interop-shared-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz';

const cache = new Map<string, string | null>();

/** Null when `/usr/bin/python3` can import `modules`, else the reason to print when skipping. */
export function pythonSkipReason(modules: readonly string[]): string | null {
  const key = modules.join(',');
  if (cache.has(key)) return cache.get(key) ?? null;
  const r = spawnSync(PYTHON, ['-c', modules.map((m) => `import ${m}`).join('; ')], { encoding: 'utf8', env: pythonEnv({}) });
  const reason =
    r.error !== undefined
      ? `${PYTHON} cannot be run (${r.error.message})`
      : r.status !== 0
        ? `${PYTHON} cannot import ${modules.join(', ')}: ${(r.stderr.trim().split('\n').pop() ?? '').trim()}`
        : null;
  const message = reason === null ? null : `${reason}. Install the Django peer: apt-get install -y ${DEBIAN_PACKAGES}`;
  cache.set(key, message);
  return message;
}

/** Null when the Django peer can run (Django, DRF, simplejwt, gunicorn importable), else why not. */
export function djangoSkipReason(): string | null {
  return pythonSkipReason(['django', 'rest_framework', 'rest_framework_simplejwt', 'gunicorn']);
}

/** The PostgreSQL server the store tests use (trust auth on loopback). */
export const PG_ADMIN_URL = process.env.RESTJWT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Null when PostgreSQL answers at {@link PG_ADMIN_URL} (and psycopg2 is there for Django), else why not. */
export async function postgresSkipReason(): Promise<string | null> {
  const py = pythonSkipReason(['psycopg2']);
  if (py !== null) return py;
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return `PostgreSQL is unreachable at ${PG_ADMIN_URL.replace(/:[^:@/]*@/, '@')} (${(error as Error).message}); start it to run the PostgreSQL interop tests`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** A scratch PostgreSQL database of our own for one test run; `drop` removes it (and only it). */
export async function createScratchPgDatabase(prefix: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`.toLowerCase();
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad scratch database name ${name}`);
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** The environment for the peer's python processes: Debian's packages only, no bytecode files in the repository. */
function pythonEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', DJANGO_SETTINGS_MODULE: 'peer.settings', ...extra };
  // A pyenv or virtualenv on the caller's side must not leak into Debian's interpreter.
  for (const name of ['PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', 'PYENV_VERSION']) delete env[name];
  return env;
}

export interface SeedUser {
  username: string;
  password: string;
  email?: string;
  is_active?: boolean;
  is_staff?: boolean;
  /** The Django hasher for this user's password (default: the peer's preferred one). */
  hasher?: 'pbkdf2_sha256' | 'argon2' | 'bcrypt_sha256';
}

export interface SeededUser {
  username: string;
  id: number;
  /** The hash Django stored. */
  password: string;
}

export interface PeerConfig {
  /** `sqlite:////abs/path.sqlite3` or `postgres://…/name` as Django's settings read it. */
  databaseUrl: string;
  signingKey?: string;
  /** Default pbkdf2_sha256; `argon2` or `bcrypt_sha256` for the hash of new passwords. */
  passwordHasher?: 'pbkdf2_sha256' | 'argon2' | 'bcrypt_sha256';
  /** ROTATE_REFRESH_TOKENS and BLACKLIST_AFTER_ROTATION. Default true. */
  rotate?: boolean;
}

function peerEnv(config: PeerConfig): Record<string, string> {
  return {
    PEER_DATABASE_URL: config.databaseUrl,
    PEER_SIGNING_KEY: config.signingKey ?? SHARED_KEY,
    PEER_PASSWORD_HASHER: config.passwordHasher ?? 'pbkdf2_sha256',
    PEER_ROTATE: config.rotate === false ? '0' : '1',
  };
}

/** Runs `manage.py ARGS` for the peer (stdin optional); resolves to stdout, rejects with stderr on failure. */
export function manage(config: PeerConfig, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, ['manage.py', ...args], { cwd: PEER_DIR, env: pythonEnv(peerEnv(config)), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`manage.py ${args.join(' ')} exited with ${String(code)}:\n${err.slice(-4000)}`));
    });
    child.stdin.end(input ?? '');
  });
}

/** Migrates the peer's database (creating the SQLite file when needed). */
export async function migrateDjango(config: PeerConfig): Promise<void> {
  await manage(config, ['migrate', '--noinput']);
}

/** Creates users through Django's `create_user`; returns their ids and stored hashes, in order. */
export async function seedDjangoUsers(config: PeerConfig, users: readonly SeedUser[]): Promise<SeededUser[]> {
  if (users.length === 0) return [];
  return JSON.parse(await manage(config, ['peer_seed'], JSON.stringify(users))) as SeededUser[];
}

/** What the Django ORM reads from the shared tables. */
export interface DjangoDump {
  users: { id: number; username: string; password: string; is_active: boolean; is_staff: boolean; last_login: string | null; date_joined: string }[];
  tokens: { jti: string; user_id: number | null; token: string; created_at: string | null; expires_at: string; blacklisted_at: string | null }[];
}

export async function dumpDjango(config: PeerConfig): Promise<DjangoDump> {
  return JSON.parse(await manage(config, ['peer_dump'])) as DjangoDump;
}


export interface DjangoPeer {
  url: string;
  config: PeerConfig;
  stop(): Promise<void>;
}

/**
 * Starts gunicorn (2 sync workers) for the peer on a free loopback port and waits until it answers HTTP.
 * The database must be migrated first ({@link migrateDjango}).
 */
export async function startDjango(config: PeerConfig): Promise<DjangoPeer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = spawn(
      PYTHON,
      ['-m', 'gunicorn', '--bind', `127.0.0.1:${port}`, '--workers', '2', '--timeout', '60', '--log-level', 'warning', 'peer.wsgi:application'],
      { cwd: PEER_DIR, env: pythonEnv(peerEnv(config)), stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-8000)));
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitUntilAnswering(url, child, () => stderr);
      return { url, config, stop: () => stopProcess(child) };
    } catch (error) {
      lastError = error;
      await stopProcess(child);
    }
  }
  throw lastError;
}

async function waitUntilAnswering(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`gunicorn exited (${child.exitCode ?? child.signalCode}) before answering:\n${stderr()}`);
    }
    try {
      const res = await fetch(`${url}/api/protected/`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 401) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`gunicorn did not answer on ${url} within 30 s:\n${stderr()}`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}
