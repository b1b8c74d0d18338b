/**
 * The six apps of "install only what you use": each is an install line a user types (the README's table shows the
 * same lines) and a small program that mounts restjwt the way that choice does. test/install/consumer.test.ts
 * installs each from the packed tarballs and runs it; bench/install.ts measures their cold installs.
 */

/** Packages that are one restjwt piece or another: an app may have only those its choice needs. */
export const PIECES = [
  '@restjwt/core', '@restjwt/express', '@restjwt/fastify', '@restjwt/hono', '@restjwt/nest', '@restjwt/sqlite',
  '@restjwt/sql', '@restjwt/redis', '@restjwt/social', '@restjwt/metrics', '@restjwt/mfa', 'restjwt',
  // frameworks
  'express', 'fastify', 'fastify-plugin', 'hono', '@hono/node-server', '@nestjs/core', '@nestjs/common', '@nestjs/platform-express',
  // drivers and what only a store needs
  'better-sqlite3', 'pg', 'mysql2', 'ioredis', 'kysely',
  // passwords
  '@node-rs/argon2', 'bcryptjs', 'argon2',
  // social sign-in, the API reference page, the CLI, metrics, second factors
  'openid-client', 'arctic', 'oauth4webapi', 'swagger-ui-dist', '@scarf/scarf', '@fastify/swagger', 'commander', 'prom-client',
  'otplib', '@simplewebauthn/server',
  // declaration packages that a piece's types need
  '@types/express', '@types/better-sqlite3',
] as const;

export type Piece = (typeof PIECES)[number];

/** How the test drives an app once it is installed. */
export type AppKind = 'jwks' | 'login' | 'cli';

export interface ConsumerApp {
  id: 'a' | 'b' | 'c' | 'd' | 'e' | 'f';
  title: string;
  /** What the user types. */
  line: string;
  /** The pieces this choice brings (directly or through the frameworks it names); any other piece fails the test. */
  pieces: readonly Piece[];
  /** Needs a database server the test provides: its URL goes in DATABASE_URL. */
  database?: 'postgres' | 'mysql';
  kind: AppKind;
  /** app.ts: listens on PORT and prints `listening on <url>`; undefined for the CLI, which is the app. */
  source?: string;
  /** A script using a piece the line left out, and the MissingPackageError message it must print. */
  missing?: { code: string; message: string };
  /** Extra compiler flags (Nest's decorators). */
  tscFlags?: readonly string[];
}

/** The part every login app shares: one user, created at start (the store keeps it; a second start finds it). */
const SEED = `
const hasher = createPasswordHasher();
if ((await findUserByUsername(store, 'alice')) === null) {
  await createUserNormalized(store, { username: 'alice', passwordHash: await hasher.hash('correct horse battery staple') });
}
const restjwt = createRestJwt({ store, hasher, settings: { SIGNING_KEY: process.env.SECRET_KEY } });
`;

