/**
 * Loading a package that only one feature needs (a database driver, the password hasher, social sign-in's OAuth
 * clients). restjwt's packages declare them as optional peers, so an app installs only the pieces it uses; when a
 * used feature's package is missing, the app stops at once with the install command instead of a module-resolution
 * stack trace from deep inside restjwt.
 */
import { ConfigurationError } from './errors.js';

/** A package that a feature in use needs is not installed. {@link MissingPackageError.packages} names it. */
export class MissingPackageError extends ConfigurationError {
  constructor(
    /** What needs the packages, as the message says it: `the PostgreSQL store`, `password hashing`. */
    readonly feature: string,
    /** The packages to install, in the order `npm i` takes them. */
    readonly packages: readonly string[],
  ) {
    const names = packages.map((p) => `"${p}"`);
    const list = names.length === 1 ? `the ${names[0]} package` : `the ${names.slice(0, -1).join(', ')} and ${names.at(-1)} packages`;
    super(`restjwt: ${feature} needs ${list}: npm i ${packages.join(' ')}`);
    this.name = 'MissingPackageError';
  }
}

/**
 * True when `err` says that one of `packages` itself cannot be found — not a file or a dependency missing inside an
 * installed package, which is a broken install and keeps its own error.
 */
function isMissing(err: unknown, packages: readonly string[]): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  // Node names the bare specifier it could not resolve: "Cannot find package 'pg' imported from …" (import) or
  // "Cannot find module 'pg'" (require).
  return packages.some((p) => err.message.includes(`'${p}'`));
}

/**
 * Runs `load` (a dynamic `import()` written at the call site, so that it resolves from the calling package) and
 * turns "not installed" into a {@link MissingPackageError} naming `packages`.
 *
 * @example
 * const { Pool } = await importOptional(() => import('some-driver'), 'the example store', ['some-driver']);
 */
export async function importOptional<T>(load: () => Promise<T>, feature: string, packages: readonly string[]): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (isMissing(err, packages)) throw new MissingPackageError(feature, packages);
    throw err;
  }
}

/** The synchronous form of {@link importOptional}, for a CommonJS package loaded with `createRequire`. */
export function requireOptional<T>(load: () => T, feature: string, packages: readonly string[]): T {
  try {
    return load();
  } catch (err) {
    if (isMissing(err, packages)) throw new MissingPackageError(feature, packages);
    throw err;
  }
}
