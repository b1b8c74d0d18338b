// The admin page's only script (an ES module, no build step, no dependencies). It talks to the admin API under
// /api/admin/, which enforces every rule itself: this page only shows what the API answers.
//
// Tokens live in this module's memory (gone when the tab closes). In cookie mode the server keeps them in cookies
// instead, and every unsafe request echoes the CSRF cookie in X-CSRF-Token (the server's double-submit check).
// Everything the API returns is rendered with textContent, never as HTML: user agents and usernames are
// user-controlled text.

const API = '/api/';
const ADMIN = '/api/admin/';
const USERS_PAGE = 20;
const TOKENS_PAGE = 10;
/** The dashboard: the last hour, a bar a minute. */
const SUMMARY = `${ADMIN}audit/summary/?minutes=60&bucket=60`;

const state = {
  /** @type {string | null} */ access: null,
  /** @type {string | null} */ refresh: null,
  /** @type {{ id: string, username: string } | null} */ me: null,
  usernameField: 'username',
  usersOffset: 0,
  tokensOffset: 0,
  /** @type {Record<string, unknown> & { id: string, username: string, is_active: boolean } | null} */ selected: null,
  /** Whether logins record last_login (`GET settings/`); null until known. @type {boolean | null} */ lastLoginRecorded: null,
  /** Whether new events are written to the audit log (`GET settings/`); null until known. @type {boolean | null} */ auditLog: null,
  /** Usernames by user id, from the users list and the events: names for events stored with an id only. @type {Map<string, string>} */
  names: new Map(),
  /** The events pages shown, newest first: the last one is on screen, the first is the filters' newest page. @type {string[]} */
  eventsPages: [],
  /** The current events page's link to older events. @type {string | null} */ eventsNext: null,
  /** Bumped by every events load, so that a slow answer never replaces a later one. */ eventsTicket: 0,
};

const $ = (id) => {
  const node = document.getElementById(id);
  if (node === null) throw new Error(`#${id} is missing from the page`);
  return node;
};

/** An element with attributes/properties and children (strings become text nodes). */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = String(v);
    else if (k === 'text') node.textContent = String(v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const thisYear = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });

/** A <time>: compact local rendering (no year when it is this year's), the exact instant as its title. */
function time(iso) {
  if (iso === null || iso === undefined) return el('span', { class: 'muted', text: 'never' });
  const d = new Date(iso);
  const text = d.getFullYear() === new Date().getFullYear() ? thisYear.format(d) : dateFormat.format(d);
  return el('time', { datetime: iso, title: d.toISOString(), text });
}

/** A user's last login: with updateLastLogin off, a missing one was not recorded, which is not "never". */
function lastLogin(iso) {
  if ((iso === null || iso === undefined) && state.lastLoginRecorded === false) {
    return el('span', { class: 'muted', text: 'not recorded (updateLastLogin is off)' });
  }
  return time(iso);
}

const badge = (on, yes, no, offClass = 'no') => el('span', { class: `badge ${on ? 'yes' : offClass}`, text: on ? yes : no });

// --- status -------------------------------------------------------------------------------------------------------

function say(message, kind = 'ok') {
  const status = $('status');
  status.className = `status ${kind}`;
  // Cleared first so that the same message twice is announced twice.
  status.textContent = '';
  window.setTimeout(() => {
    status.textContent = message;
  }, 30);
}

// --- HTTP ---------------------------------------------------------------------------------------------------------

class ApiFailure extends Error {
  constructor(status, body) {
    const detail = body && typeof body.detail === 'string' ? body.detail : `The server answered ${status}.`;
    super(detail);
    this.status = status;
    this.code = body && typeof body.code === 'string' ? body.code : status === 400 ? 'invalid' : `http_${status}`;
    this.body = body;
  }
}

function csrfToken() {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === 'restjwt-csrf' || name === '__Host-restjwt-csrf') return decodeURIComponent(rest.join('='));
  }
  return null;
}

