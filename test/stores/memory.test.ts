import { describe, expect, it } from 'vitest';
import { createMemoryStore, MemoryStore } from '../../src/stores/memory/index.js';
import { makeToken, runStoreContract } from './contract.js';

runStoreContract('memory', async () => createMemoryStore());

describe('MemoryStore', () => {
  it('createMemoryStore returns independent stores', async () => {
    const a = createMemoryStore();
    const b = createMemoryStore();
    expect(a).toBeInstanceOf(MemoryStore);
    await a.recordOutstanding(makeToken());
    expect(await b.countTokens()).toEqual({ outstanding: 0, blacklisted: 0 });
  });
});
