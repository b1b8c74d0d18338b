/**
 * OpenTelemetry spans around the token endpoints and the store's calls, through `@opentelemetry/api` alone: without
 * an SDK registered (`NodeSDK`, a `--import` preload) every span is the API's no-op; with one, they join the
 * application's own traces, under its HTTP server span.
 *
 * ```ts
 * const tracing = createTracing();
 * const restjwt = createRestJwt({ store: tracing.instrument(store), observer: tracing.observer });
 * ```
 *
 * Attributes are endpoint names, statuses, error codes, store methods and the store's class: never a username, a
 * token, a password or an address, and no error message (a driver's may name a host or a value).
 */
import { createRequire } from 'node:module';
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api';
import type { EndpointName, EndpointObservation, Observer } from '@restjwt/core';
import { wrapStoreMethods } from './wrap-store.js';

/** What {@link createTracing} takes. */
export interface TracingOptions {
  /**
   * Where the spans are made. Default `trace.getTracer('@restjwt/core', version)`: the globally registered SDK's
   * tracer, looked up when each span starts, so an SDK registered after this call is used too.
   */
  tracer?: Tracer;
}

/** restjwt's spans: the observer to give `createRestJwt`, and a store wrapper that spans its calls. */
export interface Tracing {
  /**
   * Give it to `createRestJwt({ observer })`, or with the metrics' through `combineObservers` from `@restjwt/core`.
   * Each token endpoint answer is one INTERNAL span, `restjwt.<endpoint>` (`restjwt.obtainPair`, `restjwt.refresh`,
   * …), active while the endpoint works so that the store's spans are its children; it carries `restjwt.endpoint`,
   * `http.response.status_code` and, for an error answer, `restjwt.error_code`. Its status is ERROR for a 5xx
   * answer only (with `error.type`, the code): a 401, 403 or 429 is the endpoint doing its job, not a failure.
   */
  readonly observer: Observer;
  /**
   * The store with each call in an INTERNAL span `restjwt.store <method>` (attributes `restjwt.store.method` and
   * `restjwt.store.backend`, the store's class), made active so that a database driver's own spans nest under it.
   * A call that throws gets status ERROR and an exception event with the error's name only. Everything else,
   * capabilities included, is the store's own; the immediate user lookups (`findUserNow`, a cached row) are not
   * spanned, as in the metrics.
   */
  instrument<S extends object>(store: S): S;
}

/** The release's version, for the tracer's instrumentation scope (every restjwt package shares one). */
const VERSION = ((): string | undefined => {
  try {
    return (createRequire(import.meta.url)('@restjwt/core/package.json') as { version?: string }).version;
  } catch {
    // A bundle without package.json files: the scope goes without a version rather than the import failing.
    return undefined;
  }
})();

/** Creates restjwt's spans on `options.tracer` (the global SDK's by default). */
export function createTracing(options: TracingOptions = {}): Tracing {
  const tracer = options.tracer ?? trace.getTracer('@restjwt/core', VERSION);
  // Span names and start options per endpoint, made once.
  const starts = new Map<EndpointName, { name: string; options: SpanOptions }>();
  const startOf = (endpoint: EndpointName) => {
    let start = starts.get(endpoint);
    if (start === undefined) {
      start = { name: `restjwt.${endpoint}`, options: { kind: SpanKind.INTERNAL, attributes: { 'restjwt.endpoint': endpoint } } };
      starts.set(endpoint, start);
    }
    return start;
  };
  const observer: Observer = {
    aroundEndpoint(endpoint, run) {
      const start = startOf(endpoint);
      const span = tracer.startSpan(start.name, start.options);
      if (!span.isRecording()) {
        // No SDK (the API's no-op) or a trace sampled out: nothing to record, so no context to switch either.
        span.end();
        return run();
      }
      return context.with(trace.setSpan(context.active(), span), () =>
        run().then(
          (o) => {
            answered(span, o);
            span.end();
          },
          (err: unknown) => {
            failed(span, err);
            span.end();
            throw err;
          },
        ),
      );
    },
  };
  return { observer, instrument: (store) => spannedStore(store, tracer) };
}

/** Puts an endpoint's answer on its span. */
function answered(span: Span, o: EndpointObservation): void {
  const attributes: Attributes = { 'http.response.status_code': o.status };
  if (o.code !== null) attributes['restjwt.error_code'] = o.code;
  span.setAttributes(attributes);
  if (o.status >= 500) {
    const type = o.code ?? String(o.status);
    span.setAttribute('error.type', type);
    span.setStatus({ code: SpanStatusCode.ERROR, message: type });
  }
}

/** Marks a span failed by `err`, with the error's name and never its message or stack (they may carry data). */
function failed(span: Span, err: unknown): void {
  const type = err instanceof Error ? err.name : typeof err;
  span.recordException({ name: type });
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}

/** A proxy over `store` whose methods run in spans (the same technique as the metrics' timed store). */
function spannedStore<S extends object>(store: S, tracer: Tracer): S {
  const ctor = (store as { constructor?: { name?: unknown } }).constructor;
  // The class (SqliteStore, SqlStore, RedisCachedStore, …): one of a few, read once; a plain object has none worth saying.
  const backend = ctor !== Object && typeof ctor?.name === 'string' && ctor.name !== '' ? ctor.name : undefined;
  return wrapStoreMethods(store, (name, method) => {
    const spanName = `restjwt.store ${name}`;
    const attributes: Attributes = backend === undefined ? { 'restjwt.store.method': name } : { 'restjwt.store.method': name, 'restjwt.store.backend': backend };
    const spanOptions: SpanOptions = { kind: SpanKind.INTERNAL, attributes };
    return function spanned(this: unknown, ...args: unknown[]): unknown {
      const span = tracer.startSpan(spanName, spanOptions);
      if (!span.isRecording()) {
        // As for the endpoint span: with nothing recorded, the call goes straight to the store.
        span.end();
        return method(...args);
      }
      return context.with(trace.setSpan(context.active(), span), () => {
        let result: unknown;
        try {
          result = method(...args);
        } catch (err) {
          failed(span, err);
          span.end();
          throw err;
        }
        if (!(result instanceof Promise)) {
          span.end();
          return result;
        }
        return result.then(
          (value: unknown) => {
            span.end();
            return value;
          },
          (err: unknown) => {
            failed(span, err);
            span.end();
            throw err;
          },
        );
      });
    };
  });
}