async function readJson(res) {
  const text = await res.text();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/** One request, with the access token (or the cookies) and the CSRF header; no retry. */
async function send(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (state.access !== null) headers.Authorization = `Bearer ${state.access}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const csrf = csrfToken();
  if (csrf !== null && method !== 'GET') headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
    cache: 'no-store',
  });
  return { res, data: await readJson(res) };
}

/** @type {Promise<boolean> | null} */
let refreshing = null;

/**
 * Refreshes the tokens; false when the session is over. Single flight: with rotation on, a refresh token works once,
 * and a second refresh with the same one would count as reuse and end the session.
 */
function refreshTokens() {
  refreshing ??= (async () => {
    if (state.refresh === null && csrfToken() === null) return false;
    const { res, data } = await send('POST', `${API}token/refresh/`, state.refresh === null ? {} : { refresh: state.refresh });
    if (!res.ok) return false;
    if (data && typeof data.access === 'string') state.access = data.access;
    if (data && typeof data.refresh === 'string') state.refresh = data.refresh;
    return true;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** An admin API call: JSON in and out; a refused access token is refreshed once; failures throw `ApiFailure`. */
async function api(method, path, body) {
  const used = state.access;
  let { res, data } = await send(method, path, body);
  // Another call may have refreshed meanwhile: then its new token is tried, not another refresh.
  if (res.status === 401 && (state.access !== used || (await refreshTokens()))) ({ res, data } = await send(method, path, body));
  if (res.status === 401) {
    signedOut('Your session has ended. Sign in again.');
    throw new ApiFailure(401, data);
  }
  if (res.status === 403 && data && data.code === 'permission_denied') {
    signedOut('Staff only: this account is not a staff member, so it cannot use the admin.');
    throw new ApiFailure(403, data);
  }
  if (!res.ok) throw new ApiFailure(res.status, data);
  return data;
}

/** Runs an action, announcing its failure; returns undefined when it failed. */
async function attempt(action) {
  try {
    return await action();
  } catch (err) {
    if (err instanceof ApiFailure && (err.status === 401 || (err.status === 403 && err.code === 'permission_denied'))) return undefined;
    say(err instanceof Error ? err.message : 'Something went wrong.', 'error');
    return undefined;
  }
}

// --- signing in and out -------------------------------------------------------------------------------------------

/** Learns the login field (`username`, or `email` on servers that log in by email) from the token endpoint. */
async function discoverLoginField() {
  try {
    const res = await fetch(`${API}token/`, { method: 'OPTIONS', headers: { Accept: 'application/json' } });
    const data = await readJson(res);
    const fields = data && data.actions && data.actions.POST ? Object.keys(data.actions.POST) : [];
    const field = fields.find((f) => f !== 'password');
    if (field === 'email') {
      state.usernameField = 'email';
      $('signin-username-label').textContent = 'Email';
      $('signin-username').setAttribute('autocomplete', 'email');
    }
  } catch {
    // Keep "username".
  }
}

async function signIn(event) {
  event.preventDefault();
  const error = $('signin-error');
  error.textContent = '';
  const username = /** @type {HTMLInputElement} */ ($('signin-username')).value.trim();
  const password = /** @type {HTMLInputElement} */ ($('signin-password')).value;
  if (username === '' || password === '') {
    error.textContent = 'Enter your username and password.';
    return;
  }
  const button = /** @type {HTMLButtonElement} */ ($('signin-submit'));
  button.disabled = true;
  try {
    const { res, data } = await send('POST', `${API}token/`, { [state.usernameField]: username, password });
    if (!res.ok) {
      error.textContent = data && typeof data.detail === 'string' ? data.detail : `Sign-in failed (${res.status}).`;
      return;
    }
    if (data && data.mfa_required === true) {
      // This page has no second login step (yet): say so rather than fail later on the missing tokens.
      error.textContent = 'This account has a second factor, and this page cannot ask for it yet: use a staff account without one, or the admin API with a token from POST /api/token/mfa/.';
      return;
    }
    state.access = data && typeof data.access === 'string' ? data.access : null;
    state.refresh = data && typeof data.refresh === 'string' ? data.refresh : null;
    const { res: meRes, data: me } = await send('GET', `${API}me/`);
    if (!meRes.ok || !me) {
      error.textContent = 'Signed in, but the server would not say who you are.';
      return;
    }
    if (me.is_staff !== true) {
      // The API would answer 403 to every admin call: say why now, and end the session this login started.
      await endSession();
      error.textContent = 'Staff only: this account is not a staff member, so it cannot use the admin.';
      say('Staff only: access refused.', 'error');
      return;
    }
    state.me = { id: me.id, username: me.username };
    state.names.set(me.id, me.username);
    /** @type {HTMLInputElement} */ ($('signin-password')).value = '';
    $('whoami-name').textContent = me.username;
    $('whoami').hidden = false;
    $('signin').hidden = true;
    $('app').hidden = false;
    // The name is in the top bar ("Signed in as …"): not repeated here.
    say('Signed in.');
    await Promise.all([loadSettings().then(() => Promise.all([loadUsers(), loadAudit()])), loadTokens()]);
    $('users-heading').focus();
  } catch {
    error.textContent = 'The server could not be reached.';
  } finally {
    button.disabled = false;
  }
}

/** Blacklists this tab's refresh token (or the cookie's) on the server; best effort. */
async function endSession() {
  try {
    if (state.refresh !== null) await send('POST', `${API}token/blacklist/`, { refresh: state.refresh });
    else if (csrfToken() !== null) await send('POST', `${API}token/blacklist/`, {});
  } catch {
    // Offline: the tokens are forgotten here and expire on their own.
  }
  state.access = null;
  state.refresh = null;
}

/** Back to the sign-in form, with a reason. */
function signedOut(message) {
  state.access = null;
  state.refresh = null;
  state.me = null;
  state.selected = null;
  forgetAudit();
  $('app').hidden = true;
  $('whoami').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = message;
  say(message, 'error');
}

async function signOut() {
  await endSession();
  state.me = null;
  state.selected = null;
  forgetAudit();
  $('app').hidden = true;
  $('whoami').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = '';
  say('Signed out.');
  $('signin-username').focus();
}

// --- users --------------------------------------------------------------------------------------------------------

/** Learns the settings that change what the page shows (whether last_login is recorded). */
async function loadSettings() {
  const settings = await attempt(() => api('GET', `${ADMIN}settings/`));
  state.lastLoginRecorded = settings === undefined ? null : settings.update_last_login === true;
  state.auditLog = settings === undefined ? null : settings.audit_log === true;
}

function range(offset, shown, count) {
  if (shown === 0) return count === 0 || count === null ? 'None' : `Nothing from ${offset + 1}`;
  return `${offset + 1}–${offset + shown}${count === null ? '' : ` of ${count}`}`;
}

async function loadUsers() {
  const page = await attempt(() => api('GET', `${ADMIN}users/?limit=${USERS_PAGE}&offset=${state.usersOffset}`));
  if (page === undefined) return;
  for (const user of page.results) state.names.set(user.id, user.username);
  const body = $('users-body');
  body.replaceChildren();
  if (page.results.length === 0) body.append(el('tr', {}, el('td', { colspan: 4, class: 'empty', text: 'No users.' })));
  for (const user of page.results) {
    const selected = state.selected !== null && state.selected.id === user.id;
    body.append(
      el(
        'tr',
        { class: selected ? 'selected' : undefined, 'aria-current': selected ? 'true' : undefined, 'data-user-id': user.id },
        el('td', {}, el('span', { class: 'name', text: user.username }), user.email === '' ? '' : el('span', { class: 'sub', text: user.email })),
        el('td', { class: 'badges' }, badge(user.is_active, 'Active', 'Inactive', 'ended'), user.is_staff ? el('span', { class: 'badge staff', text: 'Staff' }) : ''),
        el('td', { class: 'when' }, lastLogin(user.last_login)),
        el('td', {}, el('button', { type: 'button', class: 'secondary small', 'aria-label': `Manage ${user.username}`, text: 'Manage', onclick: () => selectUser(user) })),
      ),
    );
  }
  $('users-range').textContent = range(state.usersOffset, page.results.length, page.count);
  /** @type {HTMLButtonElement} */ ($('users-prev')).disabled = page.previous === null;
  /** @type {HTMLButtonElement} */ ($('users-next')).disabled = page.next === null;
}

async function selectUser(user) {
  state.selected = user;
  showDetail();
  await Promise.all([loadSessions(), loadIdentities(), loadFactors(), loadUsers()]);
  $('detail-heading').focus();
}

function showDetail() {
  const user = state.selected;
  $('detail-empty').hidden = user !== null;
  $('detail-body').hidden = user === null;
  if (user === null) return;
  $('detail-name').textContent = user.username;
  const joined = new Date(user.date_joined);
  $('detail-meta').textContent = `User ${user.id} · ${user.is_staff ? 'staff' : 'not staff'} · ${user.is_active ? 'active' : 'inactive'} · joined ${dateFormat.format(joined)}`;
  const self = state.me !== null && state.me.id === user.id;
  const toggle = /** @type {HTMLButtonElement} */ ($('toggle-active'));
  toggle.textContent = user.is_active ? 'Deactivate' : 'Activate';
  toggle.className = user.is_active ? 'danger' : 'secondary';
  toggle.disabled = self && user.is_active;
  $('self-note').hidden = !self;
}

async function refreshSelected() {
  if (state.selected === null) return;
  const user = await attempt(() => api('GET', `${ADMIN}users/${encodeURIComponent(state.selected.id)}/`));
  if (user === undefined) return;
  state.selected = user;
  showDetail();
}

async function toggleActive() {
  const user = state.selected;
  if (user === null) return;
  const deactivate = user.is_active;
  if (deactivate && !window.confirm(`Deactivate ${user.username}? Every session of theirs ends now.`)) return;
  const path = `${ADMIN}users/${encodeURIComponent(user.id)}/${deactivate ? 'deactivate' : 'activate'}/`;
  const result = await attempt(() => api('POST', path));
  if (result === undefined) return;
  state.selected = result.user;
  showDetail();
  say(deactivate ? `${user.username} deactivated; ${plural(result.revoked, 'token')} revoked.` : `${user.username} activated.`);
  await Promise.all([loadUsers(), loadSessions(), loadTokens()]);
}

async function resetPassword(event) {
  event.preventDefault();
  const user = state.selected;
  if (user === null) return;
  const input = /** @type {HTMLInputElement} */ ($('new-password'));
  const error = $('new-password-error');
  error.textContent = '';
  input.removeAttribute('aria-invalid');
  try {
    const result = await api('POST', `${ADMIN}users/${encodeURIComponent(user.id)}/password/`, { password: input.value });
    input.value = '';
    say(`Password of ${user.username} reset; ${plural(result.revoked, 'token')} revoked.`);
    await Promise.all([loadSessions(), loadIdentities(), loadTokens()]);
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 400 && err.body && Array.isArray(err.body.password)) {
      error.textContent = err.body.password.join(' ');
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } else if (!(err instanceof ApiFailure && (err.status === 401 || err.status === 403))) {
      say(err instanceof Error ? err.message : 'The password could not be reset.', 'error');
    }
  }
}

// --- sessions -----------------------------------------------------------------------------------------------------

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function loadSessions() {
  const user = state.selected;
  if (user === null) return;
  const ended = /** @type {HTMLInputElement} */ ($('include-ended')).checked;
  const list = await attempt(() => api('GET', `${ADMIN}users/${encodeURIComponent(user.id)}/sessions/${ended ? '?include_ended=true' : ''}`));
  const body = $('sessions-body');
  body.replaceChildren();
  if (list === undefined) {
    body.append(el('tr', {}, el('td', { colspan: 6, class: 'empty', text: 'Sessions could not be loaded.' })));
    return;
  }
  if (list.results.length === 0) {
    body.append(el('tr', {}, el('td', { colspan: 6, class: 'empty', text: ended ? 'No sessions.' : 'No active sessions.' })));
  }
  for (const s of list.results) {
    const when = dateFormat.format(new Date(s.created_at));
    body.append(
      el(
        'tr',
        { 'data-family-id': s.family_id },
        el('td', {}, time(s.created_at)),
        el('td', {}, time(s.last_used_at)),
        el('td', { class: 'mono' }, s.client_address ?? '—'),
        el('td', { class: 'ua' }, s.user_agent ?? el('span', { class: 'muted', text: 'unknown' })),
        el('td', {}, badge(s.active, 'Active', 'Ended', 'ended')),
        el(
          'td',
          {},
          s.active
            ? el('button', { type: 'button', class: 'danger small', 'aria-label': `Revoke the session started ${when}`, text: 'Revoke', onclick: () => revokeSession(s) })
            : '',
        ),
      ),
    );
  }
}

async function revokeSession(session) {
  const user = state.selected;
  if (user === null) return;
  const path = `${ADMIN}users/${encodeURIComponent(user.id)}/sessions/${encodeURIComponent(session.family_id)}/revoke/`;
  const result = await attempt(() => api('POST', path));
  if (result === undefined) return;
  say(`Session revoked (${plural(result.revoked, 'token')} blacklisted).`);
  await Promise.all([loadSessions(), loadTokens()]);
}

async function revokeAll() {
  const user = state.selected;
  if (user === null) return;
  if (!window.confirm(`Revoke every session of ${user.username}? They will have to sign in again everywhere.`)) return;
  const result = await attempt(() => api('POST', `${ADMIN}users/${encodeURIComponent(user.id)}/sessions/revoke-all/`));
  if (result === undefined) return;
  say(`All sessions of ${user.username} revoked (${plural(result.revoked, 'token')} blacklisted).`);
  await Promise.all([loadSessions(), loadTokens()]);
}

// --- linked identities --------------------------------------------------------------------------------------------

/** The user's linked identities (social login). A store that records none answers 501: the section is then hidden. */
async function loadIdentities() {
  const user = state.selected;
  if (user === null) return;
  const section = $('identities');
  const body = $('identities-body');
  let list;
  try {
    list = await api('GET', `${ADMIN}users/${encodeURIComponent(user.id)}/identities/`);
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 501) {
      section.hidden = true;
      return;
    }
    body.replaceChildren(el('tr', {}, el('td', { colspan: 6, class: 'empty', text: 'Identities could not be loaded.' })));
    if (!(err instanceof ApiFailure && (err.status === 401 || (err.status === 403 && err.code === 'permission_denied')))) {
      say(err instanceof Error ? err.message : 'Something went wrong.', 'error');
    }
    return;
  }
  // The answer of another user's panel, if the selection changed meanwhile.
  if (state.selected === null || state.selected.id !== user.id) return;
  section.hidden = false;
  $('identities-note').hidden = list.has_usable_password || list.count === 0;
  body.replaceChildren();
  if (list.results.length === 0) body.append(el('tr', {}, el('td', { colspan: 6, class: 'empty', text: 'No linked identities.' })));
  for (const i of list.results) {
    body.append(
      el(
        'tr',
        { 'data-provider': i.provider, 'data-subject': i.subject },
        el('td', {}, i.provider),
        el('td', { class: 'mono' }, i.subject),
        el('td', { class: 'wrap' }, i.email ?? el('span', { class: 'muted', text: 'none' })),
        el('td', {}, time(i.created_at)),
        el('td', {}, time(i.last_used_at)),
        el(
          'td',
          {},
          el('button', { type: 'button', class: 'danger small', 'aria-label': `Unlink ${i.provider} identity ${i.subject}`, text: 'Unlink', onclick: () => unlinkIdentity(i) }),
        ),
      ),
    );
  }
}

async function unlinkIdentity(identity) {
  const user = state.selected;
  if (user === null) return;
  if (!window.confirm(`Unlink the ${identity.provider} identity ${identity.subject} from ${user.username}? They will no longer be able to sign in with it.`)) return;
  const path = `${ADMIN}users/${encodeURIComponent(user.id)}/identities/${encodeURIComponent(identity.provider)}/${encodeURIComponent(identity.subject)}/unlink/`;
  const result = await attempt(() => api('POST', path));
  if (result === undefined) return;
  say(`The ${result.provider} identity ${result.subject} was unlinked from ${user.username}.`);
  await loadIdentities();
}

// --- second factors -----------------------------------------------------------------------------------------------

const FACTOR_KINDS = { totp: 'Authenticator app', webauthn: 'Passkey' };

/**
 * The user's second factors (never their secrets) and recovery codes left. A store that keeps none answers 501
 * `mfa_unsupported`: the note says so in place of the list.
 */
async function loadFactors() {
  const user = state.selected;
  if (user === null) return;
  const note = $('factors-note');
  const content = $('factors-content');
  const body = $('factors-body');
  let list;
  try {
    list = await api('GET', `${ADMIN}users/${encodeURIComponent(user.id)}/factors/`);
  } catch (err) {
    if (state.selected === null || state.selected.id !== user.id) return;
    if (err instanceof ApiFailure && err.status === 501) {
      content.hidden = true;
      note.textContent = `Second factors are not available: ${err.message}`;
      note.hidden = false;
      return;
    }
    body.replaceChildren(el('tr', {}, el('td', { colspan: 5, class: 'empty', text: 'Second factors could not be loaded.' })));
    if (!(err instanceof ApiFailure && (err.status === 401 || (err.status === 403 && err.code === 'permission_denied')))) {
      say(err instanceof Error ? err.message : 'Something went wrong.', 'error');
    }
    return;
  }
  // The answer of another user's panel, if the selection changed meanwhile.
  if (state.selected === null || state.selected.id !== user.id) return;
  content.hidden = false;
  const confirmed = list.results.filter((f) => f.confirmed).length;
  const codes = plural(list.recovery_codes_left, 'unused recovery code');
  note.hidden = false;
  note.textContent =
    confirmed === 0
      ? `No second factor: ${user.username} signs in with the password alone${list.recovery_codes_left > 0 ? ` (${codes} left)` : ''}.`
      : `Sign-ins ask for a second factor after the password. ${codes} left.`;
  body.replaceChildren();
  if (list.results.length === 0) body.append(el('tr', {}, el('td', { colspan: 5, class: 'empty', text: 'No second factors.' })));
  for (const f of list.results) {
    body.append(
      el(
        'tr',
        { 'data-factor-id': f.id, 'data-kind': f.kind },
        el('td', {}, FACTOR_KINDS[f.kind] ?? f.kind),
        el('td', {}, f.label),
        el('td', {}, badge(f.confirmed, 'Confirmed', 'Not confirmed', 'ended')),
        el('td', {}, time(f.created_at)),
        el('td', {}, time(f.last_used_at)),
      ),
    );
  }
  // Nothing to reset: the button would only end the user's sessions.
  /** @type {HTMLButtonElement} */ ($('factors-reset')).disabled = list.results.length === 0 && list.recovery_codes_left === 0;
}

/** Removes every factor and recovery code of the user (they lost their phone or key), ending every session of theirs. */
async function resetFactors() {
  const user = state.selected;
  if (user === null) return;
  if (!window.confirm(`Reset the second factors of ${user.username}? Every authenticator app, passkey and recovery code of theirs is removed, they sign in with the password alone, and every session of theirs ends.`)) return;
  const result = await attempt(() => api('POST', `${ADMIN}users/${encodeURIComponent(user.id)}/factors/reset/`));
  if (result === undefined) return;
  say(`Second factors of ${user.username} reset: ${plural(result.removed, 'factor')} removed, ${plural(result.revoked, 'token')} revoked.`);
  await Promise.all([loadFactors(), loadSessions(), loadTokens()]);
}

// --- creating users -----------------------------------------------------------------------------------------------

const CREATE_FIELDS = ['username', 'email', 'password'];

async function createUser(event) {
  event.preventDefault();
  const input = (name) => /** @type {HTMLInputElement} */ ($(`create-${name}`));
  for (const name of CREATE_FIELDS) {
    $(`create-${name}-error`).textContent = '';
    input(name).removeAttribute('aria-invalid');
  }
  $('create-error').textContent = '';
  const body = {
    username: input('username').value,
    email: input('email').value,
    password: input('password').value,
    is_staff: input('staff').checked,
  };
  try {
    const user = await api('POST', `${ADMIN}users/`, body);
    /** @type {HTMLFormElement} */ ($('create-form')).reset();
    say(`User ${user.username} created.`);
    await loadUsers();
  } catch (err) {
    if (!(err instanceof ApiFailure) || err.status === 401 || (err.status === 403 && err.code === 'permission_denied')) return;
    if (err.status === 400 && err.body && typeof err.body.detail !== 'string') {
      let first = null;
      for (const [field, messages] of Object.entries(err.body)) {
        const text = Array.isArray(messages) ? messages.join(' ') : String(messages);
        if (CREATE_FIELDS.includes(field)) {
          $(`create-${field}-error`).textContent = text;
          input(field).setAttribute('aria-invalid', 'true');
          first ??= input(field);
        } else {
          $('create-error').textContent = text;
        }
      }
      say('The user was not created: check the form.', 'error');
      first?.focus();
    } else {
      say(err.message, 'error');
    }
  }
}

// --- tokens and maintenance ---------------------------------------------------------------------------------------

async function loadTokens() {
  const page = await attempt(() => api('GET', `${ADMIN}tokens/?blacklisted=true&limit=${TOKENS_PAGE}&offset=${state.tokensOffset}`));
  const body = $('tokens-body');
  body.replaceChildren();
  if (page === undefined) {
    body.append(el('tr', {}, el('td', { colspan: 6, class: 'empty', text: 'Tokens could not be loaded.' })));
    return;
  }
  if (page.results.length === 0) body.append(el('tr', {}, el('td', { colspan: 6, class: 'empty', text: 'No blacklisted tokens.' })));
  for (const t of page.results) {
    body.append(
      el(
        'tr',
        {},
        el('td', { class: 'mono' }, t.jti),
        el('td', {}, t.username ?? el('span', { class: 'muted', text: t.user_id === null ? 'unknown' : `#${t.user_id}` })),
        el('td', {}, t.token_type),
        el('td', { class: 'when' }, time(t.created_at)),
        el('td', { class: 'when' }, time(t.expires_at)),
        el('td', { class: 'when' }, time(t.blacklisted_at)),
      ),
    );
  }
  $('tokens-range').textContent = range(state.tokensOffset, page.results.length, page.count);
  /** @type {HTMLButtonElement} */ ($('tokens-prev')).disabled = page.previous === null;
  /** @type {HTMLButtonElement} */ ($('tokens-next')).disabled = page.next === null;
}

