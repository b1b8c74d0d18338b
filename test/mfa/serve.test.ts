/**
 * `restjwt serve` with the config's `mfa` key, as an operator runs it (the built CLI in a fresh directory): second
 * factors on, their encryption key generated beside the signing key at the first start and reused at the next (an
 * authenticator app enrolled before a restart still works after it), and a Django database refused with its reason.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterAll, describe, expect, it } from 'vitest';
import { builtCli } from '../helpers/built-cli.js';
import { waitForListening } from '../helpers/serve-process.js';
import { ORIGIN, RP_ID } from './app.js';

const CLI = builtCli();
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('RESTJWT_')) env[k] = v;
  return { ...env, ...extra };
}

async function serve(cwd: string, args: string[] = []) {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--config', 'config.json', ...args], { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  child.stdout?.resume();
  const exit = new Promise<{ code: number | null }>((res) => child.once('exit', (code) => res({ code })));
  const started = waitForListening(child, exit, 20_000);
  return { url: await started.url, stderr: started.stderr, stop: async () => (child.kill('SIGTERM'), exit) };
}

async function post(url: string, body: unknown, access?: string): Promise<{ status: number; json: any }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(access === undefined ? {} : { authorization: `Bearer ${access}` }) },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

const code = (secret: string, shift = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + shift });

describe('restjwt serve with "mfa" in the config', () => {
  it('turns second factors on, creates their key once (0600) and keeps using it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'restjwt-mfa-serve-'));
    dirs.push(cwd);
    writeFileSync(join(cwd, 'config.json'), JSON.stringify({ mfa: { rpId: RP_ID, rpName: 'restjwt', origins: [ORIGIN] } }));
    expect(spawnSync(process.execPath, [CLI, 'createuser', 'alice', '--password-stdin'], { cwd, env: cleanEnv(), input: 'pw\n' }).status).toBe(0);

    const first = await serve(cwd);
    expect(first.stderr()).toMatch(/created a new MFA encryption key in .*mfa-key \(mode 0600\)/);
    expect(statSync(join(cwd, 'mfa-key')).mode & 0o777).toBe(0o600);
    const pwd = await post(`${first.url}/api/token/`, { username: 'alice', password: 'pw' });
    expect(pwd.status).toBe(200);
    const started = await post(`${first.url}/api/mfa/totp/`, {}, pwd.json.access);
    expect(started.status).toBe(201);
    const secret = started.json.secret as string;
    const confirmed = await post(`${first.url}/api/mfa/totp/${started.json.id}/confirm/`, { code: await code(secret) }, pwd.json.access);
    expect(confirmed.status).toBe(200);
    await first.stop();

    const second = await serve(cwd);
    expect(second.stderr()).toMatch(/using the MFA encryption key in .*mfa-key/);
    const step = await post(`${second.url}/api/token/`, { username: 'alice', password: 'pw' });
    expect(step.json).toMatchObject({ mfa_required: true, methods: ['totp'] });
    // A later step than the confirmation's: each step is accepted once.
    const done = await post(`${second.url}/api/token/mfa/`, { mfa_token: step.json.mfa_token, code: await code(secret, 30) });
    expect(done.status).toBe(200);
    const schema = await fetch(`${second.url}/api/schema/`).then((r) => r.json() as Promise<{ paths: Record<string, unknown>; tags: { name: string }[] }>);
    expect(Object.keys(schema.paths)).toEqual(expect.arrayContaining(['/api/mfa/', '/api/mfa/totp/{id}/confirm/', '/api/token/passkey/', '/api/protected/mfa/']));
    expect(schema.tags.map((t) => t.name)).toContain('mfa');
    await second.stop();
  });

  it('refuses the Django shared-database store, saying why', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'restjwt-mfa-serve-'));
    dirs.push(cwd);
    writeFileSync(join(cwd, 'config.json'), JSON.stringify({ signingKey: 'x'.repeat(64), mfa: { rpId: RP_ID, rpName: 'restjwt', origins: [ORIGIN] } }));
    const r = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', '--config', 'config.json', '--database', 'django+sqlite:./db.sqlite3'], { cwd, env: cleanEnv(), encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Django shared-database store has no second factor tables/);
  });
});
