/**
 * A software WebAuthn authenticator for the tests: what a browser and a security key or platform passkey return to
 * the page, built byte by byte so that the server's verification (@simplewebauthn/server) is exercised for real. An
 * ES256 key pair per credential (node:crypto); registration answers with `none` attestation (authenticator data with
 * the UP, UV and AT flags, the attested credential data, the COSE key in CBOR); assertions sign authenticator data
 * and the client data hash; the signature counter moves forward on each use. Every field can be bent to test a
 * refusal: origin, RP id, challenge, flags, counter. Test code only.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
/** Backup eligible and backed up: a synced passkey (`multiDevice`). */
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest();

interface Credential {
  id: Buffer;
  privateKey: KeyObject;
  publicKey: KeyObject;
  counter: number;
  userHandle: string;
}

/** What a test may change in what the authenticator and the browser report. */
export interface Bend {
  origin?: string;
  rpId?: string;
  challenge?: string;
  /** Clear user verification (UV), or user presence (UP). */
  noUv?: boolean;
  noUp?: boolean;
  /** The signature counter to report (default: one more than the last). */
  counter?: number;
  /** Sign with another key than the registered one. */
  wrongKey?: boolean;
  /** The user handle to report (discoverable sign-in). */
  userHandle?: string;
  type?: string;
}

export class SoftAuthenticator {
  private readonly credentials: Credential[] = [];

  constructor(
    /** The origin the "browser" reports. */
    readonly origin: string,
    /** `singleDevice` (a security key, `hwk`) or `multiDevice` (a synced passkey, `swk`). */
    readonly deviceType: 'singleDevice' | 'multiDevice' = 'singleDevice',
  ) {}

  /** The credential ids it holds (base64url). */
  get ids(): string[] {
    return this.credentials.map((c) => b64url(c.id));
  }

  /** Another authenticator holding copies of these keys and counters: a clone. */
  clone(): SoftAuthenticator {
    const copy = new SoftAuthenticator(this.origin, this.deviceType);
    for (const c of this.credentials) copy.credentials.push({ ...c });
    return copy;
  }

  /**
   * `navigator.credentials.create(options)`: a new credential, answered with `none` attestation; with `again`, the
   * last credential attested once more (what a second registration of the same authenticator would send).
   */
  register(options: PublicKeyCredentialCreationOptionsJSON, bend: Bend & { again?: boolean } = {}): RegistrationResponseJSON {
    const last = this.credentials.at(-1);
    let credential: Credential;
    if (bend.again === true && last !== undefined) credential = last;
    else {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      credential = { id: randomBytes(16), privateKey, publicKey, counter: bend.counter ?? 0, userHandle: options.user.id };
      this.credentials.push(credential);
    }
    const { id, publicKey, counter } = credential;
    const jwk = publicKey.export({ format: 'jwk' });
    // COSE_Key (RFC 9053): kty EC2, alg ES256, crv P-256, x, y.
    const cose = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, new Uint8Array(Buffer.from(jwk.x as string, 'base64url'))],
      [-3, new Uint8Array(Buffer.from(jwk.y as string, 'base64url'))],
    ]);
    const coseBytes = Buffer.from(isoCBOR.encode(cose));
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const attested = Buffer.concat([Buffer.alloc(16) /* AAGUID: none */, idLength, id, coseBytes]);
    const authData = this.authData(bend.rpId ?? options.rp.id ?? '', this.flags(bend) | FLAG_AT, counter, attested);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Map<string, string> | Uint8Array>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', new Uint8Array(authData)],
      ]),
    );
    const clientDataJSON = this.clientData(bend.type ?? 'webauthn.create', bend.challenge ?? options.challenge, bend.origin);
    return {
      id: b64url(id),
      rawId: b64url(id),
      type: 'public-key',
      response: { clientDataJSON, attestationObject: b64url(attestationObject), transports: this.deviceType === 'multiDevice' ? ['internal', 'hybrid'] : ['usb'] },
      clientExtensionResults: {},
    };
  }

  /**
   * `navigator.credentials.get(options)`: an assertion by the first credential the options allow (any of its own
   * for discoverable options), its counter one step further unless bent.
   */
  assert(options: PublicKeyCredentialRequestOptionsJSON, bend: Bend & { credentialId?: string } = {}): AuthenticationResponseJSON {
    const allowed = options.allowCredentials?.map((c) => c.id);
    const credential = this.credentials.find((c) => (bend.credentialId ?? allowed?.find((a) => a === b64url(c.id)) ?? b64url(c.id)) === b64url(c.id));
    if (credential === undefined) throw new Error('no credential of this authenticator is allowed');
    credential.counter = bend.counter ?? credential.counter + 1;
    const authData = this.authData(bend.rpId ?? options.rpId ?? '', this.flags(bend), credential.counter);
    const clientDataJSON = this.clientData(bend.type ?? 'webauthn.get', bend.challenge ?? options.challenge, bend.origin);
    const key = bend.wrongKey === true ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey : credential.privateKey;
    // ES256 over authenticatorData ‖ SHA-256(clientDataJSON), DER-encoded as authenticators send it.
    const signature = sign('sha256', Buffer.concat([authData, sha256(Buffer.from(clientDataJSON, 'base64url'))]), key);
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: 'public-key',
      response: { clientDataJSON, authenticatorData: b64url(authData), signature: b64url(signature), userHandle: bend.userHandle ?? credential.userHandle },
      clientExtensionResults: {},
    };
  }

  private flags(bend: Bend): number {
    let flags = 0;
    if (bend.noUp !== true) flags |= FLAG_UP;
    if (bend.noUv !== true) flags |= FLAG_UV;
    if (this.deviceType === 'multiDevice') flags |= FLAG_BE | FLAG_BS;
    return flags;
  }

  /** rpIdHash ‖ flags ‖ signCount (big-endian) [‖ attested credential data]. */
  private authData(rpId: string, flags: number, counter: number, attested?: Buffer): Buffer {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, ...(attested === undefined ? [] : [attested])]);
  }

  private clientData(type: string, challenge: string, origin = this.origin): string {
    return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false })).toString('base64url');
  }
}
