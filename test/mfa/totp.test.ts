/**
 * Authenticator apps (TOTP) and recovery codes through real HTTP against the reference server with @restjwt/mfa, on
 * every store the machine has: enrolment and its confirmation (which ends the other sessions), the login's second
 * step and each of its refusals (wrong, replayed and expired codes; a used, expired or exhausted mfa_token; the
 * mfa_token as a bearer token), recovery codes, removal of the last factor, the amr/auth_time claims and requireMfa,
 * the login throttle, and the audit rows written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasFactors } from '@restjwt/core/store-kit';
import { claimsOf, fastHasher, PASSWORD } from '../helpers/server.js';
import { auditEvents, BACKENDS, bearer, codeAt, enrolTotp, nextCode, startMfaApp, wrongCode, type MfaApp } from './app.js';

const JWT_SHAPED = /[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/;

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`TOTP and recovery codes over HTTP on ${backend.name}`, () => {
    let t: MfaApp & { drop(): Promise<void> };
    beforeAll(async () => {
      t = await startMfaApp(backend);
    });
    afterAll(async () => {
      await t?.close();
      await t?.drop();
    });

    /** A new user with a password pair and a confirmed authenticator app. */
    async function enrolled(name: string): Promise<{ userId: string; secret: string; factorId: string; pair: { access: string; refresh: string } }> {
      const user = await t.user(name);
      const first = await t.password(name);
      expect(first.status, first.text).toBe(200);
      const { secret, id, pair } = await enrolTotp(t, first.json.access as string);
      return { userId: user.id, secret, factorId: id, pair };
    }

    it('enrols an authenticator app: unconfirmed until a code confirms it, then every login asks for it', async () => {
      const alice = await t.user('alice');
      const login = await t.password('alice');
      expect(login.status).toBe(200);
      const access = login.json.access as string;
      // Before MFA the pair says how the user signed in, too.
      expect(claimsOf(access).amr).toEqual(['pwd']);

      const started = await t.post('/api/mfa/totp/', { label: 'Phone' }, bearer(access));
      expect(started.status, started.text).toBe(201);
      expect(started.headers.get('cache-control')).toBe('no-store');
      expect(Object.keys(started.json).sort()).toEqual(['id', 'otpauth_uri', 'secret']);
      expect(started.json.secret).toMatch(/^[A-Z2-7]{32}$/);
      const uri = new URL(started.json.otpauth_uri as string);
      expect(uri.protocol).toBe('otpauth:');
      expect(uri.host).toBe('totp');
      expect(decodeURIComponent(uri.pathname)).toBe('/restjwt:alice');
      expect(uri.searchParams.get('secret')).toBe(started.json.secret);
      expect(uri.searchParams.get('issuer')).toBe('restjwt');

      // Not confirmed: listed, but no login asks for it.
      let listed = await t.get('/api/mfa/', bearer(access));
      expect(listed.status).toBe(200);
      expect(listed.json).toMatchObject({ recovery_codes_left: 0, methods: [] });
      expect(listed.json.factors).toEqual([
        { id: started.json.id, kind: 'totp', label: 'Phone', confirmed: false, created_at: expect.any(String), last_used_at: null },
      ]);
      expect((await t.password('alice')).json.access).toEqual(expect.any(String));

      // Starting again replaces the unconfirmed one.
      const again = await t.post('/api/mfa/totp/', {}, bearer(access));
      expect(again.status).toBe(201);
      listed = await t.get('/api/mfa/', bearer(access));
      expect(listed.json.factors.map((f: { id: string; label: string }) => [f.id, f.label])).toEqual([[again.json.id, 'Authenticator app']]);
      // The replaced one cannot be confirmed.
      const gone = await t.post(`/api/mfa/totp/${started.json.id}/confirm/`, { code: await codeAt(t, started.json.secret) }, bearer(access));
      expect(gone.status).toBe(404);
      expect(gone.json.code).toBe('not_found');

      // A wrong code does not confirm it.
      const wrong = await t.post(`/api/mfa/totp/${again.json.id}/confirm/`, { code: '000000' }, bearer(access));
      expect(wrong.status).toBe(400);
      expect(wrong.json).toEqual({ detail: expect.stringMatching(/authenticator app/), code: 'mfa_code_rejected' });
      const missing = await t.post(`/api/mfa/totp/${again.json.id}/confirm/`, {}, bearer(access));
      expect(missing.status).toBe(400);
      expect(missing.json).toEqual({ code: ['This field is required.'] });

      const confirmed = await t.post(`/api/mfa/totp/${again.json.id}/confirm/`, { code: await nextCode(t, again.json.secret) }, bearer(access));
      expect(confirmed.status, confirmed.text).toBe(200);
      expect(confirmed.json.factor).toMatchObject({ id: again.json.id, kind: 'totp', confirmed: true });
      const claims = claimsOf(confirmed.json.access as string);
      expect(claims.amr).toEqual(['pwd', 'otp', 'mfa']);
      expect(claims.auth_time).toEqual(claims.iat);
      expect(claims.user_id).toBe(alice.id);

      listed = await t.get('/api/mfa/', bearer(confirmed.json.access as string));
      expect(listed.json.methods).toEqual(['totp']);
      const step = await t.password('alice');
      expect(step.status).toBe(200);
      expect(step.json.mfa_required).toBe(true);
    });

    it('confirming ends the other sessions: old refresh and access tokens are refused, the fresh pair works', async () => {
      await t.user('bob');
      const other = await t.password('bob');
      const current = await t.password('bob');
      const { pair } = await enrolTotp(t, current.json.access as string);
      for (const old of [other.json, current.json]) {
        const refreshed = await t.post('/api/token/refresh/', { refresh: old.refresh });
        expect(refreshed.status, refreshed.text).toBe(401);
        expect((await t.get('/api/protected/', bearer(old.access as string))).status).toBe(401);
      }
      expect((await t.get('/api/protected/', bearer(pair.access))).status).toBe(200);
      const rotated = await t.post('/api/token/refresh/', { refresh: pair.refresh });
      expect(rotated.status, rotated.text).toBe(200);
      // Rotation keeps how the user signed in.
      expect(claimsOf(rotated.json.access as string).amr).toEqual(['pwd', 'otp', 'mfa']);
    });

    it('the store holds the secret encrypted, never in clear', async () => {
      const { userId, secret } = await enrolled('carol');
      if (!hasFactors(t.store)) throw new Error('no factors');
      const [factor] = await t.store.listFactors(userId);
      expect(factor?.secret).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
      expect(JSON.stringify(await t.store.listFactors(userId))).not.toContain(secret);
      expect(JSON.stringify(await t.store.listFactors(userId)).toLowerCase()).not.toContain(secret.toLowerCase());
    });

    it('a login answers the second step without tokens; the current code finishes it with amr and auth_time', async () => {
      const { userId, secret } = await enrolled('dave');
      const first = await t.password('dave');
      expect(first.status).toBe(200);
      expect(Object.keys(first.json).sort()).toEqual(['methods', 'mfa_required', 'mfa_token']);
      expect(first.json).toMatchObject({ mfa_required: true, methods: ['totp'] });
      expect(first.json.mfa_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(first.text).not.toMatch(JWT_SHAPED);

      const done = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: await nextCode(t, secret) });
      expect(done.status, done.text).toBe(200);
      expect(Object.keys(done.json).sort()).toEqual(['access', 'refresh']);
      const claims = claimsOf(done.json.access as string);
      expect(claims).toMatchObject({ user_id: userId, amr: ['pwd', 'otp', 'mfa'] });
      expect(claims.auth_time).toBe(claimsOf(done.json.refresh as string).iat);
      expect((await t.get('/api/protected/mfa/', bearer(done.json.access as string))).status).toBe(200);

      // The code's factor says it was used.
      const listed = await t.get('/api/mfa/', bearer(done.json.access as string));
      expect(listed.json.factors[0].last_used_at).toEqual(expect.any(String));
    });

    it('requireMfa refuses a token from a password-only sign-in with 403 mfa_required', async () => {
      await t.user('erin');
      const pwdOnly = await t.password('erin');
      const refused = await t.get('/api/protected/mfa/', bearer(pwdOnly.json.access as string));
      expect(refused.status).toBe(403);
      expect(refused.json).toEqual({ detail: expect.stringMatching(/second factor/), code: 'mfa_required' });
      expect((await t.get('/api/protected/mfa/')).status).toBe(401);
      expect((await t.get('/api/protected/', bearer(pwdOnly.json.access as string))).status).toBe(200);
    });

    it('a wrong code is 401 mfa_code_invalid, audited, and leaves the step open for the right one', async () => {
      const { userId, secret } = await enrolled('frank');
      const first = await t.password('frank');
      const before = (await auditEvents(t.store)).length;
      const wrong = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: wrongCode(await codeAt(t, secret), ' ') });
      expect(wrong.status).toBe(401);
      expect(wrong.json).toEqual({ detail: 'The code is wrong, expired or already used.', code: 'mfa_code_invalid' });
      expect(wrong.text).not.toMatch(JWT_SHAPED);
      const failed = (await auditEvents(t.store)).slice(before);
      expect(failed).toEqual([expect.objectContaining({ type: 'mfa_failed', userId, username: 'frank', detail: { reason: 'code_invalid' } })]);
      const garbage = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: 'abcdef' });
      expect(garbage.status).toBe(401);
      const done = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: await nextCode(t, secret) });
      expect(done.status, done.text).toBe(200);
    });

    it('a code already used is refused (code_reused), even for a new login within its window', async () => {
      const { secret } = await enrolled('grace');
      const first = await t.password('grace');
      const code = await nextCode(t, secret);
      expect((await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code })).status).toBe(200);
      const second = await t.password('grace');
      const before = (await auditEvents(t.store)).length;
      const replayed = await t.post('/api/token/mfa/', { mfa_token: second.json.mfa_token, code });
      expect(replayed.status).toBe(401);
      expect(replayed.json.code).toBe('mfa_code_invalid');
      expect((await auditEvents(t.store)).slice(before).map((e) => e.detail)).toEqual([{ reason: 'code_reused' }]);
      // An older code than the last used one is as spent.
      const older = await codeAt(t, secret, -30);
      expect((await t.post('/api/token/mfa/', { mfa_token: second.json.mfa_token, code: older })).json.code).toBe('mfa_code_invalid');
    });

    it('a code of the next step is accepted (clock drift), one two steps away is not: an expired code is refused', async () => {
      const { secret } = await enrolled('heidi');
      t.advance(30_000);
      const first = await t.password('heidi');
      const stale = await codeAt(t, secret);
      t.advance(90_000);
      const expired = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: stale });
      expect(expired.status).toBe(401);
      expect(expired.json.code).toBe('mfa_code_invalid');
      const ahead = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: await codeAt(t, secret, 30) });
      expect(ahead.status, ahead.text).toBe(200);
    });

    it('an mfa_token is single-use: after success it is 401 mfa_token_invalid', async () => {
      const { secret } = await enrolled('ivan');
      const first = await t.password('ivan');
      expect((await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: await nextCode(t, secret) })).status).toBe(200);
      const again = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: await nextCode(t, secret) });
      expect(again.status).toBe(401);
      expect(again.json).toEqual({ detail: expect.stringMatching(/Sign in again/), code: 'mfa_token_invalid' });
    });

    it('an mfa_token expires after five minutes', async () => {
      const { secret } = await enrolled('judy');
      const first = await t.password('judy');
      t.advance(301_000);
      const late = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: await codeAt(t, secret) });
      expect(late.status).toBe(401);
      expect(late.json.code).toBe('mfa_token_invalid');
    });

    it('an mfa_token is no bearer token: 401 on a protected route and on /api/mfa/', async () => {
      await enrolled('ken');
      const first = await t.password('ken');
      const token = first.json.mfa_token as string;
      for (const path of ['/api/protected/', '/api/mfa/', '/api/me/']) {
        const r = await t.get(path, bearer(token));
        expect(r.status, path).toBe(401);
        expect(r.json.code, path).toBe('token_not_valid');
      }
      expect((await t.post('/api/mfa/totp/', {}, bearer(token))).status).toBe(401);
      expect((await t.post('/api/mfa/recovery-codes/', {}, bearer(token))).status).toBe(401);
    });

    it('five wrong codes spend the mfa_token: the right code afterwards is 401 mfa_token_invalid', async () => {
      const { secret } = await enrolled('leo');
      const first = await t.password('leo');
      const right = await nextCode(t, secret);
      for (let i = 0; i < 5; i++) {
        const r = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: wrongCode(right) });
        expect(r.status, `attempt ${i + 1}`).toBe(401);
        expect(r.json.code).toBe('mfa_code_invalid');
      }
      const late = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: right });
      expect(late.status).toBe(401);
      expect(late.json.code).toBe('mfa_token_invalid');
    });

    it('a proof of the wrong type is a field error that spends no attempt', async () => {
      const { secret } = await enrolled('lou');
      const first = await t.password('lou');
      const typed = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: 123456 });
      expect(typed.status).toBe(400);
      expect(typed.json).toEqual({ code: ['Not a valid string.'] });
      const done = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: await nextCode(t, secret) });
      expect(done.status).toBe(200);
    });

    it('recovery codes: only with a confirmed factor; ten, shown once; each signs in once; regenerating replaces them', async () => {
      await t.user('mallory');
      const pwd = await t.password('mallory');
      const none = await t.post('/api/mfa/recovery-codes/', {}, bearer(pwd.json.access as string));
      expect(none.status).toBe(400);
      expect(none.json).toEqual({ detail: expect.stringMatching(/confirmed second factor/), code: 'mfa_no_factor' });

      const { pair } = await enrolTotp(t, pwd.json.access as string);
      const generated = await t.post('/api/mfa/recovery-codes/', {}, bearer(pair.access));
      expect(generated.status, generated.text).toBe(200);
      expect(generated.headers.get('cache-control')).toBe('no-store');
      const codes = generated.json.codes as string[];
      expect(codes).toHaveLength(10);
      expect(new Set(codes).size).toBe(10);
      for (const code of codes) expect(code).toMatch(/^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/);
      const listed = await t.get('/api/mfa/', bearer(pair.access));
      expect(listed.json).toMatchObject({ recovery_codes_left: 10, methods: ['totp', 'recovery'] });

      const first = await t.password('mallory');
      expect(first.json.methods).toEqual(['totp', 'recovery']);
      const before = (await auditEvents(t.store)).length;
      // Typed loosely: upper case, spaces instead of the dash.
      const loose = (codes[0] as string).toUpperCase().replace('-', ' ');
      const used = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, recovery_code: loose });
      expect(used.status, used.text).toBe(200);
      expect(claimsOf(used.json.access as string).amr).toEqual(['pwd', 'otp', 'mfa']);
      const events = (await auditEvents(t.store)).slice(before);
      expect(events.map((e) => e.type)).toEqual(['recovery_code_used', 'login']);
      expect(events[0]?.detail).toEqual({ left: 9 });
      expect((await t.get('/api/mfa/', bearer(used.json.access as string))).json.recovery_codes_left).toBe(9);

      const second = await t.password('mallory');
      const twice = await t.post('/api/token/mfa/', { mfa_token: second.json.mfa_token, recovery_code: codes[0] });
      expect(twice.status).toBe(401);
      expect(twice.json.code).toBe('mfa_code_invalid');
      expect((await auditEvents(t.store)).at(-1)).toMatchObject({ type: 'mfa_failed', detail: { reason: 'recovery_code_invalid' } });

      // New codes replace the old: an unused old one no longer works.
      const fresh = await t.post('/api/mfa/recovery-codes/', {}, bearer(used.json.access as string));
      expect((await auditEvents(t.store)).at(-1)).toMatchObject({ type: 'recovery_codes_generated', detail: { count: 10 } });
      const oldOne = await t.post('/api/token/mfa/', { mfa_token: second.json.mfa_token, recovery_code: codes[1] });
      expect(oldOne.status).toBe(401);
      const newOne = await t.post('/api/token/mfa/', { mfa_token: second.json.mfa_token, recovery_code: fresh.json.codes[0] });
      expect(newOne.status, newOne.text).toBe(200);
    });

    it('removing the last factor needs a code (a current one or a recovery code), and takes the recovery codes along', async () => {
      const { userId, secret, factorId, pair } = await enrolled('niaj');
      await t.post('/api/mfa/recovery-codes/', {}, bearer(pair.access));
      const without = await t.post(`/api/mfa/factors/${factorId}/remove/`, {}, bearer(pair.access));
      expect(without.status).toBe(400);
      expect(without.json).toEqual({ detail: expect.stringMatching(/last second factor: send "code"/), code: 'mfa_code_required' });
      const wrong = await t.post(`/api/mfa/factors/${factorId}/remove/`, { code: wrongCode(await codeAt(t, secret)) }, bearer(pair.access));
      expect(wrong.status).toBe(400);
      expect(wrong.json.code).toBe('mfa_code_rejected');
      expect((await auditEvents(t.store)).at(-1)).toMatchObject({ type: 'mfa_failed', userId, detail: { reason: 'code_invalid', method: 'remove_factor' } });
      const unknown = await t.post('/api/mfa/factors/999999/remove/', {}, bearer(pair.access));
      expect(unknown.status).toBe(404);

      const removed = await t.post(`/api/mfa/factors/${factorId}/remove/`, { code: await nextCode(t, secret) }, bearer(pair.access));
      expect(removed.status, removed.text).toBe(200);
      expect(removed.json.removed).toBe(factorId);
      expect(claimsOf(removed.json.access as string).amr).toEqual(['pwd', 'otp']);
      expect((await auditEvents(t.store)).at(-2)).toMatchObject({ type: 'factor_removed', userId, detail: { kind: 'totp' } });
      // The other sessions (the enrolment's pair) ended.
      expect((await t.post('/api/token/refresh/', { refresh: pair.refresh })).status).toBe(401);
      const listed = await t.get('/api/mfa/', bearer(removed.json.access as string));
      expect(listed.json).toEqual({ factors: [], recovery_codes_left: 0, methods: [] });
      // Back to password only.
      const login = await t.password('niaj');
      expect(Object.keys(login.json).sort()).toEqual(['access', 'refresh']);
    });

    it('a recovery code also confirms removing the last factor; a factor that is not the last needs no code', async () => {
      const { secret, factorId, pair } = await enrolled('olivia');
      const second = await t.post('/api/mfa/totp/', { label: 'Tablet' }, bearer(pair.access));
      const confirmed = await t.post(`/api/mfa/totp/${second.json.id}/confirm/`, { code: await codeAt(t, second.json.secret) }, bearer(pair.access));
      expect(confirmed.status, confirmed.text).toBe(200);
      // Two apps: the login accepts a code of either.
      const first = await t.password('olivia');
      expect((await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: await nextCode(t, secret) })).status).toBe(200);
      const access = confirmed.json.access as string;
      const notLast = await t.post(`/api/mfa/factors/${factorId}/remove/`, {}, bearer(access));
      expect(notLast.status, notLast.text).toBe(200);
      const now = notLast.json.access as string;
      const codes = (await t.post('/api/mfa/recovery-codes/', {}, bearer(now))).json.codes as string[];
      const last = await t.post(`/api/mfa/factors/${second.json.id}/remove/`, { code: codes[3] }, bearer(now));
      expect(last.status, last.text).toBe(200);
      expect((await t.get('/api/mfa/', bearer(last.json.access as string))).json).toEqual({ factors: [], recovery_codes_left: 0, methods: [] });
    });

    it('the admin lists a user\'s factors (no secret) and resets them: factors and codes gone, sessions ended, audited', async () => {
      const { userId, secret, pair } = await enrolled('walter');
      await t.post('/api/mfa/recovery-codes/', {}, bearer(pair.access));
      await t.store.createUser({ username: 'boss', email: 'boss@example.com', passwordHash: await fastHasher.hash(PASSWORD), isStaff: true });
      const bossStep = await t.password('boss');
      const staff = bearer(bossStep.json.access as string);
      const listed = await t.get(`/api/admin/users/${userId}/factors/`, staff);
      expect(listed.status, listed.text).toBe(200);
      expect(listed.json).toEqual({
        results: [{ id: expect.any(String), kind: 'totp', label: expect.any(String), confirmed: true, created_at: expect.any(String), last_used_at: expect.any(String) }],
        recovery_codes_left: 10,
      });
      expect(listed.text).not.toContain(secret);
      expect((await t.get(`/api/admin/users/${userId}/factors/`, bearer(pair.access))).status).toBe(403);
      const reset = await t.post(`/api/admin/users/${userId}/factors/reset/`, {}, staff);
      expect(reset.status, reset.text).toBe(200);
      expect(reset.json).toEqual({ removed: 1, revoked: expect.any(Number) });
      expect(reset.json.revoked).toBeGreaterThan(0);
      expect((await t.post('/api/token/refresh/', { refresh: pair.refresh })).status).toBe(401);
      // The password alone signs in again.
      expect(Object.keys((await t.password('walter')).json).sort()).toEqual(['access', 'refresh']);
      expect((await t.get(`/api/admin/users/${userId}/factors/`, staff)).json).toEqual({ results: [], recovery_codes_left: 0 });
      const boss = await t.store.findUser('username', 'boss');
      expect((await auditEvents(t.store)).filter((e) => e.type === 'factors_reset')).toMatchObject([{ userId, actorId: boss?.id }]);
    });

    it('writes the audit rows: factor_added, mfa_failed, login with the amr; never a secret or a code', async () => {
      const before = (await auditEvents(t.store)).length;
      const { userId, secret } = await enrolled('peggy');
      const first = await t.password('peggy');
      await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: wrongCode(await codeAt(t, secret)) });
      const ok = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: await nextCode(t, secret) });
      expect(ok.status).toBe(200);
      const events = (await auditEvents(t.store)).slice(before);
      expect(events.map((e) => e.type)).toEqual(['login', 'factor_added', 'login', 'mfa_failed', 'login']);
      expect(events[0]?.detail).toEqual({ method: 'password', token: 'refresh', amr: 'pwd' });
      expect(events[1]).toMatchObject({ userId, username: 'peggy', detail: { kind: 'totp' }, clientAddress: '127.0.0.1' });
      expect(events[2]?.detail).toEqual({ method: 'mfa_enrolment', token: 'refresh', amr: 'pwd otp mfa' });
      expect(events[3]?.detail).toEqual({ reason: 'code_invalid' });
      expect(events[4]).toMatchObject({ userId, familyId: claimsOf(ok.json.refresh as string).jti, detail: { method: 'password', token: 'refresh', amr: 'pwd otp mfa' } });
      expect(JSON.stringify(events)).not.toContain(secret);
    });
  });

  describe.skipIf(!backend.available)(`the login throttle counts wrong codes on ${backend.name}`, () => {
    let t: MfaApp & { drop(): Promise<void> };
    beforeAll(async () => {
      t = await startMfaApp(backend, { loginThrottle: { perUsernameAndAddress: { limit: 3, windowSeconds: 300 } } });
    });
    afterAll(async () => {
      await t?.close();
      await t?.drop();
    });

    it('wrong codes count as failed logins: past the limit the step and the password are 429', async () => {
      await t.user('quinn');
      const pwd = await t.password('quinn');
      const { secret } = await enrolTotp(t, pwd.json.access as string);
      const first = await t.password('quinn');
      const right = await nextCode(t, secret);
      for (let i = 0; i < 3; i++) expect((await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: wrongCode(right) })).status).toBe(401);
      const throttled = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, code: right });
      expect(throttled.status).toBe(429);
      expect(throttled.json.code).toBe('throttled');
      expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await t.password('quinn')).status).toBe(429);
      expect((await auditEvents(t.store)).at(-1)).toMatchObject({ type: 'login_failed' });
    });

    it('wrong codes spread over fresh logins keep counting: a right password clears nothing until a step is passed', async () => {
      await t.user('sybil');
      const pwd = await t.password('sybil');
      const { secret } = await enrolTotp(t, pwd.json.access as string);
      const right = await nextCode(t, secret);
      // One wrong code per login, each login with the right password: the password alone must not reset the count.
      for (let i = 0; i < 3; i++) {
        const step = await t.password('sybil');
        expect(step.status, step.text).toBe(200);
        expect((await t.post('/api/token/mfa/', { mfa_token: step.json.mfa_token, code: wrongCode(right) })).status).toBe(401);
      }
      expect((await t.password('sybil')).status).toBe(429);
    });

    it('a wrong code at removal counts too', async () => {
      await t.user('rupert');
      const pwd = await t.password('rupert');
      const { secret, id, pair } = await enrolTotp(t, pwd.json.access as string);
      const wrong = wrongCode(await codeAt(t, secret));
      for (let i = 0; i < 3; i++) expect((await t.post(`/api/mfa/factors/${id}/remove/`, { code: wrong }, bearer(pair.access))).status).toBe(400);
      const throttled = await t.post(`/api/mfa/factors/${id}/remove/`, { code: await nextCode(t, secret) }, bearer(pair.access));
      expect(throttled.status).toBe(429);
    });
  });
}
