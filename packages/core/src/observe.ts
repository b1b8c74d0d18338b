/**
 * What the core tells an observer (metrics, tracing) about the requests it answers: which endpoint, with which status
 * and error code, in how long; how each guarded request was decided; and the structured events it logs. Never a
 * token, a password, a username or a client address: labels made from these stay few whatever the traffic
 * (`@restjwt/metrics` turns them into Prometheus series).
 */
import type { EndpointName } from './endpoints.js';
import type { LogEvent } from './log-event.js';

/** One answer of a token endpoint. */
export interface EndpointObservation {
  endpoint: EndpointName;
  status: number;
  /**
   * The error body's `code` (`token_not_valid`, `no_active_account`, …); for a 2xx answer null, or `mfa_required`
   * when a login answered its second step instead of tokens.
   */
  code: string | null;
  /** From the body being handed to the core to the answer being ready. */
  seconds: number;
}

/** How one guarded request (`authorize`, an adapter's guard) was decided. */
export interface AuthenticationObservation {
  /** `authenticated`, `anonymous` (allowed without a token), or the refusal's error code (`token_not_valid`, …). */
  outcome: string;
  /** 200 when allowed, else the refusal's status (401, 403, 503). */
  status: number;
}

/**
 * Receives observations as they happen. Every method is optional and called synchronously on the request's path, so
 * it must be cheap (count, observe a histogram) and must not throw: what it throws is caught and dropped, so that an
 * observer can never change an answer. Several observers (metrics and tracing) go to one `createRestJwt` through
 * {@link combineObservers}.
 */
export interface Observer {
  endpoint?(observation: EndpointObservation): void;
  authentication?(observation: AuthenticationObservation): void;
  /** Every structured event the core logs (see `RestJwtOptions.log`): logins, refusals, reuse detections, … */
  event?(event: LogEvent): void;
  /**
   * Wraps the work of one token endpoint, for tracing: `run` answers the request (store calls included) and resolves
   * with what {@link Observer.endpoint} is told, so a hook can open a span, make it active around `run` so that the
   * store's spans nest under it, and close it with the answer's status. `run` gives the observation, never the
   * answer (which carries tokens).
   *
   * Call `run` once, synchronously or later, and return a promise that settles after it. The answer never depends on
   * the hook: it is sent as soon as `run` resolves, whatever the hook does after; a hook that throws or settles
   * without calling `run` is dropped and the request answered without it. `run` rejects only on a bug (the answer is
   * already an error response otherwise).
   */
  aroundEndpoint?(endpoint: EndpointName, run: () => Promise<EndpointObservation>): Promise<unknown>;
}

/** Calls `fn` and drops what it throws (an observer never changes an answer). */
export function notify(fn: () => void): void {
  try {
    fn();
  } catch {
    // Dropped by design: see Observer.
  }
}

/**
 * Runs `run` inside `observer.aroundEndpoint` (see there) and settles as `run` does; what the hook throws or rejects
 * with is dropped, and a hook that settles without calling `run` gets it called after.
 */
export function runAroundEndpoint(observer: Observer, endpoint: EndpointName, run: () => Promise<EndpointObservation>): Promise<EndpointObservation> {
  let ran: Promise<EndpointObservation> | undefined;
  let later: ((answer: Promise<EndpointObservation>) => void) | undefined;
  const once = (): Promise<EndpointObservation> => {
    if (ran === undefined) {
      ran = run();
      later?.(ran);
    }
    return ran;
  };
  let hooked: unknown;
  try {
    hooked = observer.aroundEndpoint?.(endpoint, once);
  } catch {
    // Dropped by design (see Observer); answered below.
  }
  if (ran !== undefined) {
    // The usual case, `run` called at once (a span started): the answer itself, the hook's rejection dropped.
    if (isThenable(hooked)) hooked.then(undefined, () => {});
    return ran;
  }
  // An asynchronous hook: answered as soon as it calls `run`, or once it settled without calling it.
  const settled = (): void => void once();
  return new Promise((resolve, reject) => {
    later = (answer) => answer.then(resolve, reject);
    Promise.resolve(hooked).then(settled, settled);
  });
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/**
 * One observer that tells each of `observers` everything, in order: for metrics and tracing together,
 * `createRestJwt({ observer: combineObservers(metrics.observer, tracing.observer) })`. Their `aroundEndpoint` hooks
 * nest, the first outermost. What one of them throws is dropped without keeping the others from being told.
 * `undefined`s are skipped (an optional observer passes as it is); which observer has which method is read once, here.
 */
export function combineObservers(...observers: readonly (Observer | undefined)[]): Observer {
  const present = observers.filter((o): o is Observer => o !== undefined);
  if (present.length === 1 && present[0] !== undefined) return present[0];
  const combined: Observer = {};
  const endpoint = present.filter((o) => o.endpoint !== undefined);
  if (endpoint.length > 0) combined.endpoint = (observation) => endpoint.forEach((o) => notify(() => o.endpoint?.(observation)));
  const authentication = present.filter((o) => o.authentication !== undefined);
  if (authentication.length > 0) combined.authentication = (observation) => authentication.forEach((o) => notify(() => o.authentication?.(observation)));
  const event = present.filter((o) => o.event !== undefined);
  if (event.length > 0) combined.event = (e) => event.forEach((o) => notify(() => o.event?.(e)));
  const around = present.filter((o) => o.aroundEndpoint !== undefined);
  if (around.length > 0) {
    combined.aroundEndpoint = (name, run) =>
      around.reduceRight<() => Promise<EndpointObservation>>((inner, o) => () => runAroundEndpoint(o, name, inner), run)();
  }
  return combined;
}
