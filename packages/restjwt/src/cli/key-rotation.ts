/**
 * Rotation of the generated HMAC signing key kept in the data directory: the current key moves to
 * `retired-keys.json`, where it keeps verifying (never signing) until every token it signed has expired.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigurationError, type Algorithm } from '@restjwt/core';

/** Name of the generated signing key file in the data directory. */
export const SIGNING_KEY_FILE = 'signing-key';
export const RETIRED_KEYS_FILE = 'retired-keys.json';

/** A key that no longer signs but still verifies. */
export interface RetiredKey {
  alg: Algorithm;
  key: string;
  kid: string;
  /** ISO time the key stopped signing. */
  retiredAt: string;
}

/** A short, stable key id for a secret: a hash prefix, which reveals nothing usable about the key. */
export function kidForSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('base64url').slice(0, 16);
}

/** Retired keys from the data directory (none when the file does not exist). */
export async function readRetiredKeys(dir: string): Promise<RetiredKey[]> {
  let text: string;
  try {
    text = await readFile(join(dir, RETIRED_KEYS_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  try {
    const list = JSON.parse(text) as RetiredKey[];
    if (!Array.isArray(list)) throw new Error('not a list');
    return list;
  } catch {
    throw new ConfigurationError(`${join(dir, RETIRED_KEYS_FILE)} is not valid JSON. Restore it from a backup or delete it (tokens signed with retired keys then stop verifying).`);
  }
}

/** Retired keys still needed: retired less than `keepSeconds` ago (the longest token lifetime). */
export function liveRetiredKeys(keys: readonly RetiredKey[], keepSeconds: number, now = Date.now()): RetiredKey[] {
  return keys.filter((k) => now - Date.parse(k.retiredAt) < keepSeconds * 1000);
}

/** Writes a file atomically with mode 0600 (temp file + rename), so a crash never leaves half a key. */
async function writeSecret(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, path);
}

/**
 * Retires the current generated key and creates a new one. Returns the old and new kids.
 * @param keepSeconds how long retired keys are kept (older ones are dropped now).
 */
export async function rotateGeneratedKey(dir: string, alg: Algorithm, keepSeconds: number): Promise<{ oldKid: string; newKid: string; dropped: number }> {
  const path = join(dir, SIGNING_KEY_FILE);
  let current: string;
  try {
    current = (await readFile(path, 'utf8')).trim();
  } catch {
    throw new ConfigurationError(`There is no generated signing key at ${path}. Start "restjwt serve" once to create it, or rotate a configured key by moving it to additionalVerifyingKeys.`);
  }
  const retired = await readRetiredKeys(dir);
  const kept = liveRetiredKeys(retired, keepSeconds);
  const oldKid = kidForSecret(current);
  kept.unshift({ alg, key: current, kid: oldKid, retiredAt: new Date().toISOString() });
  const next = randomBytes(64).toString('base64url');
  // Retired list first: if we stop between the two writes, the old key still verifies and still signs.
  await writeSecret(join(dir, RETIRED_KEYS_FILE), `${JSON.stringify(kept, null, 2)}\n`);
  await writeSecret(path, `${next}\n`);
  return { oldKid, newKid: kidForSecret(next), dropped: retired.length + 1 - kept.length };
}
