import { type Store, StoreUnavailableError } from '@restjwt/core';
import { openStore, type OpenStoreOptions } from '../stores/open-store.js';
import { CliError } from './errors.js';

/**
 * {@link openStore} for commands: a bad URL becomes a {@link CliError} (its message already lists the accepted
 * forms), so it is reported without a debugging hint. Redis is used only when `options.redisUrl` says so (commands
 * that take `--redis` pass it; the others do not need the revocation cache).
 */
export async function openCliStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  try {
    return await openStore(url, { ...options, redisUrl: options.redisUrl ?? null });
  } catch (error) {
    if (error instanceof StoreUnavailableError || !(error instanceof Error)) throw error;
    throw new CliError(error.message, { cause: error });
  }
}

/** Runs `fn` with the store of `url` and closes the store afterwards, whatever happens. */
export async function withStore<T>(url: string, fn: (store: Store) => Promise<T>, options?: OpenStoreOptions): Promise<T> {
  const store = await openCliStore(url, options);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
