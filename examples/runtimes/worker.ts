/**
 * workerd (Cloudflare Workers): an ES module Worker. The environment comes as bindings (text bindings in the
 * workerd config, `[vars]` under wrangler); the app is built at the first request, where bindings are known, and kept.
 * Bundled with rolldown (test/runtimes/ shows how). It runs with or without Node compatibility: the core needs only
 * the web platform (WebCrypto, fetch), and reaches for node:crypto only where it is complete.
 */
import { buildApp, type AppEnv, type RunningApp } from './app.js';

let running: Promise<RunningApp> | undefined;

export default {
  async fetch(request: Request, env: AppEnv): Promise<Response> {
    running ??= buildApp(env, `workerd ${navigator?.userAgent ?? ""}`);
    return (await running).app.fetch(request);
  },
};
