/**
 * `@restjwt/metrics`: restjwt's Prometheus metrics through prom-client, the client every Node service scraped by
 * Prometheus uses (text format, histograms, and `AggregatorRegistry` for node:cluster workers), rather than
 * OpenTelemetry metrics with an exporter: one small dependency and the exposition format operators expect.
 *
 * ```ts
 * const metrics = createPrometheusMetrics();
 * const restjwt = createRestJwt({ store: metrics.instrument(store), observer: metrics.observer });
 * // GET /metrics, on a port or route of its own: metrics.registry.metrics() with metrics.registry.contentType
 * ```
 *
 * Labels are endpoint names, error codes, outcomes and store method names: a fixed, small set whatever the traffic.
 * Never a username, a token or an address.
 *
 * OpenTelemetry spans come from the same package ({@link createTracing}, through `@opentelemetry/api`, which
 * prom-client depends on already): a no-op until the application registers an SDK. With the metrics,
 * `observer: combineObservers(metrics.observer, tracing.observer)` and `tracing.instrument(metrics.instrument(store))`.
 *
 * @packageDocumentation
 */
import { AggregatorRegistry, Counter, Gauge, Histogram, register, Registry } from 'prom-client';
import { StoreUnavailableError, type AuthenticationObservation, type EndpointObservation, type LogEvent, type Observer } from '@restjwt/core';
import { hasSessions } from '@restjwt/core/store-kit';
import { wrapStoreMethods } from './wrap-store.js';

export { AggregatorRegistry, Registry } from 'prom-client';
export { createTracing, type Tracing, type TracingOptions } from './tracing.js';

/** What {@link createPrometheusMetrics} takes. */
export interface PrometheusMetricsOptions {
  /** Where the metrics are registered. Default a new registry; `restjwt serve` uses prom-client's global one (cluster). */
  registry?: Registry;
  /** Prefix of every metric name. Default `restjwt_`. */
  prefix?: string;
  /**
   * The metrics of a node:cluster worker whose primary sums them (`new AggregatorRegistry().clusterMetrics()`): they go
   * to prom-client's global registry, and this worker answers the primary's requests for it. Default false.
   */
  clusterWorker?: boolean;
}

/** restjwt's metrics on one registry: the observer to give `createRestJwt`, and a store wrapper that times calls. */
export interface PrometheusMetrics {
  readonly registry: Registry;
  /** Give it to `createRestJwt({ observer })`. */
  readonly observer: Observer;
  /**
   * The store with each call timed (`<prefix>store_duration_seconds{operation}`) and its outages counted
   * (`<prefix>store_unavailable_total{operation}`); everything else, capabilities included, as the store itself. The
   * `immediateUsers` lookups (`findUserNow`: a cached row, a fraction of a microsecond) are passed through untimed:
   * timing one would cost more than the lookup. A store with sessions also gives `<prefix>live_sessions`, counted
   * (`countLiveSessions`) when the metrics are scraped.
   */
  instrument<S extends object>(store: S): S;
}

/** The token endpoints a login goes through, and what each counter counts. */
// `mfa` finishes a login that answered `mfa_required`: its outcomes are logins too.
const LOGIN_ENDPOINTS = new Set(['obtainPair', 'obtainSliding', 'mfa']);
const REFRESH_ENDPOINTS = new Set(['refresh', 'refreshSliding']);
const LOGOUT_ENDPOINTS = new Set(['blacklist', 'logoutAll']);