async function flush() {
  if (!window.confirm('Delete the stored rows of every expired token?')) return;
  const result = await attempt(() => api('POST', `${ADMIN}flush/`));
  if (result === undefined) return;
  say(`Deleted ${plural(result.deleted, 'expired token')}.`);
  state.tokensOffset = 0;
  await loadTokens();
}

// --- the audit log: shared --------------------------------------------------------------------------------------

/** Every event type the API records (AUDIT_EVENT_TYPES, in its order), in a few words. */
const EVENT_TYPES = {
  login: 'Login',
  login_failed: 'Login failed',
  refresh_reuse: 'Refresh-token reuse',
  logout: 'Logout',
  logout_all: 'Logout everywhere',
  password_changed: 'Password changed',
  user_created: 'User created',
  user_activated: 'User activated',
  user_deactivated: 'User deactivated',
  session_revoked: 'Session revoked',
  sessions_revoked: 'All sessions revoked',
  identity_unlinked: 'Identity unlinked',
  factor_added: 'Second factor added',
  factor_removed: 'Second factor removed',
  factors_reset: 'Second factors reset',
  recovery_codes_generated: 'Recovery codes generated',
  recovery_code_used: 'Recovery code used',
  mfa_failed: 'Second step failed',
};

/** Types that may mean an attack on an account: shown in red. */
const ALARMING = new Set(['login_failed', 'refresh_reuse', 'mfa_failed']);

