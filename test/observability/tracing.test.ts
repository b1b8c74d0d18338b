/**
 * OpenTelemetry spans (`createTracing` from `@restjwt/metrics`): through real HTTP requests to the reference server's
 * Fastify app over SQLite, one span per token endpoint answer with the store's calls as its children, statuses that
 * mark only 5xx answers failed, attributes that never hold a username, password, token or address; with no SDK
 * registered, the API's no-op and the same answers. The `aroundEndpoint` hook itself: what it does wrong never
 * changes an answer. And `restjwt serve --tracing` with an SDK preloaded by `node --import`.
 */
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { combineObservers, type EndpointObservation, type Observer } from '@restjwt/core';
import { createPrometheusMetrics, createTracing } from '@restjwt/metrics';
import { openSqliteStore } from '@restjwt/sqlite';
import { PASSWORD, startApp, type TestApp } from '../helpers/server.js';
import { builtCli, ROOT } from '../helpers/built-cli.js';
import { call, runCli, startServe, type ServerProcess } from '../scale/harness.js';

/** Every string an attribute, event attribute or span name holds, to look for secrets in. */
function everyValue(spans: readonly ReadableSpan[]): string[] {
  const values: string[] = [];
  const add = (attributes: Readonly<Record<string, unknown>>) => {
    for (const value of Object.values(attributes)) values.push(...(Array.isArray(value) ? value.map(String) : [String(value)]));
  };
  for (const span of spans) {
    values.push(span.name);
    add(span.attributes);
    for (const event of span.events) add(event.attributes ?? {});
  }
  return values;
}

const isStore = (span: ReadableSpan) => span.name.startsWith('restjwt.store ');

