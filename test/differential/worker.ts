/**
 * The differential test as a Worker (workerd): `GET /?scale=0.2` answers entry.ts's JSON line. Kept out of entry.ts:
 * a default export with `fetch` makes Bun serve the module instead of running it.
 */
import { runAll } from './entry.js';

export default {
  async fetch(request: Request): Promise<Response> {
    const scale = Number(new URL(request.url).searchParams.get('scale') ?? '1');
    return new Response(`${JSON.stringify(await runAll(scale))}\n`, { headers: { 'content-type': 'application/json' } });
  },
};
