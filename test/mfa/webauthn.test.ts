/**
 * Passkeys and security keys (WebAuthn) through real HTTP against the reference server with @restjwt/mfa, on every
 * store the machine has, with a software authenticator (./soft-authenticator.ts) building what a browser sends:
 * registration, the login's second step with a passkey, passkey-only sign-in, and their refusals — wrong origin,
 * wrong RP id, a reused challenge, someone else's challenge, a signature counter that does not move (a clone),
 * no user verification, a bad signature — plus removal of a passkey and the throttle and cookie mode of sign-in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf } from '../helpers/server.js';
import { auditEvents, BACKENDS, bearer, enrolTotp, ORIGIN, RP_ID, SETTINGS, signInWithTotp, startMfaApp, type MfaApp } from './app.js';
import { SoftAuthenticator, type Bend } from './soft-authenticator.js';

type Pair = { access: string; refresh: string };

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`passkeys over HTTP on ${backend.name}`, () => {
    let t: MfaApp & { drop(): Promise<void> };
    beforeAll(async () => {
      // Every refused passkey sign-in here comes from one address (the throttle's key then): room for all of them.
      t = await startMfaApp(backend, { ...SETTINGS, loginThrottle: { ...SETTINGS.loginThrottle, perUsernameAndAddress: { limit: 100, windowSeconds: 300 } } });
    });
    afterAll(async () => {
      await t?.close();
      await t?.drop();
    });

    /** Registers a passkey of `key` for the user of `access`; the raw answer. */
    async function register(access: string, key: SoftAuthenticator, bend: Bend & { again?: boolean } = {}, label?: string) {
      const options = await t.post('/api/mfa/webauthn/register/options/', label === undefined ? {} : { label }, bearer(access));
      expect(options.status, options.text).toBe(200);
      return { options: options.json, answer: await t.post('/api/mfa/webauthn/register/', { credential: key.register(options.json, bend) }, bearer(access)) };
    }

    /** A new user with a registered passkey: the authenticator, the factor id and the fresh pair. */
    async function withPasskey(name: string, deviceType: 'singleDevice' | 'multiDevice' = 'singleDevice'): Promise<{ key: SoftAuthenticator; factorId: string; pair: Pair; userId: string }> {
      const user = await t.user(name);
      const pwd = await t.password(name);
      const key = new SoftAuthenticator(ORIGIN, deviceType);
      const { answer } = await register(pwd.json.access as string, key);
      expect(answer.status, answer.text).toBe(201);
      return { key, factorId: answer.json.factor.id as string, pair: { access: answer.json.access, refresh: answer.json.refresh }, userId: user.id };
    }

    /** Password, then the passkey challenge of the mfa step: the mfa_token and the assertion options. */
    async function mfaChallenge(name: string): Promise<{ token: string; options: any }> {
      const first = await t.password(name);
      expect(first.json.mfa_required, first.text).toBe(true);
      const asked = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, method: 'webauthn' });
      expect(asked.status, asked.text).toBe(200);
      return { token: asked.json.mfa_token as string, options: asked.json.webauthn };
    }

    /** The mfa step answered with `key`'s assertion (bent as asked); the raw answer. */
    async function mfaWith(name: string, key: SoftAuthenticator, bend: Bend = {}) {
      const { token, options } = await mfaChallenge(name);
      return t.post('/api/token/mfa/', { mfa_token: token, webauthn: key.assert(options, bend) });
    }

    /** Passkey-only sign-in with `key` (bent as asked); the raw answer. */
    async function passkeySignIn(key: SoftAuthenticator, bend: Bend & { credentialId?: string } = {}) {
      const started = await t.post('/api/token/passkey/options/', {});
      expect(started.status, started.text).toBe(200);
      return t.post('/api/token/passkey/', { passkey_token: started.json.passkey_token, credential: key.assert(started.json.options, bend) });
    }

    it('registers a passkey: the options ask for a verified passkey without attestation, and registration ends the other sessions', async () => {
      const user = await t.user('alice');
      const other = await t.password('alice');
      const pwd = await t.password('alice');
      const key = new SoftAuthenticator(ORIGIN);
      const { options, answer } = await register(pwd.json.access as string, key, {}, 'YubiKey');
      expect(options).toMatchObject({
        rp: { id: RP_ID, name: 'restjwt' },
        user: { id: Buffer.from(user.id).toString('base64url'), name: 'alice' },
        attestation: 'none',
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
        excludeCredentials: [],
      });
      expect(options.challenge).toMatch(/^[A-Za-z0-9_-]{40,}$/);
      expect(answer.status, answer.text).toBe(201);
      expect(answer.json.factor).toEqual({ id: expect.any(String), kind: 'webauthn', label: 'YubiKey', confirmed: true, created_at: expect.any(String), last_used_at: null });
      expect(claimsOf(answer.json.access as string).amr).toEqual(['pwd', 'hwk', 'mfa']);
      expect((await auditEvents(t.store)).at(-2)).toMatchObject({ type: 'factor_added', userId: user.id, detail: { kind: 'webauthn' } });
      for (const old of [other.json, pwd.json]) expect((await t.post('/api/token/refresh/', { refresh: old.refresh })).status).toBe(401);

      const access = answer.json.access as string;
      expect((await t.get('/api/mfa/', bearer(access))).json).toMatchObject({ methods: ['webauthn'], recovery_codes_left: 0 });
      // The next registration excludes this passkey, and the same authenticator registered again is refused.
      const again = await register(access, key, { again: true });
      expect(again.options.excludeCredentials).toEqual([{ id: key.ids[0], type: 'public-key', transports: ['usb'] }]);
      expect(again.answer.status).toBe(409);
      expect(again.answer.json.code).toBe('mfa_credential_exists');
    });

    it('registration refuses a wrong origin, a wrong RP id, no user verification, a reused or foreign challenge', async () => {
      await t.user('bob');
      const access = (await t.password('bob')).json.access as string;
      const key = new SoftAuthenticator(ORIGIN);
      for (const bend of [{ origin: 'https://evil.example' }, { rpId: 'evil.example' }, { noUv: true }, { noUp: true }, { type: 'webauthn.get' }] as Bend[]) {
        const { answer } = await register(access, key, bend);
        expect(answer.status, JSON.stringify(bend)).toBe(400);
        expect(answer.json).toEqual({ detail: expect.stringMatching(/could not be verified/), code: 'mfa_registration_invalid' });
      }
      // The same challenge twice: the first answer spends it.
      const options = (await t.post('/api/mfa/webauthn/register/options/', {}, bearer(access))).json;
      const wrongFirst = await t.post('/api/mfa/webauthn/register/', { credential: key.register(options, { origin: 'https://evil.example' }) }, bearer(access));
      expect(wrongFirst.status).toBe(400);
      const reused = await t.post('/api/mfa/webauthn/register/', { credential: key.register(options) }, bearer(access));
      expect(reused.status).toBe(400);
      // A challenge issued to another user.
      await t.user('bob2');
      const other = (await t.password('bob2')).json.access as string;
      const foreign = (await t.post('/api/mfa/webauthn/register/options/', {}, bearer(other))).json;
      const stolen = await t.post('/api/mfa/webauthn/register/', { credential: key.register(foreign) }, bearer(access));
      expect(stolen.status).toBe(400);
      // A challenge expires after five minutes.
      const late = (await t.post('/api/mfa/webauthn/register/options/', {}, bearer(access))).json;
      t.advance(301_000);
      const fresh = (await t.password('bob')).json.access as string;
      expect((await t.post('/api/mfa/webauthn/register/', { credential: key.register(late) }, bearer(fresh))).status).toBe(400);
      // Nothing was registered; a malformed credential is a field error.
      expect((await t.get('/api/mfa/', bearer(fresh))).json.factors).toEqual([]);
      const malformed = await t.post('/api/mfa/webauthn/register/', { credential: 'nope' }, bearer(fresh));
      expect(malformed.status).toBe(400);
      expect(malformed.json.credential).toEqual([expect.stringMatching(/^Invalid data/)]);
    });

    it('the mfa step with a passkey: the challenge names the user\'s passkeys, the assertion issues the pair (hwk)', async () => {
      const { key, userId } = await withPasskey('carol');
      const first = await t.password('carol');
      expect(first.json).toMatchObject({ mfa_required: true, methods: ['webauthn'] });
      const asked = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, method: 'webauthn' });
      expect(asked.status, asked.text).toBe(200);
      expect(asked.json).toMatchObject({ mfa_required: true, mfa_token: first.json.mfa_token, methods: ['webauthn'] });
      expect(asked.json.webauthn).toMatchObject({ rpId: RP_ID, userVerification: 'required', allowCredentials: [{ id: key.ids[0], type: 'public-key' }] });
      const done = await t.post('/api/token/mfa/', { mfa_token: first.json.mfa_token, webauthn: key.assert(asked.json.webauthn) });
      expect(done.status, done.text).toBe(200);
      const claims = claimsOf(done.json.access as string);
      expect(claims).toMatchObject({ user_id: userId, amr: ['pwd', 'hwk', 'mfa'] });
      expect(typeof claims.auth_time).toBe('number');
      expect((await t.get('/api/protected/mfa/', bearer(done.json.access as string))).status).toBe(200);
    });

    it('a synced passkey (multiDevice) is swk', async () => {
      const { key } = await withPasskey('dave', 'multiDevice');
      const done = await mfaWith('dave', key);
      expect(done.status, done.text).toBe(200);
      expect(claimsOf(done.json.access as string).amr).toEqual(['pwd', 'swk', 'mfa']);
    });

    it('the mfa step refuses a wrong origin, a wrong RP id, no user verification, a bad signature, a reused or foreign challenge', async () => {
      const { key, userId } = await withPasskey('erin');
      const cases: [Bend, string][] = [
        [{ origin: 'https://evil.example' }, 'wrong origin'],
        [{ rpId: 'evil.example' }, 'wrong RP id'],
        [{ noUv: true }, 'no user verification'],
        [{ noUp: true }, 'no user presence'],
        [{ wrongKey: true }, 'bad signature'],
        [{ challenge: Buffer.alloc(32, 1).toString('base64url') }, 'a challenge never issued'],
        [{ type: 'webauthn.create' }, 'a registration, not an assertion'],
      ];
      for (const [bend, what] of cases) {
        const before = (await auditEvents(t.store)).length;
        const r = await mfaWith('erin', key, bend);
        expect(r.status, what).toBe(401);
        expect(r.json.code, what).toBe('mfa_code_invalid');
        expect((await auditEvents(t.store)).slice(before).at(-1), what).toMatchObject({ type: 'mfa_failed', userId, detail: { reason: 'assertion_invalid' } });
      }
      // Reused: the assertion of one challenge, sent twice (the second time on a new challenge's step).
      const { token, options } = await mfaChallenge('erin');
      const assertion = key.assert(options);
      const wrong = await t.post('/api/token/mfa/', { mfa_token: token, webauthn: { ...assertion, response: { ...assertion.response, signature: key.assert(options, { wrongKey: true }).response.signature } } });
      expect(wrong.status).toBe(401);
      const replay = await t.post('/api/token/mfa/', { mfa_token: token, webauthn: assertion });
      expect(replay.status, 'the challenge was spent by the first answer').toBe(401);
      // Another pending login's challenge: bound to the login it was asked for.
      const a = await mfaChallenge('erin');
      const b = await mfaChallenge('erin');
      const crossed = await t.post('/api/token/mfa/', { mfa_token: b.token, webauthn: key.assert(a.options) });
      expect(crossed.status).toBe(401);
      // And a correct answer still works.
      expect((await t.post('/api/token/mfa/', { mfa_token: b.token, webauthn: key.assert(b.options) })).status).toBe(200);
    });

    it('a cloned authenticator is refused: a signature counter that does not move is counter_replayed', async () => {
      const { key, userId } = await withPasskey('frank');
      const clone = key.clone();
      expect((await mfaWith('frank', key)).status).toBe(200);
      expect((await mfaWith('frank', key)).status).toBe(200);
      const before = (await auditEvents(t.store)).length;
      // The clone's counter is behind the original's.
      const cloned = await mfaWith('frank', clone);
      expect(cloned.status).toBe(401);
      expect(cloned.json.code).toBe('mfa_code_invalid');
      expect((await auditEvents(t.store)).slice(before).at(-1)).toMatchObject({ type: 'mfa_failed', userId, detail: { reason: 'counter_replayed' } });
      // The same counter again is as much a replay.
      const same = await mfaWith('frank', key, { counter: 2 });
      expect(same.status).toBe(401);
      expect(await passkeySignIn(key, { counter: 2 }).then((r) => r.json.code)).toBe('mfa_passkey_invalid');
      expect((await mfaWith('frank', key, { counter: 10 })).status).toBe(200);
    });

    it('a passkey of another user is refused in the mfa step', async () => {
      await withPasskey('grace');
      const { key: heidi } = await withPasskey('heidi');
      const { token, options } = await mfaChallenge('grace');
      const r = await t.post('/api/token/mfa/', { mfa_token: token, webauthn: heidi.assert(options, { credentialId: heidi.ids[0] } as Bend) });
      expect(r.status).toBe(401);
    });

    it('passkey-only sign-in: discoverable options, then the pair with amr hwk user mfa (audited as a passkey login)', async () => {
      const { key, userId } = await withPasskey('ivan');
      const started = await t.post('/api/token/passkey/options/', {});
      expect(started.status, started.text).toBe(200);
      expect(started.json.passkey_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(started.json.options).toMatchObject({ rpId: RP_ID, userVerification: 'required' });
      expect(started.json.options.allowCredentials ?? []).toEqual([]);
      const before = (await auditEvents(t.store)).length;
      const done = await t.post('/api/token/passkey/', { passkey_token: started.json.passkey_token, credential: key.assert(started.json.options) });
      expect(done.status, done.text).toBe(200);
      expect(Object.keys(done.json).sort()).toEqual(['access', 'refresh']);
      expect(claimsOf(done.json.access as string)).toMatchObject({ user_id: userId, amr: ['hwk', 'user', 'mfa'] });
      expect((await t.get('/api/protected/mfa/', bearer(done.json.access as string))).status).toBe(200);
      expect((await auditEvents(t.store)).slice(before)).toEqual([
        expect.objectContaining({ type: 'login', userId, detail: { method: 'passkey', token: 'refresh', amr: 'hwk user mfa' } }),
      ]);
      // The token and its challenge are single-use.
      const again = await t.post('/api/token/passkey/', { passkey_token: started.json.passkey_token, credential: key.assert(started.json.options) });
      expect(again.status).toBe(401);
      expect(again.json).toEqual({ detail: expect.stringMatching(/passkey sign-in/), code: 'mfa_passkey_invalid' });
    });

    it('passkey-only sign-in refuses a wrong origin, RP id, missing UV, a clone, a bad signature, an unknown credential, another token', async () => {
      const { key, userId } = await withPasskey('judy');
      const clone = key.clone();
      expect((await passkeySignIn(key)).status).toBe(200);
      for (const [who, bend] of [
        [key, { origin: 'https://evil.example' }],
        [key, { rpId: 'evil.example' }],
        [key, { noUv: true }],
        [key, { wrongKey: true }],
        [clone, {}],
        [key, { userHandle: Buffer.from('someone-else').toString('base64url') }],
      ] as [SoftAuthenticator, Bend][]) {
        const r = await passkeySignIn(who, bend);
        expect(r.status, JSON.stringify(bend)).toBe(401);
        expect(r.json.code).toBe('mfa_passkey_invalid');
      }
      expect((await auditEvents(t.store)).filter((e) => e.type === 'mfa_failed' && e.userId === userId).map((e) => e.detail.reason)).toEqual([
        'assertion_invalid',
        'assertion_invalid',
        'assertion_invalid',
        'assertion_invalid',
        'counter_replayed',
        'assertion_invalid',
      ]);
      const stranger = new SoftAuthenticator(ORIGIN);
      stranger.register({ rp: { id: RP_ID, name: 'x' }, user: { id: 'eA', name: 'x', displayName: 'x' }, challenge: 'AAAA', pubKeyCredParams: [] });
      expect((await passkeySignIn(stranger)).status).toBe(401);
      // The assertion for one token's options, sent with another token.
      const a = await t.post('/api/token/passkey/options/', {});
      const b = await t.post('/api/token/passkey/options/', {});
      const crossed = await t.post('/api/token/passkey/', { passkey_token: b.json.passkey_token, credential: key.assert(a.json.options) });
      expect(crossed.status).toBe(401);
      const malformed = await t.post('/api/token/passkey/', { passkey_token: 'x', credential: key.assert(b.json.options) });
      expect(malformed.status).toBe(401);
      const missing = await t.post('/api/token/passkey/', { passkey_token: b.json.passkey_token });
      expect(missing.status).toBe(400);
      expect(missing.json).toEqual({ credential: ['This field is required.'] });
    });

    it('passkey-only sign-in of an inactive user is refused', async () => {
      const { key, userId } = await withPasskey('ken');
      await t.store.setActive(userId, false);
      const r = await passkeySignIn(key);
      expect(r.status).toBe(401);
      expect(r.json.code).toBe('no_active_account');
    });

    it('removing a passkey that is the last factor needs a recovery code; without any the refusal says what to do', async () => {
      const { factorId, pair } = await withPasskey('leo');
      const refused = await t.post(`/api/mfa/factors/${factorId}/remove/`, {}, bearer(pair.access));
      expect(refused.status).toBe(409);
      expect(refused.json).toEqual({ detail: expect.stringMatching(/no recovery code.*Generate recovery codes/), code: 'mfa_no_recovery_codes' });
      const codes = (await t.post('/api/mfa/recovery-codes/', {}, bearer(pair.access))).json.codes as string[];
      const needsCode = await t.post(`/api/mfa/factors/${factorId}/remove/`, {}, bearer(pair.access));
      expect(needsCode.json.code).toBe('mfa_code_required');
      // A TOTP-looking code is no recovery code.
      expect((await t.post(`/api/mfa/factors/${factorId}/remove/`, { code: '123456' }, bearer(pair.access))).json.code).toBe('mfa_code_rejected');
      const removed = await t.post(`/api/mfa/factors/${factorId}/remove/`, { code: codes[0] }, bearer(pair.access));
      expect(removed.status, removed.text).toBe(200);
      expect((await t.get('/api/mfa/', bearer(removed.json.access as string))).json).toEqual({ factors: [], recovery_codes_left: 0, methods: [] });
      expect(Object.keys((await t.password('leo')).json).sort()).toEqual(['access', 'refresh']);
    });

    it('a user with an app and a passkey may use either, and removing one needs no code', async () => {
      const { key, factorId, pair } = await withPasskey('mallory');
      const { secret, pair: after } = await enrolTotp(t, pair.access);
      expect((await t.password('mallory')).json.methods).toEqual(['totp', 'webauthn']);
      expect((await mfaWith('mallory', key)).status).toBe(200);
      await signInWithTotp(t, 'mallory', secret);
      const removed = await t.post(`/api/mfa/factors/${factorId}/remove/`, {}, bearer(after.access));
      expect(removed.status, removed.text).toBe(200);
      expect(claimsOf(removed.json.access as string).amr).toContain('mfa');
      expect((await t.password('mallory')).json.methods).toEqual(['totp']);
    });
  });

  describe.skipIf(!backend.available)(`passkey sign-in, throttled and in cookie mode, on ${backend.name}`, () => {
    it('failed passkey sign-ins count for the login throttle by address', async () => {
      const t = await startMfaApp(backend, { loginThrottle: { perUsernameAndAddress: { limit: 3, windowSeconds: 300 } } });
      try {
        const key = new SoftAuthenticator(ORIGIN);
        await t.user('nia');
        const access = (await t.password('nia')).json.access as string;
        const options = (await t.post('/api/mfa/webauthn/register/options/', {}, bearer(access))).json;
        expect((await t.post('/api/mfa/webauthn/register/', { credential: key.register(options) }, bearer(access))).status).toBe(201);
        for (let i = 0; i < 3; i++) {
          const started = (await t.post('/api/token/passkey/options/', {})).json;
          expect((await t.post('/api/token/passkey/', { passkey_token: started.passkey_token, credential: key.assert(started.options, { noUv: true }) })).status).toBe(401);
        }
        const started = (await t.post('/api/token/passkey/options/', {})).json;
        const throttled = await t.post('/api/token/passkey/', { passkey_token: started.passkey_token, credential: key.assert(started.options) });
        expect(throttled.status).toBe(429);
        expect(throttled.json.code).toBe('throttled');
      } finally {
        await t.close();
        await t.drop();
      }
    });

    it('in cookie mode the pair goes into the cookies, and the enrolment routes take the access cookie with its CSRF check', async () => {
      const t = await startMfaApp(backend, { cookieMode: 'both' });
      try {
        await t.user('olga');
        const login = await t.password('olga');
        expect(login.status).toBe(200);
        const jar = login.headers.getSetCookie().map((c) => c.split(';')[0] as string);
        const cookie = jar.join('; ');
        const csrf = (jar.find((c) => c.startsWith('restjwt-csrf=') || c.includes('csrf')) ?? '').split('=')[1] ?? '';
        const forged = await t.post('/api/mfa/webauthn/register/options/', {}, { cookie });
        expect(forged.status).toBe(403);
        expect(forged.json.code).toBe('csrf_failed');
        const key = new SoftAuthenticator(ORIGIN);
        const options = await t.post('/api/mfa/webauthn/register/options/', {}, { cookie, 'x-csrf-token': csrf });
        expect(options.status, options.text).toBe(200);
        const registered = await t.post('/api/mfa/webauthn/register/', { credential: key.register(options.json) }, { cookie, 'x-csrf-token': csrf });
        expect(registered.status, registered.text).toBe(201);
        expect(registered.json.refresh).toBeUndefined();
        expect(registered.json.access).toBeUndefined();
        expect(registered.headers.getSetCookie().length).toBeGreaterThanOrEqual(3);
        const started = (await t.post('/api/token/passkey/options/', {})).json;
        const signedIn = await t.post('/api/token/passkey/', { passkey_token: started.passkey_token, credential: key.assert(started.options) });
        expect(signedIn.status, signedIn.text).toBe(200);
        expect(signedIn.json).toEqual({});
        const set = signedIn.headers.getSetCookie().join('\n');
        expect(set).toMatch(/HttpOnly/);
        expect(set).toMatch(/Path=\/api\/token\//);
      } finally {
        await t.close();
        await t.drop();
      }
    });
  });
}
