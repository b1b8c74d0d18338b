/**
 * The admin page's audit log in Chromium, against the reference server: real logins, refused logins, a refresh-token
 * reuse and a logout over HTTP (the clock moved between them), then the Events view (filters, a click on a user,
 * paging, errors next to their fields) and the last-hour Dashboard (totals, and the SVG charts' bars, counted).
 * A store without an audit log, and a service with it off, say so. `RESTJWT_SCREENSHOTS=1` rewrites
 * docs/screenshots/admin-audit.png.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createMemoryStore } from '@restjwt/core/memory';
import { PASSWORD } from '../helpers/server.js';
import { describeBrowser, startBrowserEnv, takeScreenshots, type BrowserEnv } from './browser.js';
import { withoutCapability } from '../helpers/without-capability.js';

// Functions passed to evaluate/evaluateAll run in the browser; the project compiles without the DOM library, so
// elements are typed by the little the functions use.
type Attrs = { getAttribute(name: string): string | null };

const SCREENSHOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../docs/screenshots/admin-audit.png');
const FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0';
const PHONE = 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36';
const CURL = 'curl/8.5.0';
/** The browser's time zone in the events test: +05:30, so that a "From" typed in local time must carry its offset. */
const ZONE = { id: 'Asia/Kolkata', offsetMinutes: 330 };
const MINUTE = 60_000;

/** One event the test caused, with the server-clock window it happened in. */
interface Caused {
  type: 'login' | 'login_failed' | 'refresh_reuse' | 'logout' | 'user_created';
  /** The name the events view shows. */
  user: string;
  /** The group of events between two clock moves (A, B, C, or "final": everything after the last move). */
  group: string;
  before: number;
  after: number;
}

const floorMinute = (ms: number): number => Math.floor(ms / MINUTE) * MINUTE;
/** A datetime-local value for the instant `ms` in {@link ZONE}. */
const zoneLocal = (ms: number): string => new Date(ms + ZONE.offsetMinutes * MINUTE).toISOString().slice(0, 16);

