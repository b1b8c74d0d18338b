import type { StoreCapability } from '@restjwt/core';

/** `store` seen without the declared capability `name`, as a custom store without it would be; the same data behind. */
export function withoutCapability<S extends { capabilities: readonly StoreCapability[] }>(store: S, name: StoreCapability): S {
  return new Proxy(store, {
    get: (target, prop) => {
      if (prop === 'capabilities') return target.capabilities.filter((c) => c !== name);
      const value = Reflect.get(target, prop) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
