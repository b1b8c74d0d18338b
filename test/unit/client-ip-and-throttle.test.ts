import { describe, expect, it } from 'vitest';
import { clientAddress, inRanges } from '../../packages/core/src/http/client-ip.js';
import { parseCookies, serializeCookie } from '../../packages/core/src/http/cookies.js';
import { LoginThrottle } from '../../packages/core/src/throttle/login-throttle.js';
import { MemoryRateCounter } from '../../packages/core/src/stores/memory/rate-counter.js';

describe('client address behind proxies', () => {
  it.each([
    ['10.1.2.3', ['10.0.0.0/8'], true],
    ['11.1.2.3', ['10.0.0.0/8'], false],
    ['::ffff:127.0.0.1', ['127.0.0.1/32'], true],
    ['::1', ['::1'], true],
    ['fd00::5', ['fd00::/8'], true],
    ['fe80::1', ['fd00::/8'], false],
    ['not-an-ip', ['0.0.0.0/0'], false],
  ])('%s in %j is %s', (addr, ranges, expected) => {
    expect(inRanges(addr, ranges)).toBe(expected);
  });

  it('ignores X-Forwarded-For from an untrusted peer', () => {
    expect(clientAddress('203.0.113.9', '1.2.3.4', [])).toBe('203.0.113.9');
    expect(clientAddress('203.0.113.9', '1.2.3.4', ['10.0.0.0/8'])).toBe('203.0.113.9');
  });

  it('takes the right-most untrusted hop when the peer is a trusted proxy', () => {
    expect(clientAddress('10.0.0.2', 'spoofed, 198.51.100.7, 10.0.0.3', ['10.0.0.0/8'])).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.2', 'garbage!', ['10.0.0.0/8'])).toBe('10.0.0.2');
  });
});

describe('login throttle', () => {
  const rules = {
    perUsernameAndAddress: { limit: 3, windowSeconds: 60 },
    perUsername: { limit: 10, windowSeconds: 60 },
    perAddress: { limit: 20, windowSeconds: 60 },
  };

  it('locks one username from one address after the limit, for at most one window', async () => {
    let now = 0;
    const t = new LoginThrottle(new MemoryRateCounter(() => now), rules);
    for (let i = 0; i < 3; i++) {
      expect(await t.check('alice', '1.1.1.1')).toBeNull();
      await t.failed('alice', '1.1.1.1');
    }
    expect(await t.check('alice', '1.1.1.1')).toBe(60);
    expect(await t.check('ALICE', '1.1.1.1')).not.toBeNull();
    // another address is not locked out by this attacker
    expect(await t.check('alice', '2.2.2.2')).toBeNull();
    now += 60_000;
    expect(await t.check('alice', '1.1.1.1')).toBeNull();
  });

  it('a success clears the failures of that username and address', async () => {
    const t = new LoginThrottle(new MemoryRateCounter(), rules);
    await t.failed('bob', '1.1.1.1');
    await t.failed('bob', '1.1.1.1');
    await t.succeeded('bob', '1.1.1.1');
    await t.failed('bob', '1.1.1.1');
    await t.failed('bob', '1.1.1.1');
    expect(await t.check('bob', '1.1.1.1')).toBeNull();
  });
});

describe('cookies', () => {
  it('parses and serialises', () => {
    expect(parseCookies('a=1; b="two"; a=3; c=%41')).toEqual({ a: '1', b: 'two', c: 'A' });
    expect(serializeCookie('__Secure-r', 'tok', { path: '/api/token/', maxAgeSeconds: 60, httpOnly: true, secure: true, sameSite: 'Strict' }))
      .toBe('__Secure-r=tok; Path=/api/token/; Max-Age=60; HttpOnly; Secure; SameSite=Strict');
  });
});
