import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { exportJWK } from 'jose';
import { jwtVerify } from 'jose';
import { ConfigurationError, MissingKeyError, TokenError, type Algorithm } from '@restjwt/core';
import { buildKeyset } from '../../packages/core/src/keys/keyset.js';
import { resolveSettings } from '../../packages/core/src/settings/resolve.js';
import { TokenService } from '../../packages/core/src/tokens/token-service.js';
import type { UserRecord } from '../../packages/core/src/store/types.js';

const user: UserRecord = {
  id: '7', username: 'alice', email: 'a@example.com', passwordHash: '', isActive: true, isStaff: false,
  lastLogin: null, dateJoined: new Date(), tokenVersion: 'v1',
};

function pairFor(alg: Algorithm): { priv: KeyObject; pub: KeyObject } | null {
  switch (alg.slice(0, 2)) {
    case 'RS':
    case 'PS':
      return (({ privateKey, publicKey }) => ({ priv: privateKey, pub: publicKey }))(generateKeyPairSync('rsa', { modulusLength: 2048 }));
    case 'ES': {
      const curve = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' }[alg as 'ES256'];
      return (({ privateKey, publicKey }) => ({ priv: privateKey, pub: publicKey }))(generateKeyPairSync('ec', { namedCurve: curve }));
    }
    case 'Ed':
      return (({ privateKey, publicKey }) => ({ priv: privateKey, pub: publicKey }))(generateKeyPairSync('ed25519'));
    default:
      return null;
  }
}

const ALL: Algorithm[] = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];
const SECRET = 'k'.repeat(64);

function service(settings: Record<string, unknown>, clock = Date.now): TokenService {
  const s = resolveSettings(settings).settings;
  return new TokenService(s, buildKeyset(s), clock);
}

describe('every algorithm signs and verifies, and jose agrees', () => {
  it.each(ALL)('%s', async (alg) => {
    const pair = pairFor(alg);
    const signingKey = pair ? pair.priv.export({ format: 'pem', type: 'pkcs8' }).toString() : SECRET;
    const tokens = service({ algorithm: alg, signingKey });
    const token = tokens.encode(tokens.forUser('refresh', user));
    const decoded = tokens.decodeLocal(token, 'refresh');
    expect(decoded.payload.user_id).toBe('7');
    const joseKey = pair ? pair.pub : new TextEncoder().encode(SECRET);
    const { payload, protectedHeader } = await jwtVerify(token, joseKey, { algorithms: [alg] });
    expect(payload).toEqual(decoded.payload);
    // HMAC headers are simplejwt's exactly; asymmetric ones add the key's RFC 7638 thumbprint as kid.
    expect(protectedHeader).toEqual(pair ? { alg, typ: 'JWT', kid: expect.stringMatching(/^[\w-]{43}$/) } : { alg, typ: 'JWT' });
    // a verify-only service (public key only, as PEM and as JWK) accepts it too
    if (pair) {
      for (const verifyingKey of [pair.pub.export({ format: 'pem', type: 'spki' }).toString(), JSON.stringify(await exportJWK(pair.pub))]) {
        const s = resolveSettings({ algorithm: alg, verifyingKey }).settings;
        const verifier = new TokenService(s, buildKeyset(s));
        expect(verifier.canSign).toBe(false);
        expect(verifier.decodeLocal(token, 'refresh').payload.jti).toBe(decoded.payload.jti);
      }
    }
  });
});

