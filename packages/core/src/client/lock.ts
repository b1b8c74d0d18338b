/** Runs `fn` while holding the named lock, across tabs where the platform allows. */
export type LockFn = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

const local = new Map<string, Promise<unknown>>();

/** A mutex shared by every client in this JavaScript realm (one tab, or one Node process). */
export const inProcessLock: LockFn = async (name, fn) => {
  const previous = local.get(name) ?? Promise.resolve();
  let release!: () => void;
  const current = new Promise<void>((r) => (release = r));
  const chained = previous.then(() => current);
  local.set(name, chained);
  await previous;
  try {
    return await fn();
  } finally {
    release();
    if (local.get(name) === chained) local.delete(name);
  }
};

interface LockManagerLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

/** The Web Locks API (every tab of the origin) when present, else the in-process mutex. */
export function defaultLock(): LockFn {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (locks !== undefined && typeof locks.request === 'function') {
    return (name, fn) => locks.request(name, fn);
  }
  return inProcessLock;
}