const sum = (counts) => counts.reduce((a, b) => a + b, 0);
const clock = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });

/** Loads both views, from the newest events with the filters as they are. */
async function loadAudit() {
  state.eventsPages = [eventsPath(readEventFilters().params)];
  await Promise.all([loadDashboard(), loadEvents()]);
}

function forgetAudit() {
  state.names.clear();
  state.eventsPages = [];
  state.eventsNext = null;
}

/** A store without an audit log answers 501: both views are hidden and the note says why. */
function auditUnavailable() {
  $('dashboard').hidden = true;
  $('events').hidden = true;
  $('audit-note-text').textContent =
    'This store keeps no audit log, so there are no events and no dashboard to show. The memory, SQLite and SQL stores keep one.';
  $('audit-note').hidden = false;
}

/** The store answered: both views show, with a note when new events are not being recorded (auditLog off). */
function auditAvailable() {
  $('dashboard').hidden = false;
  $('events').hidden = false;
  const off = state.auditLog === false;
  $('audit-note-text').textContent = off ? 'The audit log is off (the auditLog setting): no new events are recorded. What shows here was recorded before.' : '';
  $('audit-note').hidden = !off;
}

/**
 * What an audit call's failure means to the page: true when it was handled here (501: no audit log; 401 and the
 * staff-only 403: already signed out); false for the caller to show.
 */