describe('with no SDK registered', () => {
  it('answers as without tracing: the spans are the API no-op', async () => {
    const tracing = createTracing();
    const store = tracing.instrument(await openSqliteStore({ filename: ':memory:' }));
    const app = await startApp({ rotateRefreshTokens: true, blacklistAfterRotation: true }, { store, observer: tracing.observer });
    try {
      await app.user('alice');
      const pair = await app.login();
      expect((await app.post('/api/token/', { username: 'alice', password: 'wrong' })).status).toBe(401);
      const rotated = await app.post('/api/token/refresh/', { refresh: pair.refresh });
      expect(rotated.status).toBe(200);
      expect((await app.post('/api/token/verify/', { token: pair.access })).status).toBe(200);
      expect((await app.get('/api/protected/', { authorization: `Bearer ${pair.access}` })).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});

describe('with an SDK registered', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const contextManager = new AsyncLocalStorageContextManager();
  const seen: ReadableSpan[] = [];
  const secrets: string[] = [PASSWORD, 'alice', '127.0.0.1'];
  let app: TestApp;
  let metrics: ReturnType<typeof createPrometheusMetrics>;
  let dir: string;

  /** The spans ended since the last call (kept for the secrets check). */
  const take = (): ReadableSpan[] => {
    const spans = exporter.getFinishedSpans().slice();
    exporter.reset();
    seen.push(...spans);
    return spans;
  };

  beforeAll(async () => {
    // What an application's SDK set-up (NodeSDK) does: a global provider and an AsyncLocalStorage context.
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
    dir = mkdtempSync(join(tmpdir(), 'restjwt-tracing-'));
    metrics = createPrometheusMetrics();
    const tracing = createTracing();
    const store = tracing.instrument(metrics.instrument(await openSqliteStore({ filename: join(dir, 'db.sqlite3') })));
    app = await startApp({ rotateRefreshTokens: true, blacklistAfterRotation: true }, { store, observer: combineObservers(metrics.observer, tracing.observer) });
    await app.user('alice');
    take();
  });

  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
    trace.disable();
    context.disable();
    await provider.shutdown();
  });

  beforeEach(() => void take());

  it('makes a login one endpoint span whose children are its store calls', async () => {
    const pair = await app.login();
    secrets.push(pair.access, pair.refresh);
    const spans = take();
    const endpoints = spans.filter((s) => !isStore(s));
    expect(endpoints.map((s) => s.name)).toEqual(['restjwt.obtainPair']);
    const endpoint = endpoints[0]!;
    expect(endpoint.kind).toBe(SpanKind.INTERNAL);
    expect(endpoint.status.code).toBe(SpanStatusCode.UNSET);
    expect(endpoint.attributes).toEqual({ 'restjwt.endpoint': 'obtainPair', 'http.response.status_code': 200 });
    expect(endpoint.instrumentationScope.name).toBe('@restjwt/core');
    expect(endpoint.instrumentationScope.version).toMatch(/^\d+\.\d+\.\d+/);

    const stores = spans.filter(isStore);
    expect(stores.map((s) => s.name)).toContain('restjwt.store findUser');
    for (const s of stores) {
      expect(s.spanContext().traceId).toBe(endpoint.spanContext().traceId);
      expect(s.parentSpanContext?.spanId).toBe(endpoint.spanContext().spanId);
      expect(s.kind).toBe(SpanKind.INTERNAL);
      expect(s.status.code).toBe(SpanStatusCode.UNSET);
      expect(s.attributes['restjwt.store.method']).toBe(s.name.slice('restjwt.store '.length));
      expect(s.attributes['restjwt.store.backend']).toBe('SqliteStore');
    }
    // The metrics, given the same requests through combineObservers, counted it too.
    expect(await metrics.registry.metrics()).toMatch(/restjwt_logins_total\{outcome="ok"\} 1\n/);
  });

  it('leaves a refused login UNSET, with its status and code', async () => {
    expect((await app.post('/api/token/', { username: 'alice', password: 'wrong' })).status).toBe(401);
    const [endpoint, ...others] = take().filter((s) => !isStore(s));
    expect(others).toEqual([]);
    expect(endpoint?.name).toBe('restjwt.obtainPair');
    expect(endpoint?.status.code).toBe(SpanStatusCode.UNSET);
    expect(endpoint?.attributes).toEqual({ 'restjwt.endpoint': 'obtainPair', 'http.response.status_code': 401, 'restjwt.error_code': 'no_active_account' });
  });

  it('nests a rotation\'s store calls under its refresh span, and a reuse is a 401, not an error', async () => {
    const pair = await app.login();
    const rotated = await app.post('/api/token/refresh/', { refresh: pair.refresh });
    expect(rotated.status).toBe(200);
    secrets.push(pair.access, pair.refresh, rotated.json.access as string, rotated.json.refresh as string);
    take();
    expect((await app.post('/api/token/refresh/', { refresh: pair.refresh })).status).toBe(401);
    const spans = take();
    const endpoint = spans.find((s) => s.name === 'restjwt.refresh');
    expect(endpoint?.status.code).toBe(SpanStatusCode.UNSET);
    expect(endpoint?.attributes['restjwt.error_code']).toBe('token_not_valid');
    const stores = spans.filter(isStore);
    expect(stores.map((s) => s.name)).toEqual(expect.arrayContaining(['restjwt.store rotate', 'restjwt.store revokeFamily']));
    for (const s of stores) expect(s.parentSpanContext?.spanId).toBe(endpoint?.spanContext().spanId);
  });

  it('joins the caller\'s trace: the endpoint span is a child of the active span', async () => {
    const tracer = provider.getTracer('the-app');
    const parent = tracer.startSpan('POST /api/token/verify/', { kind: SpanKind.SERVER });
    const res = await context.with(trace.setSpan(context.active(), parent), () =>
      app.restjwt.handle('verify', { method: 'POST', headers: { 'content-type': 'application/json' }, rawBody: '{"token":"x"}', ip: '127.0.0.1' }),
    );
    parent.end();
    expect(res.status).toBe(401);
    const span = take().find((s) => s.name === 'restjwt.verify');
    expect(span?.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(span?.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
  });

  it('marks a store outage ERROR on the endpoint span and on the failed store call, without the error message', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'restjwt-tracing-outage-'));
    const tracing = createTracing();
    const store = tracing.instrument(await openSqliteStore({ filename: join(dir2, 'db.sqlite3') }));
    const outage = await startApp({}, { store, observer: tracing.observer });
    try {
      await outage.user('bob');
      await store.close();
      take();
      expect((await outage.post('/api/token/', { username: 'bob', password: PASSWORD })).status).toBe(503);
      const spans = take();
      const endpoint = spans.find((s) => s.name === 'restjwt.obtainPair');
      expect(endpoint?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'store_unavailable' });
      expect(endpoint?.attributes).toMatchObject({ 'http.response.status_code': 503, 'restjwt.error_code': 'store_unavailable', 'error.type': 'store_unavailable' });
      const failed = spans.find((s) => s.name === 'restjwt.store findUser');
      expect(failed?.parentSpanContext?.spanId).toBe(endpoint?.spanContext().spanId);
      expect(failed?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'StoreUnavailableError' });
      expect(failed?.events.map((e) => e.name)).toEqual(['exception']);
      // The type only: a driver's message or stack may name a host, a file or a value.
      expect(failed?.events[0]?.attributes).toEqual({ 'exception.type': 'StoreUnavailableError' });
      secrets.push('bob', dir2);
    } finally {
      await outage.close().catch(() => {});
      rmSync(dir2, { recursive: true, force: true });
    }
  });

  // Last in this block: it reads every span the tests above made.
  it('holds no username, password, token or client address in any span name, attribute or event', () => {
    take();
    const values = everyValue(seen);
    expect(seen.length).toBeGreaterThan(20);
    for (const secret of secrets) expect(values.filter((v) => v.includes(secret))).toEqual([]);
  });
});

