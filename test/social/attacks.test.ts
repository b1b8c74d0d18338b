/**
 * Attacks on the browser flow, against a real OpenID Provider. Each is refused with its status and stable code,
 * with nothing issued (no token in the answer, no auth cookie, no redirect to the page) and nothing created (users,
 * identities and token rows exactly as before).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimsOf } from '../helpers/server.js';
import { identitiesOf, socialState } from './app.js';
import { Browser, type Step } from './browser.js';
import { codeIn, NEXT, startWorld, type World } from './world.js';

const JWT_SHAPED = /[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/;

/** Runs `attempt` and asserts a refusal without a trace. */
async function refused(w: World, attempt: () => Promise<Step>, status: number, code: string): Promise<Step> {
  const before = await socialState(w.app.store);
  const r = await attempt();
  expect(r.status, r.text).toBe(status);
  expect(r.json?.code, r.text).toBe(code);
  expect(typeof r.json?.detail).toBe('string');
  expect(r.location).toBeNull();
  expect(r.text).not.toMatch(JWT_SHAPED);
  // At most the browser binding's deletion; never an auth cookie.
  for (const c of r.setCookies) expect(c).toMatch(/^restjwt-social=;/);
  expect(await socialState(w.app.store)).toBe(before);
  return r;
}

/** The callback URL with one query parameter replaced. */
function withParam(url: string, name: string, value: string | null): string {
  const u = new URL(url);
  if (value === null) u.searchParams.delete(name);
  else u.searchParams.set(name, value);
  return u.href;
}

describe('state, code and browser binding', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w.close());

  it('a tampered state is refused', async () => {
    const b = new Browser();
    const cb = await w.toCallback(b, 'alice-op');
    const state = new URL(cb).searchParams.get('state') ?? '';
    const tampered = state.slice(0, -1) + (state.endsWith('A') ? 'B' : 'A');
    await refused(w, () => b.get(withParam(cb, 'state', tampered)), 400, 'social_state_invalid');
    await refused(w, () => b.get(withParam(cb, 'state', null)), 400, 'social_state_invalid');
    await refused(w, () => b.get(withParam(cb, 'state', 'x'.repeat(5000))), 400, 'social_state_invalid');
  });

  it('a replayed callback (same code and state) is refused: the state is single-use', async () => {
    const b = new Browser();
    const cb = await w.toCallback(b, 'alice-op');
    const first = await b.get(cb);
    expect(first.status).toBe(302);
    // The browser binding was cleared by the first answer; an attacker replaying the URL from the victim's browser
    // (history, logs) with the cookie back in place is refused just the same: the state is gone.
    await refused(w, () => b.get(cb), 400, 'social_state_invalid');
  });

  it('of concurrent callbacks with one state, exactly one succeeds', async () => {
    const b = new Browser();
    const cb = await w.toCallback(b, 'alice-op');
    const answers = await Promise.all(Array.from({ length: 5 }, () => b.get(cb)));
    expect(answers.filter((a) => a.status === 302)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 302)) expect(a.json.code).toBe('social_state_invalid');
  });

  it('a replayed code under a fresh state is refused by the provider (code single-use, PKCE bound)', async () => {
    const b = new Browser();
    const cb = await w.toCallback(b, 'alice-op');
    expect((await b.get(cb)).status).toBe(302);
    const again = await b.get(`${w.app.url}/api/auth/op/login`);
    const fresh = new URL(again.location ?? '').searchParams.get('state') ?? '';
    await refused(w, () => b.get(withParam(cb, 'state', fresh)), 400, 'social_code_invalid');
  });

  it("an attacker's unused code injected into the victim's login is refused (PKCE mismatch)", async () => {
    const attacker = new Browser();
    const attackerCb = await w.toCallback(attacker, 'mallory');
    const victim = new Browser();
    const start = await victim.get(`${w.app.url}/api/auth/op/login`);
    const victimState = new URL(start.location ?? '').searchParams.get('state') ?? '';
    await refused(w, () => victim.get(withParam(attackerCb, 'state', victimState)), 400, 'social_code_invalid');
  });

  it('a state from another browser (no binding cookie, or another one) is refused: no login CSRF', async () => {
    const attacker = new Browser();
    const cb = await w.toCallback(attacker, 'mallory');
    // The victim opens the attacker's callback URL: no binding cookie at all …
    await refused(w, () => new Browser().get(cb), 400, 'social_browser_mismatch');
    // … or the binding of a login the victim started herself.
    const attacker2 = new Browser();
    const cb2 = await w.toCallback(attacker2, 'mallory');
    const victim = new Browser();
    await victim.get(`${w.app.url}/api/auth/op/login`);
    expect(victim.cookie(w.app.url, 'restjwt-social')).toBeDefined();
    await refused(w, () => victim.get(cb2), 400, 'social_browser_mismatch');
    // The failed attempt consumed the state: the attacker cannot finish it either.
    await refused(w, () => attacker2.get(cb2), 400, 'social_state_invalid');
  });

  it('an expired state is refused (stateTtl, on the service clock)', async () => {
    const b = new Browser();
    const cb = await w.toCallback(b, 'alice-op');
    w.app.advance(10 * 60 * 1000 + 1000);
    try {
      await refused(w, () => b.get(cb), 400, 'social_state_invalid');
    } finally {
      w.app.advance(-(10 * 60 * 1000 + 1000));
    }
  });

  it("the provider's refusal (access_denied) is reported, nothing issued", async () => {
    const b = new Browser();
    const start = await b.get(`${w.app.url}/api/auth/op/login`);
    const state = new URL(start.location ?? '').searchParams.get('state') ?? '';
    const url = `${w.callback}?${new URLSearchParams({ error: 'access_denied', state, iss: w.op.issuer })}`;
    await refused(w, () => b.get(url), 400, 'social_provider_denied');
  });

  it('a state of this login but a mix-up of issuers (iss of another provider) is refused', async () => {
    const b = new Browser();
    const cb = await w.toCallback(b, 'alice-op');
    await refused(w, () => b.get(withParam(cb, 'iss', 'https://evil.example')), 400, 'social_response_invalid');
    const cb2 = await w.toCallback(b, 'alice-op');
    await refused(w, () => b.get(withParam(cb2, 'iss', null)), 400, 'social_response_invalid');
  });

  it('an unknown provider is 404', async () => {
    await refused(w, () => new Browser().get(`${w.app.url}/api/auth/nope/login`), 404, 'social_unknown_provider');
    await refused(w, () => new Browser().get(`${w.app.url}/api/auth/nope/callback?state=x`), 400, 'social_state_invalid');
  });
});

