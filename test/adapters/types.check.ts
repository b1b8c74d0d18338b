/**
 * Compile-time checks of the adapters' types (run by `npm run typecheck`; never executed): the user type flows
 * from the middleware into the handler, `TokenUser` when stateless, and misuse does not compile.
 */
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import * as ex from '@restjwt/express';
import * as fa from '@restjwt/fastify';
import * as ho from '@restjwt/hono';
import { isStaff, type Permission, type RestJwt, type TokenUser, type UserRecord } from '@restjwt/core';

declare const restjwt: RestJwt;
const byEmail: Permission<UserRecord> = (auth) => auth?.user.email.endsWith('@example.com') === true;

export async function core(): Promise<void> {
  const a = await restjwt.authenticate({});
  const email: string | undefined = a?.user.email;
  const s = await restjwt.authenticate({}, { stateless: true });
  const claims: Readonly<Record<string, unknown>> | undefined = s?.user.claims;
  // @ts-expect-error a TokenUser has no email
  void s?.user.email;
  void [email, claims];
}

export function expressTypes(): void {
  const app = express();
  app.get('/a', ex.guard(restjwt), (_req, res) => {
    const user: UserRecord = res.locals.user; // non-null after guard
    // @ts-expect-error username is a string
    const n: number = res.locals.user.username;
    void [user, n];
  });
  app.get('/b', ex.authenticate(restjwt), (_req, res) => {
    // @ts-expect-error null when anonymous
    void res.locals.user.username;
  });
  app.get('/c', ex.guard(restjwt, { stateless: true, permissions: [isStaff] }), (_req, res) => {
    const user: TokenUser = res.locals.user;
    void user;
  });
  app.get('/d/:id', ex.guard(restjwt, byEmail), (req: ex.RestJwtRequest, res) => void res.json({ id: req.params.id, u: req.auth?.user.email }));
  // @ts-expect-error a permission on store users does not fit a stateless guard
  ex.guard(restjwt, { stateless: true, permissions: [byEmail] });
}

export function honoTypes(): void {
  const app = new Hono();
  app.get('/a', ho.guard(restjwt), (c) => {
    const user: UserRecord = c.get('user');
    // @ts-expect-error username is a string
    const n: number = c.get('user').username;
    return c.json({ user: user.id, n });
  });
  app.get('/b', ho.authenticate(restjwt, { stateless: true }), (c) => {
    const user: TokenUser | null = c.get('user');
    // @ts-expect-error null when anonymous
    void c.get('auth').token;
    return c.json({ id: user?.id ?? null });
  });
}

export function fastifyTypes(): void {
  const app = Fastify();
  app.get('/a', { preHandler: fa.guard(restjwt) }, async (req) => {
    const email: string | undefined = req.auth?.user.email; // UserRecord unless RestJwtFastifyTypes says otherwise
    return { email };
  });
}
