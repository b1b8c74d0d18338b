/**
 * validateRegisteredClaims against the formulation it had before it dropped its closure and arrays (kept here as the
 * reference): the same verdict for every combination of `aud` value and configured audience.
 */
import { describe, expect, it } from 'vitest';
import { TokenError } from '../../packages/core/src/errors.js';
import { resolveSettings } from '../../packages/core/src/settings/resolve.js';
import type { Settings } from '../../packages/core/src/settings/types.js';
import { validateRegisteredClaims } from '../../packages/core/src/tokens/claims.js';

function referenceAudienceOk(aud: unknown, audience: string | readonly string[] | undefined): boolean {
  if (audience === undefined) return aud === undefined || aud === null || aud === '' || (Array.isArray(aud) && aud.length === 0);
  const wanted = typeof audience === 'string' ? [audience] : audience;
  const got = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? (aud as string[]) : null;
  return got !== null && got.some((a) => wanted.includes(a));
}

function verdict(payload: Record<string, unknown>, settings: Settings, now: number, checkExp = true): string {
  try {
    validateRegisteredClaims(payload, settings, now, checkExp);
    return 'ok';
  } catch (err) {
    if (err instanceof TokenError) return JSON.stringify(err.message);
    throw err;
  }
}

const sparse: unknown[] = [];
sparse[1] = 'api'; // a hole at 0: every() and some() skip it
const AUDS: unknown[] = [undefined, null, '', 'api', 'web', 'other', 0, 1, true, {}, [], ['api'], ['web', 'api'], ['other'], ['api', 3], [null], [''], sparse];
const AUDIENCES: Array<string | string[] | undefined> = [undefined, 'api', ['api'], ['web', 'api'], [], ['']];

const base = resolveSettings({ signingKey: 'k'.repeat(64) }).settings;

describe('registered claims', () => {
  it('aud: the same verdict as the reference for every value and configured audience', () => {
    for (const audience of AUDIENCES) {
      // Set directly rather than resolved: the function is held to the reference even where resolveSettings refuses
      // the value (an empty list).
      const settings: Settings = { ...base, audience };
      for (const aud of AUDS) {
        const payload = aud === undefined ? {} : { aud };
        expect(verdict(payload, settings, 1000) === 'ok', `${JSON.stringify(aud)} vs ${JSON.stringify(audience)}`).toBe(referenceAudienceOk(aud, settings.audience));
      }
    }
  });

  it('exp, nbf, iat and iss: boundaries and types', () => {
    const s = resolveSettings({ signingKey: 'k'.repeat(64), leeway: 5, issuer: 'me' }).settings;
    expect(verdict({ exp: 1006, iss: 'me' }, s, 1000)).toBe('ok');
    expect(verdict({ exp: 995, iss: 'me' }, s, 1000)).not.toBe('ok'); // exp <= now - leeway
    expect(verdict({ exp: 995, iss: 'me' }, s, 1000, false)).toBe('ok');
    expect(verdict({ exp: '2000', iss: 'me' }, s, 1000, false)).not.toBe('ok');
    expect(verdict({ nbf: 1005, iss: 'me' }, s, 1000)).toBe('ok');
    expect(verdict({ nbf: 1006, iss: 'me' }, s, 1000)).not.toBe('ok');
    expect(verdict({ iat: Number.NaN, iss: 'me' }, s, 1000)).not.toBe('ok');
    expect(verdict({ iss: 'you' }, s, 1000)).not.toBe('ok');
    expect(verdict({}, s, 1000)).not.toBe('ok');
  });
});
