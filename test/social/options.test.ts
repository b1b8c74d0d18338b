/** Social login's settings: defaults, and a clear ConfigurationError for each mistake, at start-up. */
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createRestJwt, type Store } from '@restjwt/core';
import { createSocialLogin, type SocialOptions, type SocialProvider } from '@restjwt/social';
import { createMemoryStore } from '@restjwt/core/memory';
import { SECRET } from '../helpers/server.js';

const restjwt = (settings: Record<string, unknown> = {}, store: Store = createMemoryStore()) => createRestJwt({ store, settings: { signingKey: SECRET, ...settings } });
const base: SocialOptions = {
  publicUrl: 'https://api.example.com',
  allowedRedirects: ['https://app.example.com/signed-in'],
  providers: { github: { type: 'github', clientId: 'id', clientSecret: 'secret' } },
};
const build = (o: Partial<SocialOptions> | Record<string, unknown>, settings: Record<string, unknown> = {}) => createSocialLogin(restjwt(settings), { ...base, ...o } as SocialOptions);
const refused = (o: Partial<SocialOptions> | Record<string, unknown>, message: RegExp) => {
  expect(() => build(o)).toThrow(ConfigurationError);
  expect(() => build(o)).toThrow(message);
};

describe('social options', () => {
  it('defaults: no email linking, user creation, 10 min state, 60 s code, delivery by cookieMode, /api/ prefix', () => {
    const s = build({});
    expect(s.options).toMatchObject({ linkByVerifiedEmail: false, createUsers: true, stateTtl: 600, codeTtl: 60, prefix: '/api/', publicUrl: 'https://api.example.com' });
    expect(s.providerNames).toEqual(['github']);
    expect(s.callbackUrl('github')).toBe('https://api.example.com/api/auth/github/callback');
    expect(build({ stateTtl: '5m', codeTtl: 30 }).options).toMatchObject({ stateTtl: 300, codeTtl: 30 });
  });

  it('publicUrl: an https origin (http only on loopback)', () => {
    refused({ publicUrl: 'http://api.example.com' }, /https/);
    refused({ publicUrl: 'https://api.example.com/base' }, /origin only/);
    refused({ publicUrl: 'not a url' }, /absolute URL/);
    expect(build({ publicUrl: 'http://localhost:8000' }).callbackUrl('github')).toBe('http://localhost:8000/api/auth/github/callback');
  });

  it('allowedRedirects: at least one exact URL, https (or loopback), no query, fragment or credentials', () => {
    refused({ allowedRedirects: [] }, /at least one/);
    refused({ allowedRedirects: ['http://app.example.com/x'] }, /https/);
    refused({ allowedRedirects: ['https://app.example.com/x?next=1'] }, /no query or fragment/);
    refused({ allowedRedirects: ['https://app.example.com/x#y'] }, /no query or fragment/);
    refused({ allowedRedirects: ['https://u:p@app.example.com/x'] }, /credentials/);
    refused({ allowedRedirects: ['/relative'] }, /absolute URL/);
  });

  it('providers: names fit in URLs, reserved names, known types, client ids and secrets, https issuers', () => {
    refused({ providers: {} }, /at least one provider/);
    refused({ providers: { 'Git Hub': { type: 'github', clientId: 'i', clientSecret: 's' } } }, /must match/);
    refused({ providers: { exchange: { type: 'github', clientId: 'i', clientSecret: 's' } } }, /reserved/);
    refused({ providers: { identities: { type: 'github', clientId: 'i', clientSecret: 's' } } }, /reserved/);
    refused({ providers: { x: { type: 'facebook', clientId: 'i', clientSecret: 's' } } }, /type must be one of/);
    refused({ providers: { x: { type: 'github', clientId: '', clientSecret: 's' } } }, /clientId/);
    refused({ providers: { x: { type: 'google', clientId: 'i' } } }, /clientSecret/);
    refused({ providers: { x: { type: 'oidc', clientId: 'i', issuer: 'http://idp.example.com' } } }, /https/);
    expect(build({ providers: { x: { type: 'oidc', clientId: 'i', issuer: 'https://idp.example.com' } } }).providerNames).toEqual(['x']);
  });

  it('an application may bring its own provider object', () => {
    const mine: SocialProvider = {
      protocol: 'oauth2',
      nativeRedirectUris: [],
      authorizationUrl: async (p, redirectUri) => new URL(`https://idp.example.com/authorize?state=${p.state}&redirect_uri=${encodeURIComponent(redirectUri)}`),
      callback: async () => ({ subject: '1', email: null, emailVerified: false, name: null, username: null }),
    };
    expect(build({ providers: { mine } }).providerNames).toEqual(['mine']);
  });

  it('delivery follows cookieMode unless set', async () => {
    expect(build({ delivery: 'code' }, { cookieMode: 'refresh' }).options.delivery).toBe('code');
    refused({ delivery: 'url' }, /delivery/);
    refused({ delivery: 'cookie' }, /cookieMode/);
    refused({ prefix: 'api' }, /prefix/);
  });

  it('a store without linked identities and one-time values is refused', () => {
    const mem = createMemoryStore();
    const limited = Object.assign(Object.create(mem) as Store, { linkIdentity: undefined });
    expect(() => createSocialLogin(restjwt({}, limited), base)).toThrow(/linked identities/);
  });
});