function auditFailureHandled(err) {
  if (!(err instanceof ApiFailure)) return false;
  if (err.status === 501) {
    auditUnavailable();
    return true;
  }
  return err.status === 401 || (err.status === 403 && err.code === 'permission_denied');
}

// --- the audit log: the dashboard -------------------------------------------------------------------------------

async function loadDashboard() {
  let summary;
  try {
    summary = await api('GET', SUMMARY);
  } catch (err) {
    if (!auditFailureHandled(err)) say(err instanceof Error ? err.message : 'The dashboard could not be loaded.', 'error');
    return;
  }
  auditAvailable();
  const s = summary.series;
  const minutes = Math.round((s.login.length * summary.bucket_seconds) / 60);
  showTotal('login', sum(s.login));
  showTotal('login_failed', sum(s.login_failed));
  showTotal('refresh_reuse', sum(s.refresh_reuse));
  showTotal('logout', sum(s.logout) + sum(s.logout_all));
  $('dashboard-range').textContent = `${clock.format(new Date(summary.since))} to ${clock.format(new Date(summary.until))} (the server's clock), one bar a minute.`;
  const ok = sum(s.login);
  const failed = sum(s.login_failed);
  drawBars($('chart-logins'), summary, [
    { key: 'login', label: 'ok', className: 'ok', counts: s.login },
    { key: 'login_failed', label: 'failed', className: 'failed', counts: s.login_failed },
  ], `${plural(ok, 'login')} ok and ${failed} failed in the last ${minutes} minutes.`);
  const reuse = sum(s.refresh_reuse);
  drawBars($('chart-reuse'), summary, [{ key: 'refresh_reuse', label: 'reuse', className: 'reuse', counts: s.refresh_reuse }],
    reuse === 0
      ? `No refresh-token reuse in the last ${minutes} minutes.`
      : reuse === 1
        ? `Refresh-token reuse detected once in the last ${minutes} minutes; its session was revoked.`
        : `Refresh-token reuse detected ${reuse} times in the last ${minutes} minutes; each time, the session was revoked.`);
}