/** Latency buckets (seconds) from a cached authentication (~20 µs) to a slow password hash or store (~2 s). */
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** Creates the metrics on `options.registry` (a new one by default). */
export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  if (options.clusterWorker === true) {
    // prom-client adds the worker's answering listener when an AggregatorRegistry is made (idempotent).
    new AggregatorRegistry();
  }
  const registry = options.registry ?? (options.clusterWorker === true ? register : new Registry());
  const p = options.prefix ?? 'restjwt_';
  const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name: `${p}${name}`, help, labelNames, registers: [registry] });
  const logins = counter('logins_total', 'Logins (POST token/ and token/sliding/) by outcome: ok, or the error code (no_active_account, throttled, …).', ['outcome']);
  const refreshes = counter('refreshes_total', 'Refreshes (token/refresh/, token/sliding/refresh/) by outcome: ok, or the error code.', ['outcome']);
  const reuse = counter('refresh_reuse_detected_total', 'Rotated-out refresh tokens presented again (each revokes its family).');
  const familiesRevoked = counter('refresh_families_revoked_total', 'Token families revoked because one of their rotated-out tokens came back.');
  const logouts = counter('logouts_total', 'Logouts by kind (token: token/blacklist/, all: token/logout-all/) and outcome.', ['kind', 'outcome']);
  const verifications = counter('verifications_total', 'token/verify/ answers by outcome: valid, or the error code.', ['outcome']);
  // Counted on every guarded request: in a plain map, handed to prom-client when scraped (a Map update costs a guarded
  // request ~10 ns, where prom-client's labelled inc hashes its labels on each call, ~150 ns).
  const outcomes = new Map<string, number>();
  new Counter({
    name: `${p}authentications_total`,
    help: 'Guarded requests by outcome: authenticated, anonymous, or the refusal code.',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [outcome, n] of outcomes) this.inc({ outcome }, n);
    },
  });
  const storeUnavailable = counter('store_unavailable_total', 'Store calls that failed because the store was unavailable (answered 503).', ['operation']);
  const endpointSeconds = new Histogram({
    name: `${p}endpoint_duration_seconds`,
    help: 'Token endpoint answers, by endpoint and status: seconds from the request body to the answer.',
    labelNames: ['endpoint', 'status'],
    buckets: BUCKETS,
    registers: [registry],
  });
  const storeSeconds = new Histogram({
    name: `${p}store_duration_seconds`,
    help: 'Store calls by operation (the store method), in seconds.',
    labelNames: ['operation'],
    buckets: BUCKETS,
    registers: [registry],
  });

  const observer: Observer = {
    endpoint(o: EndpointObservation) {
      const outcome = o.code ?? (o.status < 400 ? 'ok' : String(o.status));
      if (LOGIN_ENDPOINTS.has(o.endpoint)) logins.inc({ outcome });
      else if (REFRESH_ENDPOINTS.has(o.endpoint)) refreshes.inc({ outcome });
      else if (LOGOUT_ENDPOINTS.has(o.endpoint)) logouts.inc({ kind: o.endpoint === 'logoutAll' ? 'all' : 'token', outcome });
      else if (o.endpoint === 'verify') verifications.inc({ outcome: outcome === 'ok' ? 'valid' : outcome });
      endpointSeconds.observe({ endpoint: o.endpoint, status: String(o.status) }, o.seconds);
    },
    authentication(o: AuthenticationObservation) {
      outcomes.set(o.outcome, (outcomes.get(o.outcome) ?? 0) + 1);
    },
    event(e: LogEvent) {
      if (e.event !== 'refresh_token_reuse') return;
      reuse.inc();
      if (typeof e.familyId === 'string') familiesRevoked.inc();
    },
  };

  let sessionsGauge = false;
  const liveSessions = (store: object): void => {
    if (sessionsGauge || !hasSessions(store)) return;
    sessionsGauge = true;
    new Gauge({
      name: `${p}live_sessions`,
      help: 'Sessions (refresh-token families) with a token neither blacklisted nor expired, every user\'s, counted when scraped.',
      registers: [registry],
      // Every worker counts the same database: the primary reports one of them, not their sum.
      aggregator: 'max',
      async collect() {
        try {
          this.set(await store.countLiveSessions());
        } catch {
          // The store is down (counted in store_unavailable_total): the scrape still answers, with the last count.
        }
      },
    });
  };

  return {
    registry,
    observer,
    instrument: (store) => {
      const timed = timedStore(store, storeSeconds, storeUnavailable);
      liveSessions(timed);
      return timed;
    },
  };
}

/** A proxy over `store` whose methods observe their duration (the histogram child per method made once). */
function timedStore<S extends object>(store: S, seconds: Histogram<'operation'>, unavailable: Counter<'operation'>): S {
  return wrapStoreMethods(store, (name, method) => {
    const timer = seconds.labels({ operation: name });
    const failed = (err: unknown): void => {
      if (err instanceof StoreUnavailableError) unavailable.inc({ operation: name });
    };
    return function timed(this: unknown, ...args: unknown[]): unknown {
      const started = performance.now();
      let result: unknown;
      try {
        result = method(...args);
      } catch (err) {
        timer.observe((performance.now() - started) / 1000);
        failed(err);
        throw err;
      }
      if (!(result instanceof Promise)) {
        timer.observe((performance.now() - started) / 1000);
        return result;
      }
      return result.then(
        (value: unknown) => {
          timer.observe((performance.now() - started) / 1000);
          return value;
        },
        (err: unknown) => {
          timer.observe((performance.now() - started) / 1000);
          failed(err);
          throw err;
        },
      );
    };
  });
}
