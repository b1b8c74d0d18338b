import { describe, expect, it } from 'vitest';
import { createMemoryStore, MemoryStore, openMemoryStore } from '@restjwt/core/memory';
import { makeToken, runStoreContract } from './contract.js';

runStoreContract('memory', () => openMemoryStore());

describe('MemoryStore', () => {
  it('openMemoryStore returns independent stores', async () => {
    const a = await openMemoryStore();
    const b = await openMemoryStore();
    expect(a).toBeInstanceOf(MemoryStore);
    await a.recordOutstanding(makeToken());
    expect(await b.countTokens()).toEqual({ outstanding: 0, blacklisted: 0 });
  });

  it('createMemoryStore, the deprecated name, still returns a working store', async () => {
    const a = createMemoryStore();
    expect(a).toBeInstanceOf(MemoryStore);
    await a.recordOutstanding(makeToken());
    expect(await a.countTokens()).toEqual({ outstanding: 1, blacklisted: 0 });
  });
});
