/** Clients for the shared suite: each framework's own way of sending a request without a network. */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { toAnswer, type Answer, type Client, type Listening, type RequestInit } from './suite.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'head' | 'options';

/** supertest over a Node request listener or server (Express, Nest's `getHttpServer()`). */
export function supertestClient(app: Server | ((...args: never[]) => unknown), close: () => Promise<void> = async () => {}): Client {
  const agent = request(app as Server);
  return {
    async request(method: string, path: string, init: RequestInit = {}): Promise<Answer> {
      let test = agent[method.toLowerCase() as Method](path).redirects(0);
      for (const [k, v] of Object.entries(init.headers ?? {})) test = test.set(k, v);
      if (init.body !== undefined) test = test.send(init.body);
      // Keep the body as text, whatever its type: the suite compares bytes and parses JSON itself.
      const res = await test.buffer(true).parse((r, done) => {
        let text = '';
        r.setEncoding('utf8');
        r.on('data', (chunk: string) => (text += chunk));
        r.on('end', () => done(null, text));
      });
      return toAnswer(res.status, res.headers as Record<string, string>, typeof res.body === 'string' ? res.body : '');
    },
    close,
  };
}

/** A fetch-style app (Hono's `app.request`). */
export function fetchClient(send: (path: string, init: { method: string; headers?: Record<string, string>; body?: string }) => Response | Promise<Response>): Client {
  return {
    async request(method, path, init = {}) {
      const res = await send(path, { method, ...init });
      return toAnswer(res.status, Object.fromEntries(res.headers), await res.text());
    },
    close: async () => {},
  };
}

/** Starts a Node server on loopback at a free port (Express's app, @hono/node-server's adaptor server). */
export async function listenNode(server: Server): Promise<Listening> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
