import { InvalidArgumentError, Option } from 'commander';
import { ACCEPTED_DATABASE_URLS, DEFAULT_DATABASE_URL } from '../stores/open-store.js';
import { CliError } from './errors.js';

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

const TRUE_WORDS = ['1', 'true', 'yes', 'on'];
const FALSE_WORDS = ['0', 'false', 'no', 'off'];

/**
 * A yes/no environment variable: `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off` (any case); `fallback` when unset
 * or empty. Read here rather than with commander's `Option.env()`, which sets a boolean option whenever the
 * variable exists, whatever its value (so `…=0` would switch it on).
 *
 * @throws CliError for any other value, naming the variable and the accepted values.
 */
export function booleanFromEnv(name: string, fallback: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (TRUE_WORDS.includes(raw)) return true;
  if (FALSE_WORDS.includes(raw)) return false;
  throw new CliError(`${name} must be 1 or 0 (or true/false, yes/no, on/off), not "${env[name] ?? ''}". Fix it or unset it.`);
}