describe('post-login redirect allow-list', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w.close());

  const outside = [
    'https://evil.example/done',
    'http://localhost:3001/done',
    'https://localhost:3000/done',
    'http://localhost:3000/done/',
    'http://localhost:3000/done/../evil',
    'http://localhost:3000/done?then=https://evil.example',
    'http://localhost:3000/done#x',
    'http://localhost:3000@evil.example/done',
    'http://user:pass@localhost:3000/done',
    '//evil.example/done',
    '/done',
    'javascript:alert(1)',
    'data:text/html,hi',
    'http://localhost:3000/done\\@evil.example',
    'http://localhost:3000/DONE',
  ];
  for (const next of outside) {
    it(`refuses next=${next} with 400 and no redirect`, async () => {
      const b = new Browser();
      const r = await refused(w, () => b.get(`${w.app.url}/api/auth/op/login?next=${encodeURIComponent(next)}`), 400, 'social_redirect_not_allowed');
      expect(r.setCookies).toEqual([]);
    });
  }

  it('refuses it in the link flow too', async () => {
    const pair = await w.pair(new Browser(), 'alice-op');
    const b = new Browser();
    const r = await refused(w, () => b.post(`${w.app.url}/api/auth/op/link`, { next: 'https://evil.example/' }, { authorization: `Bearer ${pair.access}` }), 400, 'social_redirect_not_allowed');
    expect(r.json.authorization_url).toBeUndefined();
  });

  it('an allowed next, written differently but identical once normalized, is followed', async () => {
    const landed = await w.signIn(new Browser(), 'alice-op', 'HTTP://LOCALHOST:3000/done');
    expect(landed.location?.startsWith(`${NEXT}#code=`)).toBe(true);
  });
});