describe('the aroundEndpoint hook never changes an answer', () => {
  /** The answers of a login, a refused login and an OPTIONS with this observer. */
  async function answers(observer: Observer): Promise<number[]> {
    const app = await startApp({}, { observer });
    try {
      await app.user('alice');
      return [
        (await app.post('/api/token/', { username: 'alice', password: PASSWORD })).status,
        (await app.post('/api/token/', { username: 'alice', password: 'wrong' })).status,
        (await app.send('OPTIONS', '/api/token/')).status,
      ];
    } finally {
      await app.close();
    }
  }
  const expected = [200, 401, 200];

  it('a hook that throws before calling run: answered without it', async () => {
    expect(
      await answers({
        aroundEndpoint() {
          throw new Error('broken hook');
        },
      }),
    ).toEqual(expected);
  });

  it('a hook that settles without calling run: answered after it', async () => {
    expect(await answers({ aroundEndpoint: async () => {} })).toEqual(expected);
  });

  it('a hook that rejects after run, or calls it twice: the one answer', async () => {
    let runs = 0;
    let same = 0;
    const seen: EndpointObservation[] = [];
    const endpoint: EndpointObservation[] = [];
    expect(
      await answers({
        endpoint: (o) => void endpoint.push(o),
        async aroundEndpoint(_name, run) {
          runs++;
          const [a, b] = await Promise.all([run(), run()]);
          if (a === b) same++;
          seen.push(a);
          throw new Error('after run');
        },
      }),
    ).toEqual(expected);
    expect([runs, same]).toEqual([3, 3]);
    expect(seen.map((o) => [o.endpoint, o.status, o.code])).toEqual([
      ['obtainPair', 200, null],
      ['obtainPair', 401, 'no_active_account'],
      ['obtainPair', 200, null],
    ]);
    // Each answer was made once: told to `endpoint` once.
    expect(endpoint).toEqual(seen);
  });

  it('a hook that calls run later, asynchronously, and one that never settles after run', async () => {
    expect(await answers({ aroundEndpoint: async (_name, run) => (await new Promise((r) => setTimeout(r, 5)), run()) })).toEqual(expected);
    expect(await answers({ aroundEndpoint: (_name, run) => (void run(), new Promise(() => {})) })).toEqual(expected);
  });

  it('combineObservers nests the hooks, the first outermost, and tells each observer once', async () => {
    const order: string[] = [];
    const hook = (label: string): Observer => ({
      endpoint: () => void order.push(`${label}:endpoint`),
      async aroundEndpoint(_name, run) {
        order.push(`${label}:in`);
        await run();
        order.push(`${label}:out`);
      },
    });
    const app = await startApp({}, { observer: combineObservers(hook('a'), undefined, { authentication: () => {} }, hook('b')) });
    try {
      await app.user('alice');
      expect((await app.post('/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(200);
      expect(order).toEqual(['a:in', 'b:in', 'a:endpoint', 'b:endpoint', 'b:out', 'a:out']);
    } finally {
      await app.close();
    }
  });
});

describe('restjwt serve --tracing', () => {
  const servers: ServerProcess[] = [];
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A served instance on a fresh SQLite file with user alice; `env` for the server only. */
  async function serve(extra: string[], env: Record<string, string> = {}): Promise<ServerProcess> {
    const dir = mkdtempSync(join(tmpdir(), 'restjwt-serve-tracing-'));
    dirs.push(dir);
    const database = `sqlite:${join(dir, 'restjwt.sqlite3')}`;
    const base = { RESTJWT_SIGNING_KEY: 'restjwt-tracing-test-signing-key-0123456789-abcdefghijklmnop', RESTJWT_SETTINGS: JSON.stringify({ loginThrottle: false }) };
    expect(runCli(builtCli(), ['createuser', 'alice', '--database', database, '--password-stdin'], { input: `${PASSWORD}\n`, env: base }).status).toBe(0);
    const server = await startServe(builtCli(), ['--port', '0', '--no-request-log', '--database', database, ...extra], { ...base, ...env });
    servers.push(server);
    return server;
  }

  it('answers with no SDK (the no-op), and joins the spans of an SDK preloaded with node --import', async () => {
    const plain = await serve(['--tracing']);
    expect((await call(plain.url, 'POST', '/api/token/', { username: 'alice', password: PASSWORD })).status).toBe(200);

    const out = join(mkdtempSync(join(tmpdir(), 'restjwt-spans-')), 'spans.jsonl');
    dirs.push(join(out, '..'));
    const preload = pathToFileURL(join(ROOT, 'test/fixtures/otel-preload.mjs')).href;
    const traced = await serve(['--tracing'], { NODE_OPTIONS: `--import=${preload}`, RESTJWT_TEST_SPANS: out });
    const login = await call(traced.url, 'POST', '/api/token/', { username: 'alice', password: PASSWORD });
    expect(login.status).toBe(200);
    await traced.stop();
    expect(existsSync(out)).toBe(true);
    const text = readFileSync(out, 'utf8');
    const spans = text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { name: string; traceId: string; spanId: string; parentSpanId?: string });
    const endpoint = spans.find((s) => s.name === 'restjwt.obtainPair');
    expect(endpoint).toBeDefined();
    // The store's `close` at shutdown is a trace of its own; every other store call was the login's.
    const stores = spans.filter((s) => s.name.startsWith('restjwt.store ') && s.name !== 'restjwt.store close');
    expect(stores.map((s) => s.name)).toContain('restjwt.store findUser');
    for (const s of stores) expect([s.traceId, s.parentSpanId]).toEqual([endpoint?.traceId, endpoint?.spanId]);
    for (const secret of [PASSWORD, login.json.access as string, login.json.refresh as string]) expect(text).not.toContain(secret);
  }, 60_000);
});