export const APPS: readonly ConsumerApp[] = [
  {
    id: 'a',
    title: 'core only: stateless verification against a JWKS URL',
    line: 'npm i @restjwt/core',
    pieces: ['@restjwt/core'],
    kind: 'jwks',
    missing: {
      code: `import { createPasswordHasher } from '@restjwt/core';
await createPasswordHasher().hash('secret').catch((e) => console.log(e.name, e.message));`,
      message: 'restjwt: password hashing needs the "@node-rs/argon2" package: npm i @node-rs/argon2',
    },
    source: `import { createServer } from 'node:http';
import { createRestJwt, NotAuthenticated, type CoreResponse } from '@restjwt/core';
import { createMemoryStore } from '@restjwt/core/memory';

// Verification only: keys come from the issuer's JWKS; the memory store is never asked for a user (stateless).
const restjwt = createRestJwt({ store: createMemoryStore(), settings: { ALGORITHM: 'RS256', JWK_URL: process.env.JWKS_URL } });

const server = createServer(async (req, res) => {
  const headers = { authorization: req.headers.authorization };
  let answer: CoreResponse;
  try {
    const auth = await restjwt.authenticate(headers, { stateless: true });
    answer = auth === null ? restjwt.errorResponse(new NotAuthenticated(), headers) : { status: 200, headers: { 'Content-Type': 'application/json' }, body: { user_id: auth.user.id } };
  } catch (err) {
    answer = restjwt.errorResponse(err, headers);
  }
  res.writeHead(answer.status, answer.headers).end(JSON.stringify(answer.body));
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  if (typeof address === 'object' && address !== null) console.log(\`listening on http://127.0.0.1:\${address.port}\`);
});
`,
  },
  {
    id: 'b',
    title: 'core + Express + PostgreSQL',
    line: 'npm i @restjwt/core @restjwt/express @restjwt/sql express pg',
    pieces: ['@restjwt/core', '@restjwt/express', '@restjwt/sql', 'express', 'pg', 'kysely', '@node-rs/argon2', '@types/express'],
    database: 'postgres',
    kind: 'login',
    missing: {
      code: `import { openSqlStore } from '@restjwt/sql';
await openSqlStore({ url: 'mysql://root@127.0.0.1:3306/test' }).catch((e) => console.log(e.name, e.message));`,
      message: 'restjwt: the MariaDB/MySQL store needs the "mysql2" package: npm i mysql2',
    },
    source: `import express from 'express';
import { createPasswordHasher, createRestJwt, createUserNormalized, findUserByUsername } from '@restjwt/core';
import { errorHandler, guard, restjwtRouter } from '@restjwt/express';
import { openSqlStore } from '@restjwt/sql';

const store = await openSqlStore({ url: process.env.DATABASE_URL ?? '' });
${SEED}
const app = express();
app.use(restjwtRouter({ restjwt, prefix: '/api/' }));
app.get('/api/protected/', guard(restjwt), (_req, res) => {
  res.json({ message: 'Hello, authenticated user!' });
});
app.use(errorHandler(restjwt));
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  if (typeof address === 'object' && address !== null) console.log(\`listening on http://127.0.0.1:\${address.port}\`);
});
`,
  },
  {
    id: 'c',
    title: 'core + Fastify + SQLite',
    line: 'npm i @restjwt/core @restjwt/fastify @restjwt/sqlite fastify',
    pieces: ['@restjwt/core', '@restjwt/fastify', '@restjwt/sqlite', 'fastify', 'fastify-plugin', 'better-sqlite3', '@types/better-sqlite3', '@node-rs/argon2'],
    kind: 'login',
    source: `import Fastify from 'fastify';
import { createPasswordHasher, createRestJwt, createUserNormalized, findUserByUsername } from '@restjwt/core';
import { guard, restjwtPlugin } from '@restjwt/fastify';
import { openSqliteStore } from '@restjwt/sqlite';

const store = await openSqliteStore({ filename: './app.sqlite3' });
${SEED}
const app = Fastify();
await app.register(restjwtPlugin, { restjwt, prefix: '/api/' });
app.get('/api/protected/', { preHandler: guard(restjwt) }, async () => ({ message: 'Hello, authenticated user!' }));
console.log(\`listening on \${await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) })}\`);
`,
  },
  {
    id: 'd',
    title: 'core + Hono + the memory store',
    line: 'npm i @restjwt/core @restjwt/hono @node-rs/argon2 hono @hono/node-server',
    pieces: ['@restjwt/core', '@restjwt/hono', '@node-rs/argon2', 'hono', '@hono/node-server'],
    kind: 'login',
    source: `import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createPasswordHasher, createRestJwt, createUserNormalized, findUserByUsername } from '@restjwt/core';
import { createMemoryStore } from '@restjwt/core/memory';
import { errorHandler, guard, restjwtRoutes } from '@restjwt/hono';

const store = createMemoryStore();
${SEED}
const app = new Hono();
app.route('/', restjwtRoutes({ restjwt, prefix: '/api/' }));
app.get('/api/protected/', guard(restjwt), (c) => c.json({ message: 'Hello, authenticated user!' }));
app.onError(errorHandler(restjwt));
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT ?? 0) }, (info) => {
  console.log(\`listening on http://127.0.0.1:\${info.port}\`);
});
`,
  },
  {
    id: 'e',
    title: 'core + NestJS + MariaDB',
    line: 'npm i @restjwt/core @restjwt/nest @restjwt/sql @nestjs/core@11 @nestjs/common@11 @nestjs/platform-express@11 reflect-metadata rxjs mysql2',
    // Nest's Express platform brings Express itself.
    pieces: ['@restjwt/core', '@restjwt/nest', '@restjwt/sql', '@nestjs/core', '@nestjs/common', '@nestjs/platform-express', 'express', 'mysql2', 'kysely', '@node-rs/argon2'],
    database: 'mysql',
    kind: 'login',
    tscFlags: ['--experimentalDecorators', '--emitDecoratorMetadata'],
    source: `import 'reflect-metadata';
import { Controller, Get, Module, UseGuards } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createPasswordHasher, createRestJwt, createUserNormalized, findUserByUsername } from '@restjwt/core';
import { AuthGuard, RestJwtModule } from '@restjwt/nest';
import { openSqlStore } from '@restjwt/sql';

const store = await openSqlStore({ url: process.env.DATABASE_URL ?? '' });
${SEED}
@Controller('api')
class ProtectedController {
  @Get('protected/')
  @UseGuards(AuthGuard)
  hello() {
    return { message: 'Hello, authenticated user!' };
  }
}

@Module({ imports: [RestJwtModule.forRoot({ restjwt, prefix: '/api/' })], controllers: [ProtectedController] })
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: false });
await app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
console.log(\`listening on \${(await app.getUrl()).replace('[::1]', '127.0.0.1')}\`);
`,
  },
  {
    id: 'f',
    title: "the CLI's zero-config serve",
    line: 'npm i restjwt',
    pieces: [
      'restjwt', '@restjwt/core', '@restjwt/fastify', '@restjwt/sqlite', 'fastify', 'fastify-plugin', '@fastify/swagger', 'commander',
      'better-sqlite3', '@types/better-sqlite3', '@node-rs/argon2', 'bcryptjs',
    ],
    kind: 'cli',
  },
];