describe('the one-time exchange code', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w.close());

  it('is single-use: a replayed code is refused', async () => {
    const b = new Browser();
    const landed = await w.signIn(b, 'alice-op');
    const code = codeIn(landed.location);
    const first = await b.post(`${w.app.url}/api/auth/exchange/`, { code });
    expect(first.status).toBe(200);
    await refused(w, () => b.post(`${w.app.url}/api/auth/exchange/`, { code }), 400, 'social_exchange_code_invalid');
  });

  it('of concurrent exchanges of one code, exactly one gets a pair', async () => {
    const b = new Browser();
    const code = codeIn((await w.signIn(b, 'alice-op')).location);
    const answers = await Promise.all(Array.from({ length: 5 }, () => b.post(`${w.app.url}/api/auth/exchange/`, { code })));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.json.code === 'social_exchange_code_invalid')).toHaveLength(4);
  });

  it('expires after codeTtl', async () => {
    const b = new Browser();
    const landed = await w.signIn(b, 'alice-op');
    w.app.advance(61_000);
    try {
      await refused(w, () => b.post(`${w.app.url}/api/auth/exchange/`, { code: codeIn(landed.location) }), 400, 'social_exchange_code_invalid');
    } finally {
      w.app.advance(-61_000);
    }
  });

  it('an unknown, empty or mistyped code is refused', async () => {
    const b = new Browser();
    await refused(w, () => b.post(`${w.app.url}/api/auth/exchange/`, { code: 'A'.repeat(43) }), 400, 'social_exchange_code_invalid');
    await refused(w, () => b.post(`${w.app.url}/api/auth/exchange/`, { code: '' }), 400, 'social_bad_request');
    await refused(w, () => b.post(`${w.app.url}/api/auth/exchange/`, { code: 42 }), 400, 'social_bad_request');
    await refused(w, () => b.post(`${w.app.url}/api/auth/exchange/`, {}), 400, 'social_bad_request');
  });

  it('the code is only in the fragment: never in the query, never a token in the URL', async () => {
    const landed = await w.signIn(new Browser(), 'alice-op');
    const url = new URL(landed.location ?? '');
    expect(url.search).toBe('');
    expect(url.hash).toMatch(/^#code=[\w-]{43}$/);
    expect(landed.location).not.toMatch(JWT_SHAPED);
  });
});

describe('accounts: email linking only on a verified email', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ social: { linkByVerifiedEmail: true } });
  });
  afterAll(() => w.close());

  it('an unverified email matching a user is not linked (409) and creates nothing', async () => {
    const victim = await w.app.store.createUser({ username: 'victim', email: 'victim@example.com', passwordHash: 'x$y' });
    await refused(w, () => w.signIn(new Browser(), 'mallory'), 409, 'social_email_in_use');
    expect(await identitiesOf(w.app.store, victim.id)).toEqual([]);
    // The same address, verified by the provider, links.
    const pair = await w.pair(new Browser(), 'victim-op');
    expect(claimsOf(pair.access).user_id).toBe(victim.id);
  });

  it('an unverified email is never stored on a new user (no pre-account hijacking)', async () => {
    w.op.accounts.set('eve', { email: 'eve@example.com', email_verified: false, preferred_username: 'eve' });
    const pair = await w.pair(new Browser(), 'eve');
    const user = await w.app.store.findUser('id', String(claimsOf(pair.access).user_id));
    expect(user?.email).toBe('');
    // A later verified sign-in with that address elsewhere does not land in Eve's account.
    w.op.accounts.set('eve-real', { email: 'eve@example.com', email_verified: true, preferred_username: 'eve-real' });
    const real = await w.pair(new Browser(), 'eve-real');
    expect(claimsOf(real.access).user_id).not.toBe(user?.id);
  });
});

describe('accounts: with linking off (default), an email in use is not taken over', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w.close());

  it('a verified email of an existing user is refused (409) without linking or creating', async () => {
    await w.app.store.createUser({ username: 'alice-local', email: 'alice@example.com', passwordHash: 'x$y' });
    await refused(w, () => w.signIn(new Browser(), 'alice-op'), 409, 'social_email_in_use');
  });
});
