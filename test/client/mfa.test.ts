/**
 * The typed client's second step, against the reference server with second factors on (memory store): `login()`
 * stops at `mfaRequired`, `completeMfa` signs in, a wrong code rejects with the server's code, and `adoptTokens` takes
 * the fresh pair an enrolment answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inProcessLock, memoryStorage, RestJwtClient, RestJwtClientError } from '@restjwt/core/client';
import { PASSWORD } from '../helpers/server.js';
import { BACKENDS, enrolTotp, nextCode, startMfaApp, wrongCode, type MfaApp } from '../mfa/app.js';

describe('RestJwtClient with a second factor', () => {
  let t: MfaApp & { drop(): Promise<void> };
  let n = 0;
  const client = () => new RestJwtClient({ baseUrl: t.url, storage: memoryStorage(), channel: `mfa-${n++}`, lock: inProcessLock });

  beforeAll(async () => {
    const memory = BACKENDS.find((b) => b.name === 'memory');
    if (memory === undefined) throw new Error('the memory backend is always there');
    t = await startMfaApp(memory);
    await t.user('uma');
  });
  afterAll(async () => {
    await t?.close();
    await t?.drop();
  });

  it('login stops at the second step; completeMfa signs in with amr; a wrong code rejects with mfa_code_invalid', async () => {
    const first = client();
    expect(await first.login({ username: 'uma', password: PASSWORD })).toEqual({ mfaRequired: false });
    const { secret, pair } = await enrolTotp(t, (await first.accessToken()) as string);
    // The enrolment answered a fresh pair (the old session is over): adopted, the client goes on with it.
    first.adoptTokens(pair);
    expect((await first.fetch('/api/mfa/')).status).toBe(200);

    const second = client();
    const step = await second.login({ username: 'uma', password: PASSWORD });
    expect(step).toEqual({ mfaRequired: true, mfaToken: expect.any(String), methods: ['totp'] });
    expect(second.loggedIn).toBe(false);
    if (!step.mfaRequired) throw new Error('unreachable');
    const right = await nextCode(t, secret);
    const refused = await second.completeMfa(step.mfaToken, { code: wrongCode(right) }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RestJwtClientError);
    expect(refused).toMatchObject({ status: 401, code: 'mfa_code_invalid' });
    await second.completeMfa(step.mfaToken, { code: right });
    expect(second.loggedIn).toBe(true);
    expect(second.claims).toMatchObject({ amr: ['pwd', 'otp', 'mfa'] });
    expect((await second.fetch('/api/protected/mfa/')).status).toBe(200);
    // A pair without an access token is refused, not stored.
    expect(() => second.adoptTokens({ refresh: 'x' })).toThrow(RestJwtClientError);
  });
});