describeBrowser('admin audit log (Chromium)', () => {
  let e: BrowserEnv;
  /** Every event so far, oldest first; the server's clock is Date.now() + offset. */
  const caused: Caused[] = [];
  let offset = 0;
  let group = 'A';
  const now = (): number => Date.now() + offset;
  const advance = (ms: number, next: string): void => {
    e.app.advance(ms);
    offset += ms;
    group = next;
  };
  const ids: Record<string, string> = {};

  /** Runs `request` (one event of `type` about `user`), recording when it happened. */
  async function cause(type: Caused['type'], user: string, request: () => Promise<number>, status: number): Promise<void> {
    const before = now();
    expect(await request()).toBe(status);
    caused.push({ type, user, group, before, after: now() });
  }

  const login = (username: string, password: string, agent: string) => async () =>
    (await e.app.post('/api/token/', { username, password }, { 'user-agent': agent })).status;

  /** Opens /admin/ in a fresh context and signs the staff user in: one more `login` event. */
  async function openAdmin(label: string, options: BrowserContextOptions = {}): Promise<{ page: Page; errors: string[] }> {
    const opened = await e.newPage(await e.newContext(label, options));
    const { page } = opened;
    await page.goto(`${e.url}/admin/`);
    const signIn = page.getByRole('region', { name: 'Sign in' });
    await signIn.getByLabel('Username').fill('admin');
    await signIn.getByLabel('Password').fill(PASSWORD);
    await cause('login', 'admin', async () => {
      await signIn.getByRole('button', { name: 'Sign in' }).click();
      await page.locator('#status', { hasText: 'Signed in.' }).waitFor();
      return 200;
    }, 200);
    return opened;
  }

  beforeAll(async () => {
    e = await startBrowserEnv({ rotateRefreshTokens: true, blacklistAfterRotation: true }, { store: createMemoryStore() });
    ids.admin = (await e.app.user('admin', { isStaff: true })).id;
    ids.alice = (await e.app.user('alice')).id;
    ids.bob = (await e.app.user('bob')).id;

    // A: three logins, one wrong password.
    let aliceRefresh = '';
    let bobRefresh = '';
    await cause('login', 'alice', async () => {
      const r = await e.app.post('/api/token/', { username: 'alice', password: PASSWORD }, { 'user-agent': FIREFOX });
      aliceRefresh = r.json.refresh as string;
      return r.status;
    }, 200);
    await cause('login', 'alice', login('alice', PASSWORD, PHONE), 200);
    await cause('login', 'bob', async () => {
      const r = await e.app.post('/api/token/', { username: 'bob', password: PASSWORD }, { 'user-agent': FIREFOX });
      bobRefresh = r.json.refresh as string;
      return r.status;
    }, 200);
    await cause('login_failed', 'alice', login('alice', 'not her password', FIREFOX), 401);
    advance(14 * MINUTE, 'B');
    // B: someone tries a name nobody has.
    await cause('login_failed', 'mallory', login('mallory', 'letmein', CURL), 401);
    await cause('login_failed', 'mallory', login('mallory', 'password1', CURL), 401);
    advance(19 * MINUTE, 'C');
    // C: bob's refresh token is rotated, then the old one comes back (a stolen copy): reuse. Alice logs out.
    const rotated = await e.app.post('/api/token/refresh/', { refresh: bobRefresh });
    expect(rotated.status).toBe(200);
    await cause('refresh_reuse', 'bob', async () => (await e.app.post('/api/token/refresh/', { refresh: bobRefresh }, { 'user-agent': CURL })).status, 401);
    await cause('logout', 'alice', async () => (await e.app.post('/api/token/blacklist/', { refresh: aliceRefresh }, { 'user-agent': FIREFOX })).status, 200);
    advance(13 * MINUTE, 'final');
    // Final: two more logins; the staff sign-ins of the tests come after them.
    await cause('login', 'bob', login('bob', PASSWORD, PHONE), 200);
    await cause('login', 'alice', login('alice', PASSWORD, FIREFOX), 200);
    // An admin action, through the API: the event names the staff user as its actor.
    let staff = '';
    await cause('login', 'admin', async () => {
      const r = await e.app.post('/api/token/', { username: 'admin', password: PASSWORD }, { 'user-agent': CURL });
      staff = r.json.access as string;
      return r.status;
    }, 200);
    await cause('user_created', 'dave', async () => (await e.app.post('/api/admin/users/', { username: 'dave', password: PASSWORD }, { authorization: `Bearer ${staff}`, 'user-agent': CURL })).status, 201);
  });
  afterAll(() => e?.close());

  /** The types and the user column of the rows shown. */
  const shown = async (page: Page): Promise<{ types: (string | null)[]; users: string[] }> => ({
    types: await page.locator('#events-body tr').evaluateAll((rows) => rows.map((r) => (r as unknown as Attrs).getAttribute('data-type'))),
    users: (await page.locator('#events-body tr td:nth-child(3)').allTextContents()).map((t) => t.trim()),
  });
  const newestFirst = (keep: (c: Caused) => boolean = () => true) => {
    const rows = caused.filter(keep).reverse();
    return { types: rows.map((c) => c.type), users: rows.map((c) => c.user) };
  };

  it('lists the events newest first; filters by type, by user, by a click on a user and by time; pages; shows errors', async () => {
    const { page, errors } = await openAdmin('events', { timezoneId: ZONE.id });
    const events = page.getByRole('region', { name: 'Events' });
    const apply = () => events.getByRole('button', { name: 'Apply' }).click();
    const clear = () => events.getByRole('button', { name: 'Clear' }).click();

    await expect.poll(() => shown(page)).toEqual(newestFirst());
    // One row in full: the refused login of a name nobody has.
    const mallory = page.locator('#events-body tr[data-type="login_failed"]', { hasText: 'mallory' }).first();
    const cells = await mallory.locator('td').allTextContents();
    expect(cells.slice(1)).toEqual(['Login failed', 'mallory', '', '127.0.0.1', CURL, 'reason=unknown_user']);
    const at = await mallory.locator('time').getAttribute('datetime');
    const malloryEvent = caused.find((c) => c.user === 'mallory') as Caused;
    expect(Date.parse(at ?? '')).toBeGreaterThanOrEqual(malloryEvent.before - 1000);
    // A browser's User-Agent is shortened, in full in its title.
    const firefox = page.locator('#events-body td.ua span', { hasText: 'Firefox 128 · Windows NT 10.0' }).first();
    expect(await firefox.getAttribute('title')).toBe(FIREFOX);
    // An admin action names its actor.
    expect(await page.locator('#events-body tr[data-type="user_created"] td').allTextContents()).toEqual([expect.any(String), 'User created', 'dave', 'admin', '127.0.0.1', CURL, 'staff=false active=true']);
    // The reuse event is stored with bob's id only: the page names him from what it knows.
    expect(await page.locator('#events-body tr[data-type="refresh_reuse"] td').nth(2).textContent()).toBe('bob');

    // By type.
    await events.getByLabel('Type').selectOption('login_failed');
    await apply();
    await expect.poll(() => shown(page)).toEqual(newestFirst((c) => c.type === 'login_failed'));
    expect((await shown(page)).users).toContain('mallory');

    // By user (a name nobody has).
    await events.getByLabel('Type').selectOption({ label: 'Any' });
    await events.getByLabel('User', { exact: true }).fill('mallory');
    await apply();
    await expect.poll(() => shown(page)).toEqual(newestFirst((c) => c.user === 'mallory'));

    // A click on a user: by id, so that alice's logout (stored without her name) is among them.
    await clear();
    await expect.poll(() => shown(page)).toEqual(newestFirst());
    await events.getByRole('button', { name: 'Show the events of alice' }).first().click();
    await expect.poll(() => shown(page)).toEqual(newestFirst((c) => c.user === 'alice'));
    expect(await events.getByLabel('User', { exact: true }).inputValue()).toBe(ids.alice);
    expect((await shown(page)).types).toContain('logout');

    // By time, typed in the browser's local time (+05:30): from the minute group C began, then up to A's end.
    await clear();
    const groupC = caused.filter((c) => c.group === 'C');
    const groupA = caused.filter((c) => c.group === 'A');
    await events.getByLabel('From').fill(zoneLocal(floorMinute(groupC[0]!.before)));
    await apply();
    await expect.poll(() => shown(page)).toEqual(newestFirst((c) => c.group === 'C' || c.group === 'final'));
    const asked = e.requests.filter((r) => r.url.includes('/api/admin/audit/?') && r.url.includes('since=')).at(-1);
    expect(decodeURIComponent(new URL(asked?.url ?? 'http://x/').searchParams.get('since') ?? '')).toBe(`${zoneLocal(floorMinute(groupC[0]!.before))}:00+05:30`);
    await events.getByLabel('From').fill('');
    await events.getByLabel('To').fill(zoneLocal(floorMinute(groupA.at(-1)!.after) + MINUTE));
    await apply();
    await expect.poll(() => shown(page)).toEqual(newestFirst((c) => c.group === 'A'));

    // Paging, 10 a page: older, newer, older again and back to the newest.
    await clear();
    await events.getByLabel('Per page').selectOption('10');
    await apply();
    const all = newestFirst();
    const first = { types: all.types.slice(0, 10), users: all.users.slice(0, 10) };
    const second = { types: all.types.slice(10, 20), users: all.users.slice(10, 20) };
    expect(all.types.length).toBeGreaterThan(10);
    await expect.poll(() => shown(page)).toEqual(first);
    expect(await page.locator('#events-range').textContent()).toBe('1–10');
    expect(await events.getByRole('button', { name: 'Newer' }).isDisabled()).toBe(true);
    await events.getByRole('button', { name: 'Older' }).click();
    await expect.poll(() => shown(page)).toEqual(second);
    expect(await page.locator('#events-range').textContent()).toBe(`11–${all.types.length}`);
    expect(await events.getByRole('button', { name: 'Older' }).isDisabled()).toBe(true);
    await events.getByRole('button', { name: 'Newer' }).click();
    await expect.poll(() => shown(page)).toEqual(first);
    await events.getByRole('button', { name: 'Older' }).click();
    await expect.poll(() => shown(page)).toEqual(second);
    await events.getByRole('button', { name: 'Newest' }).click();
    await expect.poll(() => shown(page)).toEqual(first);

    // "To" before "From": said next to "To", and nothing asked of the server.
    const before = e.requests.length;
    await events.getByLabel('From').fill('2030-01-02T10:00');
    await events.getByLabel('To').fill('2030-01-01T10:00');
    await apply();
    await page.locator('#events-until-error', { hasText: '“To” must be later than “From”.' }).waitFor();
    expect(await events.getByLabel('To').getAttribute('aria-invalid')).toBe('true');
    expect(e.requests.length).toBe(before);
    expect(await shown(page)).toEqual(first);

    // A value the API refuses (400): its message next to its field.
    await clear();
    await events.getByLabel('User', { exact: true }).fill('x'.repeat(300));
    await apply();
    await page.locator('#events-user-error', { hasText: 'Ensure this field has no more than 255 characters.' }).waitFor();
    expect(await events.getByLabel('User', { exact: true }).getAttribute('aria-invalid')).toBe('true');
    await events.getByRole('cell', { name: 'No events: check the filters.' }).waitFor();
    expect(await page.locator('#app').isVisible()).toBe(true);

    // The one 400 was expected; nothing else went wrong.
    expect(errors.filter((m) => !/status of 400 \(Bad Request\)/.test(m))).toEqual([]);
    e.assertNoExternalRequests();
  });

  it('shows the last hour: totals, and charts whose bars hold the counts of the minutes they happened in', async () => {
    const { page, errors } = await openAdmin('dashboard');
    const dashboard = page.getByRole('region', { name: 'Last hour' });
    const total = async (key: string): Promise<number> => Number(await page.locator(`#totals [data-total="${key}"]`).getAttribute('data-count'));
    const count = (type: Caused['type']): number => caused.filter((c) => c.type === type).length;
    await expect.poll(() => total('login')).toBe(count('login'));
    // Counted here, independently: 3 + 2 logins and the staff sign-ins of these tests; alice's and mallory's refusals; one reuse; one logout.
    expect(count('login')).toBeGreaterThanOrEqual(6);
    expect(await total('login_failed')).toBe(3);
    expect(await total('refresh_reuse')).toBe(1);
    expect(await total('logout')).toBe(1);
    expect(await dashboard.locator('[data-total="refresh_reuse"]').getAttribute('class')).toBe('alert');
    expect(await page.locator('#total-login_failed').textContent()).toBe('3');

    // The charts: named images with their totals as description.
    const logins = dashboard.getByRole('img', { name: 'Logins per minute: ok vs failed' });
    const reuse = dashboard.getByRole('img', { name: 'Refresh-token reuse detected per minute' });
    expect(await logins.count()).toBe(1);
    expect(await reuse.count()).toBe(1);
    const description = async (chart: typeof logins): Promise<string | null> =>
      page.locator(`[id="${await chart.getAttribute('aria-describedby')}"]`).textContent();
    expect(await description(logins)).toMatch(new RegExp(`^${count('login')} logins ok and 3 failed in the last 60 minutes\\. At most \\d+ in one minute \\(.+\\)\\.$`));
    expect(await description(reuse)).toMatch(/^Refresh-token reuse detected once in the last 60 minutes; its session was revoked\. All in one minute \(.+\)\.$/);
    expect(await logins.locator('text.tick').allTextContents()).toEqual(expect.arrayContaining(['0', '−60 min', '−30 min', 'now']));

    // One bar per minute in each series, each at its minute, holding that minute's count.
    type Bar = { series: string; count: number; at: number; height: number };
    const bars = async (chart: typeof logins): Promise<Bar[]> =>
      chart.locator('rect').evaluateAll((nodes) =>
        nodes.map((n) => {
          const a = n as unknown as Attrs;
          return { series: a.getAttribute('data-series') ?? '', count: Number(a.getAttribute('data-count')), at: Date.parse(a.getAttribute('data-at') ?? ''), height: Number(a.getAttribute('height')) };
        }),
      );
    const drawn = [...(await bars(logins)), ...(await bars(reuse))];
    const loadedAt = now();
    for (const series of ['login', 'login_failed', 'refresh_reuse'] as const) {
      const row = drawn.filter((b) => b.series === series);
      expect(row).toHaveLength(60);
      expect(row.map((b) => b.at)).toEqual(row.map((_, i) => row[0]!.at + i * MINUTE));
      // The last bar is the current minute.
      expect(row[59]!.at).toBeLessThanOrEqual(loadedAt);
      expect(row[59]!.at + MINUTE).toBeGreaterThan(loadedAt - 30_000);
      expect(row.every((b) => (b.count > 0) === (b.height > 0))).toBe(true);
      expect(row.reduce((n, b) => n + b.count, 0)).toBe(count(series));
      for (const g of ['A', 'B', 'C', 'final']) {
        const inGroup = caused.filter((c) => c.group === g);
        const from = floorMinute(Math.min(...inGroup.map((c) => c.before)));
        const to = floorMinute(Math.max(...inGroup.map((c) => c.after)));
        const counted = row.filter((b) => b.at >= from && b.at <= to).reduce((n, b) => n + b.count, 0);
        expect({ series, group: g, counted }).toEqual({ series, group: g, counted: inGroup.filter((c) => c.type === series).length });
      }
    }
    // The final group (the last logins and the staff sign-ins) is in the last bars: nothing after them.
    const finalTo = floorMinute(Math.max(...caused.filter((c) => c.group === 'final').map((c) => c.after)));
    const lastBar = drawn.filter((b) => b.series === 'login')[59]!.at;
    expect(finalTo).toBeGreaterThanOrEqual(lastBar - MINUTE);
    expect(drawn.filter((b) => b.at > finalTo).every((b) => b.count === 0)).toBe(true);
    const stackedMax = Math.max(...drawn.filter((b) => b.series === 'login').map((b, i) => b.count + drawn.filter((f) => f.series === 'login_failed')[i]!.count));
    expect(Number(await logins.locator('text.max').getAttribute('data-max'))).toBe(stackedMax);

    // Refresh: a new refusal shows.
    await cause('login_failed', 'bob', login('bob', 'wrong', FIREFOX), 401);
    await dashboard.getByRole('button', { name: 'Refresh' }).click();
    await expect.poll(() => total('login_failed')).toBe(4);

    if (takeScreenshots) {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.locator('#audit').screenshot({ path: SCREENSHOT });
    }
    expect(errors).toEqual([]);
    e.assertNoExternalRequests();
  });
});

