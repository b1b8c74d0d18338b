/**
 * The secrets at rest: TOTP shared secrets are encrypted (AES-256-GCM) before the store sees them, and recovery codes
 * are kept as keyed hashes; both keys come from the one `encryptionKey` the operator gives. A copy of the database
 * alone therefore holds no usable authenticator secret and no recovery code.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { ConfigurationError } from '@restjwt/core';

/** The smallest key: 256 bits, AES-256's own size. */
const MIN_KEY_BYTES = 32;
/** A passphrase is accepted from this length on (and then stretched by HKDF, not by a password hash: see below). */
const MIN_PASSPHRASE_CHARS = 32;
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** HKDF's salt: fixed, so that the same `encryptionKey` always gives the same keys (it is a domain label, not a secret). */
const SALT = Buffer.from('restjwt-mfa/v1', 'utf8');

/** What the operator is told when the key is missing or too short: where it goes and how to make one. */
const HOW_TO_MAKE_ONE =
  'Give @restjwt/mfa an encryptionKey of at least 32 random bytes, as hex or base64 (e.g. `openssl rand -base64 32`; ' +
  'restjwt serve reads RESTJWT_MFA_KEY or the config\'s "mfa.encryptionKey", and creates one in its data directory when neither is set), ' +
  `or a passphrase of at least ${MIN_PASSPHRASE_CHARS} characters. Keep it: without it no authenticator app secret can be read back.`;

/** The subkeys, one per job, so that no key is ever used for two things. */
export type KeyPurpose = 'totp-secret' | 'recovery-code';

/**
 * The operator's key turned into bytes: hex digits (64+), or else base64/base64url of 32+ bytes, or else a passphrase of
 * 32+ characters (its UTF-8 bytes). Checked in that order, so the same text always means the same key.
 *
 * @throws ConfigurationError when the key is missing or too short.
 */
export function keyMaterial(encryptionKey: string | undefined): Buffer {
  const text = encryptionKey?.trim() ?? '';
  if (text === '') throw new ConfigurationError(`@restjwt/mfa has no encryptionKey. ${HOW_TO_MAKE_ONE}`);
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) {
    // Hex is read as hex only: 62 digits are 31 bytes, too short, not some longer base64 or a passphrase.
    if (text.length >= MIN_KEY_BYTES * 2) return Buffer.from(text, 'hex');
    throw new ConfigurationError(`@restjwt/mfa's encryptionKey is too short (${text.length / 2} bytes of hex). ${HOW_TO_MAKE_ONE}`);
  }
  if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    // Canonical only: a passphrase that merely uses base64's letters is not silently decoded into fewer bytes.
    const canonical = bytes.toString('base64').replace(/=+$/, '') === text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
    if (canonical && bytes.length >= MIN_KEY_BYTES) return bytes;
  }
  // HKDF, not scrypt or argon2: the key is read at every start-up, and 32 characters is the bar for a passphrase
  // chosen as a key (generated, not remembered); a short human password is refused rather than stretched.
  if (text.length >= MIN_PASSPHRASE_CHARS) return Buffer.from(text, 'utf8');
  throw new ConfigurationError(`@restjwt/mfa's encryptionKey is too short (${text.length} characters). ${HOW_TO_MAKE_ONE}`);
}

/** The subkeys derived from the operator's key, and the sealing of TOTP secrets with one of them. */
export class MfaKeyring {
  private readonly material: Buffer;
  private readonly sealing: Buffer;

  /** @throws ConfigurationError when the key is missing or too short (see {@link keyMaterial}). */
  constructor(encryptionKey: string | undefined) {
    this.material = keyMaterial(encryptionKey);
    this.sealing = this.subkey('totp-secret');
  }

  /** A 256-bit key for one job, derived with HKDF-SHA256: distinct jobs never share a key. */
  subkey(purpose: KeyPurpose): Buffer {
    return Buffer.from(hkdfSync('sha256', this.material, SALT, `restjwt-mfa ${purpose}`, 32));
  }

  /**
   * Encrypts `plaintext` for the store: `v1.<iv>.<ciphertext+tag>` (base64url). `context` (the user's id) is
   * authenticated with it, so a sealed secret copied into another user's row does not open there.
   */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.sealing, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`;
  }

  /**
   * Decrypts what {@link seal} made for the same `context`.
   *
   * @throws Error when it was sealed with another key or context, or was altered: the message says what to do.
   */
  open(sealed: string, context: string): string {
    const [version, iv, body] = sealed.split('.');
    const ivBytes = Buffer.from(iv ?? '', 'base64url');
    const bytes = Buffer.from(body ?? '', 'base64url');
    if (version !== VERSION || ivBytes.length !== IV_BYTES || bytes.length <= TAG_BYTES) {
      throw new Error('A stored authenticator secret is not in the v1 format of @restjwt/mfa. Reset the user\'s second factors so that they enrol again.');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealing, ivBytes);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error(
        'A stored authenticator secret does not decrypt with the current mfa encryptionKey: the key changed. Restore the previous ' +
          'key (RESTJWT_MFA_KEY, "mfa.encryptionKey" or the generated mfa-key file), or reset the user\'s second factors.',
      );
    }
  }
}
