import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { exportJWK } from 'jose';
import { jwtVerify } from 'jose';
import { ConfigurationError, MissingKeyError, TokenError, type Algorithm } from '@restjwt/core';
import type { Primitive } from '../../packages/core/src/jws/primitives.js';
import { publicJwks } from '../../packages/core/src/keys/jwks.js';
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

function serviceOn(settings: Record<string, unknown>, primitive: Primitive, clock = Date.now): TokenService {
  const s = resolveSettings(settings).settings;
  return new TokenService(s, buildKeyset(s, [], { primitive }), clock);
}

function service(settings: Record<string, unknown>, clock = Date.now): TokenService {
  return serviceOn(settings, 'node', clock);
}

describe('every algorithm signs and verifies, and jose agrees', () => {
  it.each(ALL)('%s', async (alg) => {
    const pair = pairFor(alg);
    const signingKey = pair ? pair.priv.export({ format: 'pem', type: 'pkcs8' }).toString() : SECRET;
    const tokens = service({ algorithm: alg, signingKey });
    const token = tokens.encodeLocal(tokens.forUser('refresh', user));
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

// The web path reads what a key is from its text (no crypto): the same refusals, as synchronously.
describe.each(['node', 'web'] as const)('key checks at start-up (%s primitive)', (primitive) => {
  const service = (settings: Record<string, unknown>): TokenService => serviceOn(settings, primitive);
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
});

describe('key confusion', () => {
  it('a token signed with HS256 using the RSA public key as secret is refused (key confusion)', () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = createPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString();
    const rs = service({ algorithm: 'RS256', signingKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() });
    const forged = service({ algorithm: 'HS256', signingKey: pem });
    const token = forged.encodeLocal(forged.forUser('access', user));
    // The forger used exactly the public key the RS256 service publishes, and that service accepts its own tokens:
    // the refusal is the key-confusion rule, not a broken key.
    expect(pem).toBe(publicKey.export({ format: 'pem', type: 'spki' }).toString());
    expect(rs.decodeLocal(rs.encodeLocal(rs.forUser('access', user)), 'access').payload.user_id).toBe(user.id);
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
    expect(tokens.decodeLocal(tokens.encodeLocal(t), 'access').payload.sub).toBe('alice');
  });

  it('exp is checked with leeway against the injected clock', () => {
    let now = 1_800_000_000_000;
    const tokens = service({ signingKey: SECRET, leeway: 10 }, () => now);
    const raw = tokens.encodeLocal(tokens.forUser('access', user));
    now += 305_000;
    expect(tokens.decodeLocal(raw, 'access').kind).toBe('access');
    now += 10_000;
    expect(() => tokens.decodeLocal(raw, 'access')).toThrow(TokenError);
  });

  it('the signing kid appears in the header', () => {
    const tokens = service({ signingKey: SECRET, signingKeyId: 'k1' });
    const raw = tokens.encodeLocal(tokens.forUser('access', user));
    expect(JSON.parse(Buffer.from(raw.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'k1' });
  });
});

describe('the web (WebCrypto) path: the same keys, kids, JWKS and tokens as node:crypto', () => {
  it.each(ALL)('%s', async (alg) => {
    const pair = pairFor(alg);
    const texts = pair
      ? [pair.priv.export({ format: 'pem', type: 'pkcs8' }).toString(), JSON.stringify(pair.priv.export({ format: 'jwk' }))]
      : [SECRET];
    for (const signingKey of texts) {
      const s = resolveSettings({ algorithm: alg, signingKey }).settings;
      const nodeKeys = buildKeyset(s, [], { primitive: 'node' });
      const webKeys = buildKeyset(s, [], { primitive: 'web' });
      expect(webKeys.primitive).toBe('web');
      await webKeys.ready();
      // Default kids (RFC 7638 thumbprints) and the published document: the same string on both paths.
      expect(webKeys.signing?.kid).toBe(nodeKeys.signing?.kid);
      expect(webKeys.verifying.map((k) => k.kid)).toEqual(nodeKeys.verifying.map((k) => k.kid));
      expect(JSON.stringify(publicJwks(webKeys))).toBe(JSON.stringify(publicJwks(nodeKeys)));
      if (pair) expect(publicJwks(webKeys).keys).toHaveLength(1);
      const web = new TokenService(s, webKeys);
      const node = new TokenService(s, nodeKeys);
      // Signed on one path, verified on the other; the web path answers promises, the node path values.
      const webToken = web.encode(web.forUser('access', user));
      expect(webToken).toBeInstanceOf(Promise);
      const raw = await webToken;
      expect(node.decodeLocal(raw, 'access').payload.user_id).toBe('7');
      const nodeRaw = node.encodeLocal(node.forUser('refresh', user));
      const decoded = web.decode(nodeRaw, 'refresh');
      expect(decoded).toBeInstanceOf(Promise);
      expect((await decoded).payload.user_id).toBe('7');
      // HMAC and Ed25519 signatures are deterministic: the same token.
      if (alg.startsWith('HS') || alg === 'EdDSA') expect(await web.encode({ kind: 'access', payload: { a: 1 } })).toBe(node.encodeLocal({ kind: 'access', payload: { a: 1 } }));
      await expect(web.decode(`${raw.slice(0, -2)}${raw.endsWith('A') ? 'B' : 'A'}`, 'access')).rejects.toThrow(TokenError);
      expect(() => web.decodeLocal(raw, 'access')).toThrow(ConfigurationError);
      expect(() => web.encodeLocal(web.forUser('access', user))).toThrow(ConfigurationError);
    }
  });

  it('a verify-only web keyset (public PEM, public JWK, or a private PEM it takes the public half of) accepts node tokens', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const node = service({ algorithm: 'ES256', signingKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() });
    const raw = node.encodeLocal(node.forUser('access', user));
    for (const verifyingKey of [
      publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      JSON.stringify(await exportJWK(publicKey)),
      privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    ]) {
      const web = serviceOn({ algorithm: 'ES256', verifyingKey }, 'web');
      expect(web.canSign).toBe(false);
      expect((await web.decode(raw, 'access')).payload.user_id).toBe('7');
    }
  });

  it('the first verification awaits the import, later ones reuse it', async () => {
    const s = resolveSettings({ signingKey: SECRET }).settings;
    const keys = buildKeyset(s, [], { primitive: 'web' });
    const web = new TokenService(s, keys);
    const raw = await web.encode(web.forUser('access', user));
    expect(keys.ready()).toBe(keys.ready());
    const key = keys.primitive === 'web' ? keys.verifying[0]!.key : undefined;
    expect(key?.cryptoKey()).toBe(key?.cryptoKey());
    expect((await web.decode(raw, 'access')).payload.user_id).toBe('7');
    // A cached token is answered without a promise on both paths.
    expect(web.decode(raw, 'access')).not.toBeInstanceOf(Promise);
  });

  it('refuses PEM forms WebCrypto cannot read, saying how to convert them', () => {
    const sec1 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ format: 'pem', type: 'sec1' }).toString();
    expect(() => serviceOn({ algorithm: 'ES256', signingKey: sec1 }, 'web')).toThrow(/PKCS #8.*openssl pkcs8 -topk8/);
    expect(() => serviceOn({ algorithm: 'ES256', signingKey: sec1 }, 'node')).not.toThrow();
  });

  it('publicJwks of a web keyset before ready() says what to do', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const s = resolveSettings({ algorithm: 'EdDSA', signingKey: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }).settings;
    expect(() => publicJwks(buildKeyset(s, [], { primitive: 'web' }))).toThrow(/await keyset.ready\(\)/);
  });
});
