import { InvalidArgumentError, Option } from 'commander';
import { ACCEPTED_DATABASE_URLS, DEFAULT_DATABASE_URL } from '../stores/open-store.js';

/** `--database URL`, shared by every command that opens a store; falls back to `RESTJWT_DATABASE`, then the default. */
export function databaseOption(): Option {
  return new Option('--database <url>', `database URL: ${ACCEPTED_DATABASE_URLS}`)
    .env('RESTJWT_DATABASE')
    .default(DEFAULT_DATABASE_URL);
}

/** `--redis URL`: the shared Redis revocation cache for several instances; falls back to `REDIS_URL`. */
export function redisOption(): Option {
  return new Option(
    '--redis <url>',
    'Redis URL (redis://host:6379) of the revocation cache shared by several instances; checks fail closed (503) while it is down',
  ).env('REDIS_URL');
}

/** `--password-stdin`, shared by the commands that set a password. */
export function passwordStdinOption(): Option {
  return new Option('--password-stdin', 'read the password from stdin (one trailing newline is removed) instead of prompting');
}

/** A commander argument parser for a whole number in `[min, max]`. */
export function integerIn(min: number, max: number, what: string): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${what} must be a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}
