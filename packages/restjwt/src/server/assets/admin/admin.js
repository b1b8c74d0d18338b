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

const state = {
  /** @type {string | null} */ access: null,
  /** @type {string | null} */ refresh: null,
  /** @type {{ id: string, username: string } | null} */ me: null,
  usernameField: 'username',
  usersOffset: 0,
  tokensOffset: 0,
  /** @type {Record<string, unknown> & { id: string, username: string, is_active: boolean } | null} */ selected: null,
  /** Whether logins record last_login (`GET settings/`); null until known. @type {boolean | null} */ lastLoginRecorded: null,
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
    /** @type {HTMLInputElement} */ ($('signin-password')).value = '';
    $('whoami-name').textContent = me.username;
    $('whoami').hidden = false;
    $('signin').hidden = true;
    $('app').hidden = false;
    // The name is in the top bar ("Signed in as …"): not repeated here.
    say('Signed in.');
    await Promise.all([loadSettings().then(loadUsers), loadTokens()]);
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
}

function range(offset, shown, count) {
  if (shown === 0) return count === 0 || count === null ? 'None' : `Nothing from ${offset + 1}`;
  return `${offset + 1}–${offset + shown}${count === null ? '' : ` of ${count}`}`;
}

async function loadUsers() {
  const page = await attempt(() => api('GET', `${ADMIN}users/?limit=${USERS_PAGE}&offset=${state.usersOffset}`));
  if (page === undefined) return;
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
  await Promise.all([loadSessions(), loadIdentities(), loadUsers()]);
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
  void discoverLoginField();
  $('signin-username').focus();
}

start();