describe('the CLI: social login from the config and the environment', () => {
  it('reads the config object, adds presets from RESTJWT_SOCIAL_* and keeps `social` out of the token settings', async () => {
    const { socialOptionsFrom, validateSettings } = await import('../../packages/restjwt/src/cli/config.js');
    expect(socialOptionsFrom({}, {})).toBeUndefined();
    const input = { accessTokenLifetime: '5m', social: { publicUrl: 'https://api.example.com', allowedRedirects: ['https://app.example.com/in'], linkByVerifiedEmail: true } };
    const env = {
      RESTJWT_SOCIAL_GITHUB_CLIENT_ID: 'gh',
      RESTJWT_SOCIAL_GITHUB_CLIENT_SECRET: 'gh-secret',
      RESTJWT_SOCIAL_GOOGLE_CLIENT_ID: 'only-an-id',
      RESTJWT_SOCIAL_REDIRECTS: 'https://app.example.com/a, https://app.example.com/b',
    };
    const social = socialOptionsFrom(input, env);
    expect(social).toEqual({
      publicUrl: 'https://api.example.com',
      allowedRedirects: ['https://app.example.com/a', 'https://app.example.com/b'],
      linkByVerifiedEmail: true,
      providers: { github: { type: 'github', clientId: 'gh', clientSecret: 'gh-secret' } },
    });
    expect(createSocialLogin(restjwt(), social as SocialOptions).providerNames).toEqual(['github']);
    expect(validateSettings({ input, origin: 'test' }).settings.accessTokenLifetime).toBe(300);
  });
});

describe('the OpenAPI document', () => {
  it('lists the social routes under the social tag', async () => {
    const { reserveOrigin, startSocialApp } = await import('./app.js');
    const app = await startSocialApp(await reserveOrigin(), { providers: base.providers, allowedRedirects: ['http://localhost:3000/in'] });
    try {
      const doc = await app.get('/api/schema/');
      if (doc.status === 404) return; // the OpenAPI document is another change; nothing to check without it
      expect(doc.status).toBe(200);
      const paths = doc.json.paths as Record<string, Record<string, { tags?: string[]; summary?: string }>>;
      for (const [path, method] of [
        ['/api/auth/{provider}/login', 'get'],
        ['/api/auth/{provider}/callback', 'get'],
        ['/api/auth/exchange/', 'post'],
        ['/api/auth/{provider}/token', 'post'],
        ['/api/auth/{provider}/link', 'post'],
        ['/api/auth/identities/', 'get'],
        ['/api/auth/identities/{provider}/{subject}/', 'delete'],
      ] as const) {
        expect(paths[path]?.[method]?.tags, `${method} ${path}`).toEqual(['social']);
        expect(typeof paths[path]?.[method]?.summary).toBe('string');
      }
    } finally {
      await app.close();
    }
  });
});