/** Signs the staff user in on the open admin page. */
async function signIn(page: Page): Promise<void> {
  const form = page.getByRole('region', { name: 'Sign in' });
  await form.getByLabel('Username').fill('admin');
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

describeBrowser('admin audit log on a store that keeps none (Chromium)', () => {
  let e: BrowserEnv;
  beforeAll(async () => {
    const inner = createMemoryStore();
    const store = withoutCapability(inner, 'audit');
    e = await startBrowserEnv({}, { store });
    await e.app.user('admin', { isStaff: true });
  });
  afterAll(() => e?.close());

  it('hides the dashboard and the events, says why, and the rest of the page works', async () => {
    const { page, errors } = await e.newPage(await e.newContext('no-audit'));
    await page.goto(`${e.url}/admin/`);
    await signIn(page);
    await page.getByRole('note').filter({ hasText: /this store keeps no audit log/i }).waitFor();
    expect(await page.locator('#dashboard').isHidden()).toBe(true);
    expect(await page.locator('#events').isHidden()).toBe(true);
    await page.getByRole('button', { name: 'Manage admin' }).waitFor();
    // Both audit calls answered 501, as expected; nothing else went wrong.
    expect(errors.filter((m) => !/status of 501 \(Not Implemented\)/.test(m))).toEqual([]);
  });
});

describeBrowser('admin audit log turned off (Chromium)', () => {
  let e: BrowserEnv;
  beforeAll(async () => {
    e = await startBrowserEnv({ auditLog: false }, { store: createMemoryStore() });
    await e.app.user('admin', { isStaff: true });
  });
  afterAll(() => e?.close());

  it('says that nothing new is recorded, and shows what there is (nothing)', async () => {
    const { page, errors } = await e.newPage(await e.newContext('audit-off'));
    await page.goto(`${e.url}/admin/`);
    await signIn(page);
    await page.getByRole('note').filter({ hasText: 'The audit log is off' }).waitFor();
    await page.getByRole('cell', { name: 'No events.' }).waitFor();
    await expect.poll(() => page.locator('#total-login').textContent()).toBe('0');
    expect(await page.locator('#chart-reuse-desc').textContent()).toBe('No refresh-token reuse in the last 60 minutes.');
    expect(errors).toEqual([]);
  });
});
