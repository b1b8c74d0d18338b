import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import { Body, Controller, Get, Inject, Post, UseGuards, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { describe, expect, it } from 'vitest';
import { AppModule, buildApp } from '../../examples/nest/app.js';
import {
  AuthGuard,
  createAuthGuard,
  CurrentAuth,
  CurrentUser,
  Permissions,
  RESTJWT,
  RestJwtModule,
} from '@restjwt/nest';
import { createRestJwt, isStaff, type Authentication, type RestJwt, type TokenUser, type UserRecord } from '@restjwt/core';
import { createMemoryStore } from '@restjwt/core/memory';
import { PASSWORD, SECRET, fastHasher } from '../helpers/server.js';
import { supertestClient } from './clients.js';
import { adapterSuite, views } from './suite.js';

const Authenticated = createAuthGuard({ permissions: [] });
const Stateless = createAuthGuard({ stateless: true });
const StatelessStaff = createAuthGuard({ stateless: true, permissions: [isStaff] });

@Controller('api')
class SuiteController {
  @Get('protected/')
  @UseGuards(AuthGuard)
  protectedView() {
    return views.protected();
  }

  @Get('staff/')
  @UseGuards(AuthGuard)
  @Permissions(isStaff)
  staff() {
    return views.staff();
  }

  @Get('whoami/')
  @UseGuards(Authenticated)
  whoami(@CurrentAuth() auth: Authentication<UserRecord> | null) {
    return views.whoami(auth);
  }

  @Get('stateless/')
  @UseGuards(Stateless)
  stateless(@CurrentAuth() auth: Authentication<TokenUser>) {
    return views.stateless(auth);
  }

  @Get('stateless/staff/')
  @UseGuards(StatelessStaff)
  statelessStaff(@CurrentAuth() auth: Authentication<TokenUser>) {
    return views.stateless(auth);
  }
}

async function nestClient(module: Parameters<typeof Test.createTestingModule>[0]) {
  const moduleRef = await Test.createTestingModule(module).compile();
  const app: INestApplication = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return { app, client: supertestClient(app.getHttpServer(), () => app.close()) };
}

adapterSuite('NestJS', {
  start: async (restjwt) => (await nestClient({ imports: [RestJwtModule.forRoot({ restjwt })], controllers: [SuiteController] })).client,
  listen: async (restjwt) => {
    const { app } = await nestClient({ imports: [RestJwtModule.forRoot({ restjwt })], controllers: [SuiteController] });
    await app.listen(0, '127.0.0.1');
    return { url: `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`, close: () => app.close() };
  },
  example: async (options) => {
    const { app } = await buildApp(options);
    return supertestClient(app.getHttpServer(), () => app.close());
  },
});

@Controller('api')
class ConventionsController {
  constructor(@Inject(RESTJWT) private readonly restjwt: RestJwt) {}

  @Post('echo/')
  @UseGuards(AuthGuard)
  echo(@Body() body: unknown, @CurrentUser() user: UserRecord) {
    return { body, user: user.username, lifetime: this.restjwt.settings.accessTokenLifetime };
  }
}

describe('NestJS adapter: Nest conventions', () => {
  const service = async () => {
    const store = createMemoryStore();
    await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
    return createRestJwt({ store, hasher: fastHasher, settings: { signingKey: SECRET } });
  };
  const json = { 'content-type': 'application/json' };
  const login = JSON.stringify({ username: 'alice', password: PASSWORD });

  it('forRootAsync takes its options from a factory; RESTJWT is injectable; Nest still parses its own routes', async () => {
    const restjwt = await service();
    const { client } = await nestClient({
      imports: [RestJwtModule.forRootAsync({ useFactory: async () => ({ restjwt, prefix: '/auth/' }) })],
      controllers: [ConventionsController],
    });
    try {
      const pair = await client.request('POST', '/auth/token/', { body: login, headers: json });
      expect(pair.status).toBe(200);
      const r = await client.request('POST', '/api/echo/', { body: '{"a":1}', headers: { ...json, authorization: `Bearer ${pair.json.access}` } });
      expect(r.status).toBe(201);
      expect(r.json).toEqual({ body: { a: 1 }, user: 'alice', lifetime: 300 });
      expect((await client.request('POST', '/auth/token')).headers.get('location')).toBe('/auth/token/');
    } finally {
      await client.close();
    }
  });

  it('the example module can be imported as it is by a testing module', async () => {
    const store = createMemoryStore();
    await store.createUser({ username: 'alice', passwordHash: await fastHasher.hash(PASSWORD) });
    const restjwt = createRestJwt({ store, hasher: fastHasher, settings: { signingKey: SECRET } });
    const { client } = await nestClient({ imports: [AppModule.forRoot(restjwt)] });
    try {
      const { access } = (await client.request('POST', '/api/token/', { body: login, headers: json })).json;
      expect((await client.request('GET', '/api/protected/', { headers: { authorization: `Bearer ${access}` } })).json).toEqual({ message: 'Hello, authenticated user!' });
    } finally {
      await client.close();
    }
  });
});