function showTotal(key, count) {
  $(`total-${key}`).textContent = String(count);
  const tile = /** @type {HTMLElement} */ ($('totals').querySelector(`[data-total="${key}"]`));
  tile.dataset.count = String(count);
  // Reuse means a refresh token was stolen or replayed: it stands out whenever there was any.
  tile.classList.toggle('alert', key === 'refresh_reuse' && count > 0);
}

// The charts are inline SVG built below with DOM calls: a few dozen lines, where a chart library would be a download
// of its own (and anything remote is refused by the page's CSP anyway).
const CHART = { width: 600, height: 150, left: 34, right: 8, top: 12, bottom: 24 };

/** An SVG element. Its namespace is that of the page's own <svg> (the HTML parser sets it): the script names no URL. */
function svgEl(svg, tag, attrs = {}, text) {
  const node = document.createElementNS(svg.namespaceURI, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Stacked bars in `svg`, one per bucket of `summary`; `layers` bottom first. The description (the totals) is the
 * chart's text alternative. Each bar carries data-series, data-count and data-at (its bucket's start).
 */
function drawBars(svg, summary, layers, description) {
  const { width, height, left, right, top, bottom } = CHART;
  const buckets = layers[0].counts.length;
  const since = Date.parse(summary.since);
  const bucketMs = summary.bucket_seconds * 1000;
  const plotWidth = width - left - right;
  const step = plotWidth / buckets;
  const baseline = height - bottom;
  const totals = layers[0].counts.map((_, i) => sum(layers.map((l) => l.counts[i])));
  const max = Math.max(0, ...totals);
  const scale = (height - top - bottom) / Math.max(1, max);
  const peak = clock.format(new Date(since + totals.indexOf(max) * bucketMs));
  const spread = max === 0 ? '' : sum(totals) === max ? ` All in one minute (${peak}).` : ` At most ${max} in one minute (${peak}).`;

  svg.replaceChildren(svgEl(svg, 'desc', { id: `${svg.id}-desc` }, description + spread));
  svg.append(svgEl(svg, 'line', { class: 'axis', x1: left, x2: width - right, y1: baseline, y2: baseline }));
  svg.append(svgEl(svg, 'text', { class: 'tick', x: left - 6, y: baseline + 4, 'text-anchor': 'end' }, '0'));
  if (max > 0) {
    svg.append(svgEl(svg, 'line', { class: 'grid', x1: left, x2: width - right, y1: top, y2: top }));
    svg.append(svgEl(svg, 'text', { class: 'tick max', x: left - 6, y: top + 4, 'text-anchor': 'end', 'data-max': max }, String(max)));
  }
  const minutes = Math.round((buckets * bucketMs) / 60_000);
  const ticks = [[left, 'start', `−${minutes} min`], [left + plotWidth / 2, 'middle', `−${Math.round(minutes / 2)} min`], [width - right, 'end', 'now']];
  for (const [x, anchor, label] of ticks) svg.append(svgEl(svg, 'text', { class: 'tick', x, y: height - 6, 'text-anchor': anchor }, label));

  const below = new Array(buckets).fill(0);
  for (const layer of layers) {
    const group = svgEl(svg, 'g', { class: `bars ${layer.className}` });
    layer.counts.forEach((count, i) => {
      const at = new Date(since + i * bucketMs);
      const y = baseline - (below[i] + count) * scale;
      below[i] += count;
      const bar = svgEl(svg, 'rect', { x: left + i * step + 1, y, width: Math.max(1, step - 2), height: count * scale, 'data-series': layer.key, 'data-count': count, 'data-at': at.toISOString() });
      bar.append(svgEl(svg, 'title', {}, `${clock.format(at)}: ${count} ${layer.label}`));
      group.append(bar);
    });
    svg.append(group);
  }
}

// --- the audit log: events --------------------------------------------------------------------------------------

const EVENT_FIELDS = ['user', 'type', 'since', 'until', 'limit'];
const eventInput = (name) => /** @type {HTMLInputElement} */ ($(`events-${name}`));

/** `date` in ISO 8601 with this browser's offset (2025-03-01T14:05:00+01:00): the local time the person typed, exactly. */
function localIso(date) {
  const pad = (n) => String(Math.abs(n)).padStart(2, '0');
  const offset = -date.getTimezoneOffset();
  const zone = `${offset < 0 ? '-' : '+'}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${zone}`;
}

/** A datetime-local field's instant: null when empty; an error when half typed (the browser then reports no value). */
function readDateField(name, errors) {
  const input = eventInput(name);
  if (input.validity.badInput) {
    errors[name] = ['Enter a whole date and time, or clear the field.'];
    return null;
  }
  if (input.value === '') return null;
  // A datetime-local value has no offset: Date reads it as local time.
  const date = new Date(input.value);
  if (Number.isNaN(date.getTime())) errors[name] = ['Enter a valid date and time.'];
  return Number.isNaN(date.getTime()) ? null : date;
}

/** The filters as query parameters, and what is wrong with them before asking the server (`{ field: [message] }`). */
function readEventFilters() {
  /** @type {Record<string, string[]>} */ const errors = {};
  const params = new URLSearchParams();
  const user = eventInput('user').value.trim();
  if (user !== '') params.set('user', user);
  const type = eventInput('type').value;
  if (type !== '') params.set('type', type);
  const since = readDateField('since', errors);
  const until = readDateField('until', errors);
  if (since !== null) params.set('since', localIso(since));
  if (until !== null) params.set('until', localIso(until));
  // The API would answer an empty page: said here instead, where it can be fixed.
  if (since !== null && until !== null && since >= until) errors.until = ['“To” must be later than “From”.'];
  params.set('limit', eventInput('limit').value);
  return { params, errors };
}

const eventsPath = (params) => `${ADMIN}audit/?${params.toString()}`;

function clearEventErrors() {
  for (const name of EVENT_FIELDS) {
    $(`events-${name}-error`).textContent = '';
    eventInput(name).removeAttribute('aria-invalid');
  }
  $('events-error').textContent = '';
}

/** DRF field errors (`{ field: [message] }`) next to their fields; others above the table. Focuses the first field. */
function showEventErrors(errors) {
  let first = null;
  for (const [field, messages] of Object.entries(errors)) {
    const text = Array.isArray(messages) ? messages.join(' ') : String(messages);
    if (EVENT_FIELDS.includes(field)) {
      $(`events-${field}-error`).textContent = text;
      eventInput(field).setAttribute('aria-invalid', 'true');
      first ??= eventInput(field);
    } else {
      $('events-error').textContent = text;
    }
  }
  first?.focus();
  say('No events shown: check the filters.', 'error');
}

/** Applies the filters from the newest event on, unless they are wrong; returns whether events are shown. */
async function applyEventFilters(event) {
  event?.preventDefault();
  clearEventErrors();
  const { params, errors } = readEventFilters();
  if (Object.keys(errors).length > 0) {
    showEventErrors(errors);
    return false;
  }
  state.eventsPages = [eventsPath(params)];
  return announceEvents(await loadEvents());
}

function announceEvents(shown) {
  if (shown !== null) say(`Events ${shown}, newest first.`);
  return shown !== null;
}

/** Shows the events of one user: by id when there is one, since events stored without a name match only the id. */
async function filterByUser(value) {
  eventInput('user').value = value;
  await applyEventFilters();
  $('events-heading').focus();
}

async function clearEventFilters() {
  /** @type {HTMLFormElement} */ ($('events-form')).reset();
  await applyEventFilters();
}

/** The next page, if the API's link is one of its own (a path under the admin API, on this origin). */
function olderLink(next) {
  if (typeof next !== 'string') return null;
  const url = new URL(next, window.location.href);
  return url.origin === window.location.origin && url.pathname.startsWith(`${ADMIN}audit/`) ? url.pathname + url.search : null;
}

async function pageEvents(move) {
  if (move === 'older' && state.eventsNext !== null) state.eventsPages.push(state.eventsNext);
  else if (move === 'newer' && state.eventsPages.length > 1) state.eventsPages.pop();
  else if (move === 'newest') state.eventsPages.splice(1);
  announceEvents(await loadEvents());
}

/** Loads the current events page; returns the range shown ("11–20"), or null when nothing could be shown. */
async function loadEvents() {
  const path = state.eventsPages.at(-1);
  if (path === undefined) return null;
  const ticket = ++state.eventsTicket;
  const body = $('events-body');
  let page;
  try {
    page = await api('GET', path);
  } catch (err) {
    if (ticket !== state.eventsTicket || auditFailureHandled(err)) return null;
    const fields = err instanceof ApiFailure && err.status === 400 && err.body && typeof err.body.detail !== 'string';
    body.replaceChildren(el('tr', {}, el('td', { colspan: 7, class: 'empty', text: fields ? 'No events: check the filters.' : 'Events could not be loaded.' })));
    setEventsPager(null, 0);
    if (fields) showEventErrors(err.body);
    else say(err instanceof Error ? err.message : 'The events could not be loaded.', 'error');
    return null;
  }
  if (ticket !== state.eventsTicket) return null;
  auditAvailable();
  for (const e of page.results) if (e.user_id !== null && e.username !== null) state.names.set(e.user_id, e.username);
  body.replaceChildren(...page.results.map(eventRow));
  if (page.results.length === 0) body.append(el('tr', {}, el('td', { colspan: 7, class: 'empty', text: 'No events.' })));
  return setEventsPager(olderLink(page.next), page.results.length);
}

/** The pager's buttons and range; returns the range. */
function setEventsPager(next, shown) {
  state.eventsNext = next;
  const limit = Number(new URLSearchParams(state.eventsPages[0]?.split('?')[1] ?? '').get('limit') ?? 50);
  const text = range((state.eventsPages.length - 1) * limit, shown, null);
  $('events-range').textContent = text;
  /** @type {HTMLButtonElement} */ ($('events-older')).disabled = next === null;
  /** @type {HTMLButtonElement} */ ($('events-newer')).disabled = state.eventsPages.length <= 1;
  /** @type {HTMLButtonElement} */ ($('events-newest')).disabled = state.eventsPages.length <= 1;
  return text;
}

const yearFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const secondsFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', second: '2-digit' });

/** An event's <time>: local, to the second (events come in bursts); the exact instant as its title. */
function eventTime(iso) {
  const d = new Date(iso);
  const text = d.getFullYear() === new Date().getFullYear() ? secondsFormat.format(d) : yearFormat.format(d);
  return el('time', { datetime: iso, title: d.toISOString(), text });
}

function eventRow(e) {
  return el(
    'tr',
    { 'data-event-id': e.id, 'data-type': e.type },
    el('td', { class: 'when' }, eventTime(e.at)),
    el('td', {}, el('span', { class: `badge event ${ALARMING.has(e.type) ? 'alarm' : ''}`, title: e.type, text: EVENT_TYPES[e.type] ?? e.type })),
    el('td', { class: 'who' }, userCell(e)),
    el('td', { class: 'who' }, e.actor_id === null ? '' : el('span', { title: `User ${e.actor_id}`, text: state.names.get(e.actor_id) ?? `#${e.actor_id}` })),
    el('td', { class: 'mono' }, e.client_address ?? '—'),
    el('td', { class: 'ua' }, e.user_agent === null ? el('span', { class: 'muted', text: 'unknown' }) : el('span', { title: e.user_agent, text: shortAgent(e.user_agent) })),
    el('td', { class: 'detail' }, ...detailPairs(e.detail)),
  );
}

/** The user as a button that filters by them; a name nobody has (a refused login) filters by that name. */
function userCell(e) {
  const name = e.username ?? (e.user_id === null ? undefined : state.names.get(e.user_id));
  if (name === undefined && e.user_id === null) return el('span', { class: 'muted', text: '—' });
  const label = name ?? `#${e.user_id}`;
  return el('button', {
    type: 'button',
    class: 'link',
    'aria-label': `Show the events of ${label}`,
    title: e.user_id === null ? 'No user has this name' : `User ${e.user_id}`,
    text: label,
    onclick: () => filterByUser(e.user_id ?? label),
  });
}

/** The browser and platform of a browser's User-Agent ("Firefox 128 · Windows NT 10.0"); anything else cut short. */
function shortAgent(ua) {
  const browsers = [['Edg', 'Edge'], ['OPR', 'Opera'], ['Firefox', 'Firefox'], ['FxiOS', 'Firefox'], ['CriOS', 'Chrome'], ['HeadlessChrome', 'Headless Chrome'], ['Chrome', 'Chrome'], ['Version', 'Safari']];
  let browser = null;
  for (const [token, name] of browsers) {
    const m = new RegExp(`\\b${token}/(\\d+)`).exec(ua);
    if (m !== null) {
      browser = `${name} ${m[1]}`;
      break;
    }
  }
  const platforms = /\(([^)]*)\)/.exec(ua)?.[1].split(';').map((p) => p.trim()) ?? [];
  const platform = platforms.find((p) => p !== '' && !/^(X11|U|compatible|Linux)$/.test(p));
  if (browser !== null) return platform === undefined ? browser : `${browser} · ${platform}`;
  return ua.length > 40 ? `${ua.slice(0, 39)}…` : ua;
}

