/**
 * The store wrapper that the metrics and the tracing share: a proxy over a store whose methods are each replaced by a
 * wrapper made once per method, the capabilities (and everything that is not a method) seen as they are.
 */
import { CAPABILITY_METHODS } from '@restjwt/core/store-kit';

/** A store method, called with the store as `this`. */
export type StoreMethod = (...args: unknown[]) => unknown;

/**
 * Passed through unwrapped: the immediate lookups (`findUserNow`, a cached row in a fraction of a microsecond), where
 * a timer or a span would cost more than the call.
 */
const UNWRAPPED: ReadonlySet<string> = new Set(CAPABILITY_METHODS.immediateUsers);

/** `store` with each method `name` replaced by `wrap(name, method)`, the immediate lookups excepted. */
export function wrapStoreMethods<S extends object>(store: S, wrap: (name: string, method: StoreMethod) => StoreMethod): S {
  const wrappers = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || prop === 'constructor') return value;
      let wrapper = wrappers.get(prop);
      if (wrapper === undefined) {
        // Bound to the store itself either way, so that its calls of its own methods are not wrapped again.
        const method = (value as StoreMethod).bind(target);
        wrapper = UNWRAPPED.has(prop) ? method : wrap(prop, method);
        wrappers.set(prop, wrapper);
      }
      return wrapper;
    },
  });
}
