/**
 * How the CLI fails: one line on stderr, `restjwt: <message>`, and exit status 1. Stack traces only with
 * `RESTJWT_DEBUG=1`, because operators need the next step, not the call chain.
 */
import { ConfigurationError, MissingKeyError, StoreUnavailableError, UserExistsError } from '@restjwt/core';

/** An error meant for the operator: its message already says what went wrong and what to do next. */
export class CliError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** True when `RESTJWT_DEBUG=1` asks for stack traces. */
export function debugEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.RESTJWT_DEBUG === '1';
}

/** Errors whose messages are written for operators and need no hint appended. */
function isExplained(error: Error): boolean {
  return (
    error instanceof CliError ||
    error instanceof ConfigurationError ||
    error instanceof UserExistsError ||
    error instanceof StoreUnavailableError
  );
}

/**
 * Writes `restjwt: <message>` to stderr (and the stack under `RESTJWT_DEBUG=1`) and returns the exit status to use.
 */
export function reportError(error: unknown, stderr: NodeJS.WritableStream = process.stderr): number {
  const debug = debugEnabled();
  if (error instanceof Error) {
    let message = error instanceof MissingKeyError ? missingKeyMessage(error) : error.message.trim() || error.name;
    if (!isExplained(error) && !debug) message += ' (run again with RESTJWT_DEBUG=1 to see where it happened)';
    // Some messages already start with the name (MissingPackageError's, written for library users too).
    stderr.write(message.startsWith('restjwt: ') ? `${message}\n` : `restjwt: ${message}\n`);
    if (debug && error.stack !== undefined) stderr.write(`${error.stack}\n`);
    if (debug && error.cause !== undefined) stderr.write(`caused by: ${describe(error.cause)}\n`);
  } else {
    stderr.write(`restjwt: ${describe(error)}\n`);
  }
  return 1;
}

/** The core's missing-key message names library options; on the command line the key comes from the environment. */
function missingKeyMessage(error: MissingKeyError): string {
  const alg = error.algorithm;
  if (alg.startsWith('HS')) {
    return `${alg} needs a signing key: set RESTJWT_SIGNING_KEY (or "signingKey" in the --config file) to a random secret; "npx restjwt keygen --alg ${alg}" prints one.`;
  }
  return (
    `${alg} needs a key: set RESTJWT_SIGNING_KEY (or "signingKey" in the --config file) to a private key, PEM or JWK, ` +
    `or set "verifyingKey" / "jwkUrl" in the config to only verify tokens. "npx restjwt keygen --alg ${alg}" makes a key pair.`
  );
}

function describe(value: unknown): string {
  if (value instanceof Error) return value.stack ?? `${value.name}: ${value.message}`;
  return String(value);
}