/** `key=value` pairs, each in a <code>. */
function detailPairs(detail) {
  const pairs = Object.entries(detail ?? {}).map(([k, v]) => el('code', { class: 'kv', text: `${k}=${v === null ? 'null' : String(v)}` }));
  return pairs.flatMap((pair, i) => (i === 0 ? [pair] : [' ', pair]));
}

function fillTypeOptions() {
  const select = $('events-type');
  for (const [value, label] of Object.entries(EVENT_TYPES)) select.append(el('option', { value, text: `${label} (${value})` }));
}

// --- wiring -------------------------------------------------------------------------------------------------------

function start() {
  $('signin-form').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('users-reload').addEventListener('click', () => loadUsers());
  $('users-prev').addEventListener('click', () => {
    state.usersOffset = Math.max(0, state.usersOffset - USERS_PAGE);
    return loadUsers();
  });
  $('users-next').addEventListener('click', () => {
    state.usersOffset += USERS_PAGE;
    return loadUsers();
  });
  $('sessions-reload').addEventListener('click', () => Promise.all([refreshSelected(), loadSessions()]));
  $('include-ended').addEventListener('change', () => loadSessions());
  $('identities-reload').addEventListener('click', () => Promise.all([refreshSelected(), loadIdentities()]));
  $('factors-reload').addEventListener('click', () => loadFactors());
  $('factors-reset').addEventListener('click', resetFactors);
  $('toggle-active').addEventListener('click', toggleActive);
  $('revoke-all').addEventListener('click', revokeAll);
  $('password-form').addEventListener('submit', resetPassword);
  $('create-form').addEventListener('submit', createUser);
  $('tokens-reload').addEventListener('click', () => loadTokens());
  $('tokens-prev').addEventListener('click', () => {
    state.tokensOffset = Math.max(0, state.tokensOffset - TOKENS_PAGE);
    return loadTokens();
  });
  $('tokens-next').addEventListener('click', () => {
    state.tokensOffset += TOKENS_PAGE;
    return loadTokens();
  });
  $('flush').addEventListener('click', flush);
  fillTypeOptions();
  $('dashboard-reload').addEventListener('click', () => loadDashboard());
  $('events-form').addEventListener('submit', applyEventFilters);
  $('events-clear').addEventListener('click', clearEventFilters);
  $('events-reload').addEventListener('click', () => loadEvents());
  $('events-older').addEventListener('click', () => pageEvents('older'));
  $('events-newer').addEventListener('click', () => pageEvents('newer'));
  $('events-newest').addEventListener('click', () => pageEvents('newest'));
  void discoverLoginField();
  $('signin-username').focus();
}

start();
