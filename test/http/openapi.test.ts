import Ajv2020Module from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestFields } from '../../packages/core/src/http/schemas.js';
import { startApp, type TestApp } from '../helpers/server.js';
import { BACKENDS, startMfaApp } from '../mfa/app.js';
import { reserveOrigin, startSocialApp, type SocialApp } from '../social/app.js';

// ajv is CommonJS: its class is the module's default export, or the module itself, depending on the interop.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as unknown as typeof Ajv2020Module.default;

type Json = Record<string, any>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Structural checks of an OpenAPI 3.1 document (no OpenAPI validator is installed): the required fields and their
 * shapes, every `$ref` resolvable, every security requirement naming a declared scheme, no Swagger 2 leftovers,
 * and every Schema Object a valid JSON Schema 2020-12 (compiled by Ajv).
 */
function validateOpenApi31(doc: Json): string[] {
  const problems: string[] = [];
  const fail = (where: string, what: string) => problems.push(`${where}: ${what}`);
  if (doc.openapi !== '3.1.0') fail('openapi', `expected 3.1.0, got ${String(doc.openapi)}`);
  if (typeof doc.info?.title !== 'string' || typeof doc.info?.version !== 'string') fail('info', 'title and version are required strings');
  if (doc.info?.license !== undefined && doc.info.license.identifier !== undefined && doc.info.license.url !== undefined) fail('info.license', 'identifier and url are exclusive');
  if (doc.paths === undefined && doc.webhooks === undefined && doc.components === undefined) fail('/', 'one of paths, webhooks, components is required');
  for (const key of ['swagger', 'definitions', 'basePath', 'host', 'produces', 'consumes', 'securityDefinitions']) {
    if (key in doc) fail('/', `Swagger 2 field "${key}"`);
  }
  const schemes: Json = doc.components?.securitySchemes ?? {};
  for (const [name, s] of Object.entries<Json>(schemes)) {
    if (!['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect'].includes(s.type)) fail(`securitySchemes.${name}`, `bad type ${s.type}`);
    if (s.type === 'http' && typeof s.scheme !== 'string') fail(`securitySchemes.${name}`, 'http needs scheme');
  }
  const checkSecurity = (where: string, security: unknown) => {
    if (security === undefined) return;
    if (!Array.isArray(security)) return fail(where, 'security must be an array');
    for (const req of security as Json[]) for (const name of Object.keys(req)) if (!(name in schemes)) fail(where, `unknown security scheme ${name}`);
  };
  checkSecurity('security', doc.security);

  // Every $ref must resolve within the document.
  const resolve = (ref: string): unknown => {
    if (!ref.startsWith('#/')) return undefined;
    return ref
      .slice(2)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Json)[key] : undefined), doc);
  };
  const walk = (node: unknown, where: string) => {
    if (Array.isArray(node)) node.forEach((n, i) => walk(n, `${where}/${i}`));
    else if (node !== null && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === '$ref' && (typeof v !== 'string' || resolve(v) === undefined)) fail(where, `unresolved $ref ${String(v)}`);
        walk(v, `${where}/${k}`);
      }
    }
  };
  walk(doc, '#');

  // Every Schema Object compiles as JSON Schema 2020-12 (OpenAPI 3.1's dialect), with the OAS vocabulary allowed.
  const ajv = new Ajv2020({ strict: true, validateFormats: false, allowUnionTypes: true });
  ajv.addVocabulary(['discriminator', 'xml', 'externalDocs', 'example']);
  // Local refs point into the document's components: each component schema is registered under its own id.
  const BASE = 'https://restjwt.test/components/schemas/';
  const rebase = (schema: unknown) => JSON.parse(JSON.stringify(schema ?? {}).replace(/"#\/components\/schemas\//g, `"${BASE}`)) as Json;
  for (const [name, schema] of Object.entries<Json>(doc.components?.schemas ?? {})) {
    try {
      ajv.addSchema({ ...rebase(schema), $id: BASE + name });
    } catch (e) {
      fail(`components.schemas.${name}`, `invalid JSON Schema: ${(e as Error).message}`);
    }
  }
  const compile = (schema: unknown, where: string) => {
    try {
      ajv.compile(rebase(schema));
    } catch (e) {
      fail(where, `invalid JSON Schema: ${(e as Error).message}`);
    }
  };
  for (const [name, schema] of Object.entries<Json>(doc.components?.schemas ?? {})) compile(schema, `components.schemas.${name}`);

  const operationIds = new Set<string>();
  for (const [path, item] of Object.entries<Json>(doc.paths ?? {})) {
    if (!path.startsWith('/')) fail(path, 'path must start with /');
    for (const [method, op] of Object.entries<Json>(item)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (!HTTP_METHODS.includes(method) && !['parameters', 'summary', 'description', 'servers', '$ref'].includes(method)) {
        fail(where, `unexpected path item field ${method}`);
        continue;
      }
      if (!HTTP_METHODS.includes(method)) continue;
      if ('hide' in op || 'consumes' in op || 'produces' in op) fail(where, 'Fastify/Swagger 2 field left in the operation');
      if (op.operationId !== undefined) {
        if (operationIds.has(op.operationId)) fail(where, `duplicate operationId ${op.operationId}`);
        operationIds.add(op.operationId);
      }
      checkSecurity(where, op.security);
      if (op.requestBody !== undefined) {
        const content = op.requestBody.content as Json | undefined;
        if (content === undefined || Object.keys(content).length === 0) fail(where, 'requestBody needs content');
        for (const [type, media] of Object.entries<Json>(content ?? {})) {
          if (!/^[\w.+-]+\/[\w.+*-]+$/.test(type)) fail(where, `bad media type ${type}`);
          compile(media.schema, `${where} requestBody ${type}`);
        }
      }
      for (const p of (op.parameters ?? []) as Json[]) {
        if (typeof p.name !== 'string' || !['query', 'header', 'path', 'cookie'].includes(p.in)) fail(where, `bad parameter ${JSON.stringify(p)}`);
        if (p.in === 'path' && p.required !== true) fail(where, `path parameter ${p.name} must be required`);
        if (p.schema !== undefined) compile(p.schema, `${where} parameter ${p.name}`);
      }
      const responses = op.responses as Json | undefined;
      if (responses === undefined || Object.keys(responses).length === 0) fail(where, 'responses required');
      for (const [status, res] of Object.entries<Json>(responses ?? {})) {
        if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status)) fail(where, `bad status key ${status}`);
        if (typeof res.description !== 'string') fail(`${where} ${status}`, 'response description is required');
        for (const [type, media] of Object.entries<Json>(res.content ?? {})) compile(media.schema, `${where} ${status} ${type}`);
      }
    }
  }
  return problems;
}

describe('OpenAPI document and reference (default settings)', () => {
  let t: TestApp;
  let doc: Json;
  beforeAll(async () => {
    t = await startApp();
    const r = await t.get('/api/schema/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/(vnd\.oai\.openapi\+)?json/);
    doc = r.json as Json;
  });
  afterAll(() => t.close());

  it('is a structurally valid OpenAPI 3.1 document', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(validateOpenApi31(doc)).toEqual([]);
  });

  it('the validator catches broken documents (so an empty problem list means something)', () => {
    const broken = structuredClone(doc);
    broken.paths['/api/token/'].post.responses['401'].content['application/json'].schema = { $ref: '#/components/schemas/Nope' };
    broken.paths['/api/me/'].get.security = [{ cookieAuth: [] }];
    broken.paths['/api/public/'].get.responses['200'].content['application/json'].schema = { type: 'strnig' };
    broken.consumes = ['application/json'];
    const problems = validateOpenApi31(broken).join('\n');
    expect(problems).toContain('unresolved $ref #/components/schemas/Nope');
    expect(problems).toContain('unknown security scheme cookieAuth');
    expect(problems).toMatch(/GET \/api\/public\/ 200 application\/json: invalid JSON Schema/);
    expect(problems).toContain('Swagger 2 field "consumes"');
  });

  it('declares the bearer scheme and the shared error schema', () => {
    expect(doc.components.securitySchemes).toEqual({ bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } });
    expect(doc.components.schemas.Error).toMatchObject({ type: 'object', required: ['detail', 'code'], properties: { detail: { type: 'string' }, code: { type: 'string' } } });
  });

  it('documents every token endpoint with its request fields, in JSON and urlencoded', () => {
    for (const spec of t.restjwt.endpoints) {
      const op = doc.paths[`/api/${spec.path}`]?.post as Json | undefined;
      expect(op, spec.path).toBeDefined();
      expect(op!.tags).toEqual(['token']);
      for (const type of ['application/json', 'application/x-www-form-urlencoded']) {
        const schema = op!.requestBody.content[type].schema as Json;
        const fields = requestFields(spec, t.restjwt.settings);
        expect(Object.keys(schema.properties), `${spec.path} ${type}`).toEqual(expect.arrayContaining([...fields]));
        expect(schema.required).toEqual([...fields]);
      }
      expect(op!.responses['401'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
      expect(op!.responses['400'].content['application/json'].schema.oneOf).toContainEqual({ $ref: '#/components/schemas/Error' });
    }
    const login = doc.paths['/api/token/'].post as Json;
    expect(login.requestBody.content['application/json'].schema.required).toEqual(['username', 'password']);
    expect(login.responses['200'].content['application/json'].schema).toMatchObject({ properties: { access: { type: 'string' }, refresh: { type: 'string' } }, required: ['refresh', 'access'] });
    expect(doc.paths['/api/token/refresh/'].post.requestBody.content['application/json'].schema.required).toEqual(['refresh']);
    expect(doc.paths['/api/token/verify/'].post.requestBody.content['application/json'].schema.required).toEqual(['token']);
    // Logout-all takes no field: it is authenticated by the access token.
    expect(doc.paths['/api/token/logout-all/'].post.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths['/api/token/logout-all/'].post.requestBody.required).toBe(false);
    expect(login.security).toBeUndefined();
  });

  it('declares exactly the tags its routes use, each with a description; social only when configured', () => {
    const used = new Set<string>();
    for (const item of Object.values<Json>(doc.paths)) for (const op of Object.values<Json>(item)) for (const tag of op.tags ?? []) used.add(tag);
    expect(doc.tags.map((t: Json) => t.name)).toEqual(['token', 'admin', 'example']);
    expect(new Set(doc.tags.map((t: Json) => t.name))).toEqual(used);
    for (const tag of doc.tags) expect(tag.description, tag.name).toEqual(expect.stringMatching(/\S/));
  });

  it("keeps the descriptions a route gives its responses, and still refers to the shared error schema", () => {
    const revoke = doc.paths['/api/admin/users/{id}/sessions/{familyId}/revoke/'].post as Json;
    expect(revoke.responses['404'].description).toBe('No such user or session (`not_found`)');
    expect(revoke.responses['404'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    const unlink = doc.paths['/api/admin/users/{id}/identities/{provider}/{subject}/unlink/'].post as Json;
    expect(unlink.responses['400'].description).toMatch(/`last_login_method`/);
    expect(unlink.responses['501'].description).toMatch(/`identities_unsupported`/);
    // Undescribed ones get the API's meaning of the status.
    expect(unlink.responses['401'].description).toMatch(/^Credentials or token refused/);
    for (const item of Object.values<Json>(doc.paths)) {
      for (const op of Object.values<Json>(item)) {
        for (const res of Object.values<Json>(op.responses)) expect(['Default Response', 'Response', '']).not.toContain(res.description);
      }
    }
  });

  it('protected routes require the bearer scheme and describe their answers', () => {
    for (const path of ['/api/protected/', '/api/me/']) {
      const op = doc.paths[path].get as Json;
      expect(op.security).toEqual([{ bearerAuth: [] }]);
      expect(op.responses['401'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    }
    expect(doc.paths['/api/protected/'].get.responses['200'].content['application/json'].schema.properties.message).toEqual({ type: 'string' });
    expect(doc.paths['/api/me/'].get.responses['200'].content['application/json'].schema.required).toEqual(
      expect.arrayContaining(['id', 'username', 'email', 'is_staff']),
    );
    expect(doc.paths['/api/public/'].get.security).toBeUndefined();
  });

  it('leaves hidden routes out: method refusals, slash redirects, the document and the docs themselves', () => {
    expect(Object.keys(doc.paths['/api/protected/'])).toEqual(['get']);
    expect(Object.keys(doc.paths['/api/token/'])).toEqual(['post']);
    for (const path of Object.keys(doc.paths)) {
      expect(path.startsWith('/api/docs/') || path === '/api/schema/', path).toBe(false);
      expect(path.startsWith('/api/') && !path.endsWith('/'), `bare ${path}`).toBe(false);
    }
  });

  it('the documented schemas do not change answers: /api/me/ and errors come out as before', async () => {
    const { access } = await (async () => {
      await t.user('openapi-user');
      return t.login('openapi-user');
    })();
    const me = await t.get('/api/me/', { authorization: `Bearer ${access}` });
    expect(me.status).toBe(200);
    expect(me.json).toMatchObject({ username: 'openapi-user', is_staff: false, last_login: null });
    const refused = await t.get('/api/protected/');
    expect(refused.status).toBe(401);
    expect(refused.json).toEqual({ detail: 'Authentication credentials were not provided.', code: 'not_authenticated' });
    expect((await t.post('/api/protected/', {})).status).toBe(405);
  });

  it('serves the interactive reference from local assets with a CSP', async () => {
    const page = await t.get('/api/docs/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(page.text).not.toMatch(/https?:\/\//);
    expect(page.text).not.toMatch(/<script>(?!<\/script>)/); // no inline scripts
    const srcs = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((s) => !s.startsWith('/api/schema/'));
    expect(srcs.length).toBeGreaterThanOrEqual(3);
    for (const src of srcs) {
      const asset = await t.get(new URL(src, `${t.url}/api/docs/`).pathname);
      expect(asset.status, src).toBe(200);
    }
    const bundle = await t.get('/api/docs/assets/swagger-ui-bundle.js');
    expect(bundle.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(bundle.text.length).toBeGreaterThan(100_000);
    const init = await t.get('/api/docs/assets/init.js');
    expect(init.text).toContain('validatorUrl: null');
    expect(init.text).toContain('/api/schema/');
    expect((await t.get('/api/docs/assets/index.html')).status).toBe(404);
    expect((await t.get('/api/docs/assets/..%2F..%2Fpackage.json')).status).toBe(404);
  });
});

describe('OpenAPI document in cookie mode', () => {
  let t: TestApp;
  let doc: Json;
  beforeAll(async () => {
    t = await startApp({ cookieMode: 'refresh', cookieSecure: false, rotateRefreshTokens: true });
    doc = (await t.get('/api/schema/')).json as Json;
  });
  afterAll(() => t.close());

  it('stays valid, and says the refresh token travels in a cookie', () => {
    expect(validateOpenApi31(doc)).toEqual([]);
    const refresh = doc.paths['/api/token/refresh/'].post as Json;
    expect(refresh.requestBody.content['application/json'].schema.required).toEqual([]);
    expect(refresh.requestBody.required).toBe(false);
    expect(refresh.responses['403']).toBeDefined();
    const login = doc.paths['/api/token/'].post.responses['200'].content['application/json'].schema as Json;
    expect(Object.keys(login.properties)).toEqual(['access']);
  });
});

describe('OpenAPI document with social login', () => {
  let app: SocialApp;
  let doc: Json;
  beforeAll(async () => {
    // A preset provider with dummy credentials: listing the routes contacts no provider.
    app = await startSocialApp(await reserveOrigin(), {
      providers: { github: { type: 'github', clientId: 'gh-id', clientSecret: 'gh-secret' } },
      allowedRedirects: ['http://localhost:3000/done'],
    });
    const r = await app.get('/api/schema/');
    expect(r.status).toBe(200);
    doc = r.json as Json;
  });
  afterAll(() => app?.close());

  it('stays valid and documents every social route under the declared social tag', () => {
    expect(validateOpenApi31(doc)).toEqual([]);
    const social = Object.entries<Json>(doc.paths)
      .filter(([path]) => path.startsWith('/api/auth/'))
      .flatMap(([path, item]) => Object.entries<Json>(item).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, op })));
    expect(social.map((o) => o.at).sort()).toEqual(
      [
        'GET /api/auth/{provider}/login',
        'GET /api/auth/{provider}/callback',
        'POST /api/auth/exchange/',
        'POST /api/auth/{provider}/token',
        'POST /api/auth/{provider}/link',
        'GET /api/auth/identities/',
        'DELETE /api/auth/identities/{provider}/{subject}/',
      ].sort(),
    );
    for (const { at, op } of social) {
      expect(op.tags, at).toEqual(['social']);
      expect(op.summary, at).toEqual(expect.any(String));
    }
    expect(doc.tags.map((t: Json) => t.name)).toEqual(['token', 'social', 'admin', 'example']);
    expect(doc.tags.find((t: Json) => t.name === 'social').description).toMatch(/Social login/);
    expect(doc.paths['/api/auth/identities/'].get.security).toEqual([{ bearerAuth: [] }]);
  });

  it("keeps the social routes' own response descriptions and describes their errors in social login's codes", () => {
    const login = doc.paths['/api/auth/{provider}/login'].get as Json;
    expect(login.responses['302'].description).toBe('Redirect (Location header)');
    expect(login.responses['404'].description).toMatch(/`social_unknown_provider`/);
    const unlink = doc.paths['/api/auth/identities/{provider}/{subject}/'].delete as Json;
    expect(unlink.responses['204'].description).toBe('Unlinked');
    expect(unlink.responses['409'].description).toMatch(/`social_last_login_method`/);
    expect(unlink.responses['409'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    const token = doc.paths['/api/auth/{provider}/token'].post as Json;
    expect(token.responses['401'].description).toMatch(/`social_id_token_invalid`/);
    expect(token.responses['401'].description).not.toMatch(/no_active_account/);
    expect(token.responses['502'].description).toMatch(/`social_provider_unavailable`/);
    // The token endpoints keep theirs.
    expect(doc.paths['/api/token/'].post.responses['401'].description).toMatch(/`no_active_account`/);
  });
});

describe('the OpenAPI document with second factors (@restjwt/mfa)', () => {
  let t: Awaited<ReturnType<typeof startMfaApp>>;
  let doc: Json;
  beforeAll(async () => {
    t = await startMfaApp(BACKENDS[0]!);
    const r = await t.get('/api/schema/');
    expect(r.status).toBe(200);
    doc = r.json as Json;
  });
  afterAll(async () => {
    await t?.close();
    await t?.drop();
  });

  it('stays valid and documents every MFA route under the declared mfa tag, with their own error codes', () => {
    expect(validateOpenApi31(doc)).toEqual([]);
    const mfa = Object.entries<Json>(doc.paths)
      .filter(([path]) => path.startsWith('/api/mfa/') || path.startsWith('/api/token/passkey/'))
      .flatMap(([path, item]) => Object.entries<Json>(item).map(([method, op]) => ({ at: `${method.toUpperCase()} ${path}`, op })));
    expect(mfa.map((o) => o.at).sort()).toEqual(
      [
        'GET /api/mfa/',
        'POST /api/mfa/totp/',
        'POST /api/mfa/totp/{id}/confirm/',
        'POST /api/mfa/webauthn/register/options/',
        'POST /api/mfa/webauthn/register/',
        'POST /api/mfa/recovery-codes/',
        'POST /api/mfa/factors/{id}/remove/',
        'POST /api/token/passkey/options/',
        'POST /api/token/passkey/',
      ].sort(),
    );
    for (const { at, op } of mfa) {
      expect(op.tags, at).toEqual(['mfa']);
      expect(op.summary, at).toEqual(expect.any(String));
      expect(op.security, at).toEqual(at.includes('/api/token/passkey/') ? undefined : [{ bearerAuth: [] }]);
    }
    expect(doc.tags.map((x: Json) => x.name)).toEqual(['token', 'mfa', 'admin', 'example']);
    expect(doc.paths['/api/mfa/factors/{id}/remove/'].post.responses['409'].description).toMatch(/`mfa_no_recovery_codes`/);
    expect(doc.paths['/api/token/passkey/'].post.responses['401'].description).toMatch(/`mfa_passkey_invalid`/);
    expect(doc.paths['/api/protected/mfa/'].get.security).toEqual([{ bearerAuth: [] }]);
  });
});
