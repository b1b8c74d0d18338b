import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair } from 'jose';
import { ALGORITHMS, type Algorithm } from '@restjwt/core';
import { ALGORITHM_SPECS } from '@restjwt/core/adapter-kit';

interface KeygenOptions {
  alg: Algorithm;
  kid?: string;
}

/** What `keygen` prints for an asymmetric algorithm. */
export interface GeneratedKeyPair {
  /** The private key, PKCS#8 PEM: the `signingKey` setting. */
  privatePem: string;
  /** The public key as a JWK, with `alg`, `use: "sig"` and `kid`: for a JWKS document. */
  publicJwk: Record<string, unknown>;
}

/**
 * Generates a key pair for `alg` (RSA keys are 2048 bits, EdDSA keys Ed25519). `kid` defaults to the public key's
 * RFC 7638 thumbprint, so the same key always gets the same id.
 */
export async function generateSigningKeyPair(alg: Exclude<Algorithm, 'HS256' | 'HS384' | 'HS512'>, kid?: string): Promise<GeneratedKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const thumbprint = await calculateJwkThumbprint(jwk);
  return {
    privatePem: await exportPKCS8(privateKey),
    publicJwk: { ...jwk, alg, use: 'sig', kid: kid ?? thumbprint },
  };
}

/** A random HMAC secret for `alg`: twice the hash size in random bytes, base64url. */
export function generateHmacSecret(alg: 'HS256' | 'HS384' | 'HS512'): string {
  const size = ALGORITHM_SPECS[alg].signatureLength ?? 64;
  return randomBytes(size * 2).toString('base64url');
}

function isHmac(alg: Algorithm): alg is 'HS256' | 'HS384' | 'HS512' {
  return ALGORITHM_SPECS[alg].family === 'hmac';
}

/** `restjwt keygen --alg ALG`: prints a new signing key (and, for asymmetric algorithms, its public JWK). */
export function keygenCommand(): Command {
  return new Command('keygen')
    .description('generate a signing key: a private key (PEM) and public JWK, or an HMAC secret')
    .addOption(new Option('--alg <alg>', 'the algorithm the key is for').choices(ALGORITHMS).makeOptionMandatory())
    .option('--kid <kid>', 'key id to put in the JWK (default: its RFC 7638 thumbprint)')
    .addHelpText(
      'after',
      '\nThe key goes to stdout, hints to stderr. Examples:\n' +
        '  restjwt keygen --alg ES256 > es256.txt\n' +
        '  RESTJWT_SIGNING_KEY="$(restjwt keygen --alg HS256)" restjwt serve\n',
    )
    .action(async (options: KeygenOptions) => {
      const { alg } = options;
      if (isHmac(alg)) {
        process.stdout.write(`${generateHmacSecret(alg)}\n`);
        process.stderr.write(`Use it as signingKey with "algorithm": "${alg}" (or in RESTJWT_SIGNING_KEY). Keep it secret.\n`);
        return;
      }
      const { privatePem, publicJwk } = await generateSigningKeyPair(alg, options.kid);
      process.stdout.write(privatePem.endsWith('\n') ? privatePem : `${privatePem}\n`);
      process.stdout.write(`${JSON.stringify(publicJwk, null, 2)}\n`);
      process.stderr.write(
        `The PEM is the private key: use it as signingKey with "algorithm": "${alg}" and "signingKeyId": ` +
          `${JSON.stringify(publicJwk.kid)}, and keep it secret. The JSON is the public JWK to publish in your JWKS.\n`,
      );
    });
}