describe('key checks at start-up', () => {
  it.each([
    ['HS256', 'short-secret', /shorter than the 32-byte hash/],
    ['HS512', 'x'.repeat(63), /64-byte hash/],
  ])('refuses a weak %s secret', (alg, key, msg) => {
    expect(() => service({ algorithm: alg, signingKey: key })).toThrow(msg);
  });

  it('refuses a missing key, naming the option the caller passes (not the CLI\'s variable)', () => {
    expect(() => service({})).toThrow(
      'HS256 needs signingKey: pass settings.signingKey, a secret of at least 32 random bytes ("npx restjwt keygen --alg HS256" prints one). ' +
        'It is undefined here: if you read it from an environment variable, that variable is not set.',
    );
    expect(() => service({ signingKey: process.env.RESTJWT_TEST_UNSET_VARIABLE })).toThrow(MissingKeyError);
    expect(() => service({ algorithm: 'ES256' })).toThrow(
      'ES256 needs a key: pass settings.signingKey (a private key, PEM or JWK) to issue tokens, or settings.verifyingKey / settings.jwkUrl to only verify them. "npx restjwt keygen --alg ES256" makes a key pair.',
    );
  });

  it('refuses a key of the wrong kind, curve or size for the algorithm', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => service({ algorithm: 'ES256', signingKey: ec })).toThrow(/not EC on prime256v1/);
    expect(() => service({ algorithm: 'RS256', signingKey: ec })).toThrow(/not RSA/);
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => service({ algorithm: 'RS256', signingKey: small })).toThrow(/2048/);
    expect(() => service({ algorithm: 'EdDSA', signingKey: 'not a pem' })).toThrow(ConfigurationError);
  });

  it('refuses a JWK marked for encryption, for other key_ops, or for another algorithm', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const jwk = await exportJWK(publicKey);
    for (const bad of [{ ...jwk, use: 'enc' }, { ...jwk, key_ops: ['encrypt'] }, { ...jwk, alg: 'ES384' }]) {
      expect(() => service({ algorithm: 'ES256', verifyingKey: JSON.stringify(bad) })).toThrow(ConfigurationError);
    }
    expect(() => service({ algorithm: 'ES256', verifyingKey: JSON.stringify({ ...jwk, use: 'sig', alg: 'ES256', key_ops: ['verify'] }) })).not.toThrow();
  });

  it('a token signed with HS256 using the RSA public key as secret is refused (key confusion)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString();
    const rs = service({ algorithm: 'RS256', signingKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() });
    const forged = service({ algorithm: 'HS256', signingKey: pem });
    const token = forged.encode(forged.forUser('access', user));
    // The forger used exactly the public key the RS256 service publishes, and that service accepts its own tokens:
    // the refusal is the key-confusion rule, not a broken key.
    expect(pem).toBe(publicKey.export({ format: 'pem', type: 'spki' }).toString());
    expect(rs.decodeLocal(rs.encode(rs.forUser('access', user)), 'access').payload.user_id).toBe(user.id);
    expect(() => rs.decodeLocal(token, 'access')).toThrow(TokenError);
  });
});

describe('token classes', () => {
  it('access copies claims from refresh except type, exp and jti', () => {
    const tokens = service({ signingKey: SECRET, checkRevokeToken: true });
    const refresh = tokens.forUser('refresh', user, { role: 'admin' });
    const access = tokens.accessFrom(refresh);
    expect(Object.keys(access.payload)).toEqual(['token_type', 'exp', 'iat', 'jti', 'user_id', 'hash_password', 'role']);
    expect(access.payload.hash_password).toBe('v1');
    expect(access.payload.jti).not.toBe(refresh.payload.jti);
  });

  it('respects renamed claims', () => {
    const tokens = service({ signingKey: SECRET, userIdClaim: 'sub', tokenTypeClaim: 'typ', jtiClaim: 'id', userIdField: 'username' });
    const t = tokens.forUser('access', user);
    expect(t.payload).toMatchObject({ typ: 'access', sub: 'alice' });
    expect(typeof t.payload.id).toBe('string');
    expect(tokens.decodeLocal(tokens.encode(t), 'access').payload.sub).toBe('alice');
  });

  it('exp is checked with leeway against the injected clock', () => {
    let now = 1_800_000_000_000;
    const tokens = service({ signingKey: SECRET, leeway: 10 }, () => now);
    const raw = tokens.encode(tokens.forUser('access', user));
    now += 305_000;
    expect(tokens.decodeLocal(raw, 'access').kind).toBe('access');
    now += 10_000;
    expect(() => tokens.decodeLocal(raw, 'access')).toThrow(TokenError);
  });

  it('the signing kid appears in the header', () => {
    const tokens = service({ signingKey: SECRET, signingKeyId: 'k1' });
    const raw = tokens.encode(tokens.forUser('access', user));
    expect(JSON.parse(Buffer.from(raw.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'k1' });
  });
});
