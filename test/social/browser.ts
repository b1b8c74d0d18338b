/**
 * A browser for the tests, just enough of one: a cookie jar (per host, with paths and deletion; every port of a host
 * shares it, as in browsers), redirects followed by hand, and the OpenID Provider's development login and consent
 * forms filled in on the way.
 */
import { answer } from '../helpers/server.js';

interface Cookie {
  value: string;
  path: string;
}

export interface Step {
  status: number;
  url: string;
  location: string | null;
  headers: Headers;
  text: string;
  json: any;
  setCookies: string[];
}

export class Browser {
  /** host → cookie name → cookie. */
  private readonly jar = new Map<string, Map<string, Cookie>>();

  /** The cookie `name` this browser holds for `url`'s host, if any. */
  cookie(url: string, name: string): string | undefined {
    return this.jar.get(new URL(url).hostname)?.get(name)?.value;
  }

  /** One request, no redirect followed; cookies sent and stored. */
  async request(url: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Step> {
    const u = new URL(url);
    const cookies = [...(this.jar.get(u.hostname) ?? new Map<string, Cookie>()).entries()]
      .filter(([, c]) => u.pathname.startsWith(c.path))
      .map(([n, c]) => `${n}=${c.value}`)
      .join('; ');
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (cookies !== '') headers.cookie = cookies;
    const res = await fetch(url, { method: init.method ?? 'GET', body: init.body, headers, redirect: 'manual' });
    const setCookies = res.headers.getSetCookie();
    for (const line of setCookies) this.store(u, line);
    const { text, json } = await answer(res);
    const location = res.headers.get('location');
    return { status: res.status, url, location: location === null ? null : new URL(location, url).href, headers: res.headers, text, json, setCookies };
  }

  get(url: string, headers: Record<string, string> = {}): Promise<Step> {
    return this.request(url, { headers });
  }

  post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Step> {
    return this.request(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  }

  /**
   * Follows redirects from `url`, signing in at the provider as `account` and consenting, until a redirect leads to
   * `stopAt` (a URL prefix, e.g. our callback): returns that redirect's target without requesting it.
   */
  async throughProvider(url: string, account: string, stopAt: string): Promise<string> {
    let next = url;
    for (let hops = 0; hops < 20; hops++) {
      if (next.startsWith(stopAt)) return next;
      const step = await this.get(next);
      if (step.location !== null) {
        next = step.location;
        continue;
      }
      if (step.status === 200 && step.text.includes('name="prompt"')) {
        const action = new URL(/action="([^"]+)"/.exec(step.text)?.[1] ?? '', next).href;
        const prompt = /name="prompt" value="(\w+)"/.exec(step.text)?.[1];
        const form: Record<string, string> = prompt === 'login' ? { prompt: 'login', login: account, password: 'any' } : { prompt: 'consent' };
        const sent = await this.request(action, { method: 'POST', body: new URLSearchParams(form).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        if (sent.location === null) throw new Error(`the provider's ${prompt ?? 'form'} did not redirect: ${sent.status} ${sent.text.slice(0, 300)}`);
        next = sent.location;
        continue;
      }
      throw new Error(`unexpected answer on the way through the provider: ${step.status} ${step.url}\n${step.text.slice(0, 500)}`);
    }
    throw new Error('too many redirects');
  }

  private store(u: URL, line: string): void {
    const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    let path = '/';
    let remove = value === '';
    for (const attr of attrs) {
      const [k = '', v = ''] = attr.split('=');
      if (k.toLowerCase() === 'path') path = v;
      if (k.toLowerCase() === 'max-age' && Number(v) <= 0) remove = true;
      if (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) remove = true;
    }
    let cookies = this.jar.get(u.hostname);
    if (cookies === undefined) this.jar.set(u.hostname, (cookies = new Map()));
    if (remove) cookies.delete(name);
    else cookies.set(name, { value, path });
  }
}
