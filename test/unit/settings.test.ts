import { describe, expect, it } from 'vitest';
import { ConfigurationError, DEFAULT_SETTINGS, resolveSettings, type LogEvent } from '@restjwt/core';
import { startApp } from '../helpers/server.js';

describe('settings', () => {
  it('defaults equal simplejwt', () => {
    const { settings } = resolveSettings({});
    expect(settings).toMatchObject({
      accessTokenLifetime: 300,
      refreshTokenLifetime: 86400,
      slidingTokenLifetime: 300,
      slidingTokenRefreshLifetime: 86400,
      rotateRefreshTokens: false,
      blacklistAfterRotation: false,
      updateLastLogin: false,
      algorithm: 'HS256',
      leeway: 0,
      authHeaderTypes: ['Bearer'],
      authHeaderName: 'authorization',
      userIdField: 'id',
      userIdClaim: 'user_id',
      authTokenClasses: ['access'],
      tokenTypeClaim: 'token_type',
      jtiClaim: 'jti',
      slidingTokenRefreshExpClaim: 'refresh_exp',
      checkRevokeToken: false,
      revokeTokenClaim: 'hash_password',
      checkUserIsActive: true,
    });
    expect(Object.isFrozen(settings)).toBe(true);
    expect(settings.userAuthenticationRule(null)).toBe(false);
  });

  it('accepts SIMPLE_JWT names and Django values, and reports the ones that mean nothing here', () => {
    const { settings, ignored } = resolveSettings({
      ACCESS_TOKEN_LIFETIME: { minutes: 15 },
      REFRESH_TOKEN_LIFETIME: '7d',
      ROTATE_REFRESH_TOKENS: true,
      AUTH_HEADER_NAME: 'HTTP_X_API_AUTH',
      AUTH_TOKEN_CLASSES: ['rest_framework_simplejwt.tokens.AccessToken', 'rest_framework_simplejwt.tokens.SlidingToken'],
      TOKEN_USER_CLASS: 'rest_framework_simplejwt.models.TokenUser',
    });
    expect(settings.accessTokenLifetime).toBe(900);
    expect(settings.refreshTokenLifetime).toBe(604800);
    expect(settings.rotateRefreshTokens).toBe(true);
    expect(settings.authHeaderName).toBe('x-api-auth');
    expect(settings.authTokenClasses).toEqual(['access', 'sliding']);
    expect(ignored).toEqual(['TOKEN_USER_CLASS']);
  });

  it.each([
    ['2h30m', 9000],
    [45, 45],
    ['90s', 90],
    ['120', 120],
  ])('reads the duration %j', (value, seconds) => {
    expect(resolveSettings({ accessTokenLifetime: value }).settings.accessTokenLifetime).toBe(seconds);
  });

  it.each([
    [{ accessTokenLifetime: -1 }, /accessTokenLifetime/],
    [{ accessTokenLifetime: 0 }, /longer than zero/],
    [{ accessTokenLifetime: 'soon' }, /duration such as/],
    [{ algorithm: 'none' }, /one of "HS256"/],
    [{ algorithm: 'hs256' }, /algorithm/],
    [{ rotateRefreshTokens: 'yes' }, /true or false/],
    [{ authHeaderTypes: [] }, /non-empty list/],
    [{ authTokenClasses: ['refresh'] }, /one of "access", "sliding"/],
    [{ userIdClaim: 'a b' }, /claim name/],
    [{ jwkUrl: 'ftp://x' }, /http\(s\) URL/],
    [{ accesTokenLifetime: 5 }, /Unknown setting "accesTokenLifetime"/],
    [{ access_token_lifetime: 5 }, /Did you mean "accessTokenLifetime"/],
    [{ ACCESS_TOKEN_LIFETIME: 5, accessTokenLifetime: 5 }, /same setting/],
    [{ locales: ['xx'] }, /locales/],
    [{ maxBodyBytes: 1.5 }, /whole number/],
  ])('refuses %j with a clear ConfigurationError', (input, message) => {
    expect(() => resolveSettings(input as Record<string, unknown>)).toThrow(ConfigurationError);
    expect(() => resolveSettings(input as Record<string, unknown>)).toThrow(message);
  });

  it('never echoes a key value in an error', () => {
    try {
      resolveSettings({ signingKey: 42 } as unknown as Record<string, unknown>);
    } catch (err) {
      expect(String(err)).toContain('signingKey');
    }
    expect(() => resolveSettings({ signingKey: '' })).not.toThrow();
    expect(DEFAULT_SETTINGS.signingKey).toBeUndefined();
  });

  it('says blacklistAfterRotation without rotation has no effect', () => {
    expect(resolveSettings({ blacklistAfterRotation: true }).ignored[0]).toMatch(/no effect/);
  });
});

describe('rotation without blacklisting', () => {
  it('createRestJwt warns once, at construction, through the log hook; the old refresh token does keep working', async () => {
    const events: LogEvent[] = [];
    const t = await startApp({ ROTATE_REFRESH_TOKENS: true, BLACKLIST_AFTER_ROTATION: false }, { log: (e) => events.push(e) });
    try {
      const warnings = events.filter((e) => e.event === 'rotation_without_blacklist');
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ level: 'warn', reason: expect.stringMatching(/old refresh token keeps working after rotation.*simplejwt.*blacklistAfterRotation: true/) });
      // What the warning says is so: after a rotation the replaced token still refreshes.
      await t.user('alice');
      const { refresh } = await t.login();
      expect((await t.post('/api/token/refresh/', { refresh })).json.refresh).toEqual(expect.any(String));
      expect((await t.post('/api/token/refresh/', { refresh })).status).toBe(200);
      expect(events.filter((e) => e.event === 'rotation_without_blacklist')).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  it.each([
    [{ rotateRefreshTokens: true, blacklistAfterRotation: true }],
    [{ rotateRefreshTokens: false, blacklistAfterRotation: false }],
    [{}],
  ])('does not warn with %j', async (settings) => {
    const events: LogEvent[] = [];
    const t = await startApp(settings, { log: (e) => events.push(e) });
    await t.close();
    expect(events.filter((e) => e.level === 'warn')).toEqual([]);
  });
});
