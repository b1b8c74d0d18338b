// The restjwt demo page: plain ES module, no build step. It uses the compiled client served by the reference server
// at /assets/client/, exactly as an application would use `@restjwt/core/client`.

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const ui = {
  status: $('status'),
  signin: $('signin'),
  form: /** @type {HTMLFormElement} */ ($('signin-form')),
  signinButton: /** @type {HTMLButtonElement} */ ($('signin-button')),
  signinError: $('signin-error'),
  session: $('session'),
  who: $('who'),
  countdown: $('countdown'),
  expiresAt: $('expires-at'),
  remaining: /** @type {HTMLMeterElement} */ ($('remaining')),
  claims: $('claims'),
  result: $('result'),
  log: $('log'),
  mode: $('mode'),
};

/** Says something in the status region (announced by screen readers). */
function status(text, tone = '') {
  ui.status.textContent = text;
  ui.status.className = `status ${tone}`.trim();
}

const timeOf = (seconds) => new Date(seconds * 1000).toLocaleTimeString([], { hour12: false });

/** Adds a line to the session log; `kind` is exposed as data-kind for styling and tests. */
function log(kind, text) {
  const li = document.createElement('li');
  li.dataset.kind = kind;
  li.className = kind === 'refresh' || kind === 'remote-tokens' ? 'refresh' : kind === 'failure' ? 'failure' : '';
  const time = document.createElement('time');
  time.dateTime = new Date().toISOString();
  time.textContent = new Date().toLocaleTimeString([], { hour12: false });
  li.append(time, document.createTextNode(text));
  ui.log.append(li);
  ui.log.scrollTop = ui.log.scrollHeight;
}

/** A passkey prompt the user closed (or that timed out) is a DOMException NotAllowedError, wrapped by SimpleWebAuthn. */
const isPromptClosed = (err) => err instanceof Error && (err.name === 'NotAllowedError' || (err.cause instanceof Error && err.cause.name === 'NotAllowedError'));

const describeError = (err) =>
  isPromptClosed(err)
    ? 'The passkey prompt was closed or timed out: nothing was sent.'
    : err && typeof err === 'object' && 'code' in err
      ? `${err.code}: ${err.detail ?? err.message}`
      : String(err instanceof Error ? err.message : err);

let client;
/** The client's storage (web storage, or the cookie mode's). */
let storage;
/** The client's error class, for the answers of the endpoints the client has no method for. */
let ClientError;
try {
  const { RestJwtClient, RestJwtClientError, cookieStorage, webStorage } = await import('/assets/client/index.js');
  ClientError = RestJwtClientError;
  const cookieMode = document.querySelector('meta[name="restjwt-cookie-mode"]')?.getAttribute('content') === 'refresh';
  // Cookie mode: the refresh token stays in an HttpOnly cookie. Otherwise localStorage, so that tabs share the
  // session and a reload keeps it (convenient for a demo; prefer cookie mode in production).
  storage = cookieMode ? cookieStorage() : webStorage(window.localStorage, 'restjwt.demo');
  ui.mode.textContent = cookieMode
    ? 'Cookie mode: the refresh token lives in an HttpOnly cookie that this page never sees; the access token is kept in memory.'
    : 'Tokens are kept in localStorage (shared by the tabs of this origin). The server can keep the refresh token in an HttpOnly cookie instead: cookieMode "refresh".';
  client = new RestJwtClient({ baseUrl: '', storage, autoRefresh: true, channel: 'restjwt-demo' });
} catch (err) {
  status('The restjwt client is not available: build it with "npm run build" and reload this page.', 'bad');
  log('failure', `Could not load /assets/client/index.js (${describeError(err)}).`);
  throw err;
}

/** The jti of the access token the page last reported, to notice tokens refreshed by another tab. */
let shownJti = null;
/** Seconds the shown token had to live when it arrived (not exp - iat: refreshed tokens keep the login's iat). */
let shownLifetime = 0;

function adopt(claims) {
  shownJti = claims?.jti ?? null;
  shownLifetime = typeof claims?.exp === 'number' ? Math.max(0, claims.exp - Date.now() / 1000) : 0;
}
let busy = false;
/** True while "Refresh now" runs, so that the log tells a requested refresh from a silent one. */
let manualRefresh = false;

function showSignedOut(message) {
  ui.session.hidden = true;
  ui.signin.hidden = false;
  shownJti = null;
  resetFactorViews();
  status(message);
}

async function showSignedIn(message) {
  ui.signin.hidden = true;
  ui.session.hidden = false;
  adopt(client.claims);
  render();
  status(message, 'ok');
  try {
    const me = await client.fetch('/api/me/');
    if (me.ok) ui.who.textContent = (await me.json()).username;
  } catch {
    ui.who.textContent = String(client.claims?.user_id ?? '…');
  }
  if (mfaOn) {
    mfa.section.hidden = false;
    await loadFactors();
  }
}

/** Claims and countdown, from the client's current tokens (another tab may have refreshed them). */
function render() {
  const claims = client.claims;
  if (claims === null) return;
  if (claims.jti !== shownJti) {
    adopt(claims);
    log('remote-tokens', `New access token from another tab (jti ${String(shownJti).slice(0, 8)}…).`);
  }
  const text = JSON.stringify(claims, null, 2);
  if (ui.claims.textContent !== text) ui.claims.textContent = text;
  const exp = typeof claims.exp === 'number' ? claims.exp : null;
  if (exp === null) {
    ui.countdown.textContent = 'never';
    return;
  }
  const left = exp - Date.now() / 1000;
  ui.countdown.textContent = left <= 0 ? 'expired' : left < 60 ? `${left.toFixed(1)} s` : `${Math.floor(left / 60)} min ${String(Math.floor(left % 60)).padStart(2, '0')} s`;
  ui.expiresAt.dateTime = new Date(exp * 1000).toISOString();
  ui.expiresAt.textContent = timeOf(exp);
  ui.remaining.value = shownLifetime > 0 ? Math.max(0, Math.min(1, left / shownLifetime)) : 0;
}

client.on('login', ({ claims }) => {
  adopt(claims);
  log('login', `Signed in; access token expires at ${timeOf(Number(claims?.exp))}.`);
});
client.on('refresh', ({ claims }) => {
  adopt(claims);
  log('refresh', `${manualRefresh ? 'Refreshed on request' : 'Silent refresh'}: new access token, expires at ${timeOf(Number(claims?.exp))} (jti ${String(claims?.jti).slice(0, 8)}…).`);
  render();
});
client.on('refreshfailed', ({ error }) => {
  log('failure', `Refresh refused (${describeError(error)}): the session is over.`);
});
client.on('logout', ({ remote }) => {
  log('logout', remote ? 'Signed out in another tab.' : 'Signed out.');
  showSignedOut(remote ? 'Signed out in another tab.' : 'Signed out.');
});

/**
 * Runs a button's action with the session's buttons disabled (one action at a time: most of them change the tokens),
 * reporting errors in the status region, and also in `errorBox` (a form's alert) when given.
 */
async function act(button, action, errorBox) {
  if (busy) return;
  busy = true;
  const buttons = /** @type {HTMLButtonElement[]} */ ([...ui.session.querySelectorAll('button')].filter((b) => !b.disabled));
  for (const b of buttons) b.disabled = true;
  button.setAttribute('aria-busy', 'true');
  if (errorBox !== undefined) errorBox.hidden = true;
  try {
    await action();
  } catch (err) {
    status(describeError(err), 'bad');
    if (errorBox !== undefined) {
      errorBox.textContent = describeError(err);
      errorBox.hidden = false;
    }
  } finally {
    busy = false;
    for (const b of buttons) b.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const data = new FormData(ui.form);
  const username = String(data.get('username') ?? '');
  const password = String(data.get('password') ?? '');
  ui.signinError.hidden = true;
  if (username === '' || password === '') {
    ui.signinError.textContent = 'Enter a username and a password.';
    ui.signinError.hidden = false;
    return;
  }
  ui.signinButton.disabled = true;
  client
    .login({ username, password })
    .then((result) => {
      ui.form.reset();
      // A user with a second factor gets no tokens yet: the second step asks for it.
      if (result.mfaRequired) return showSecondStep(result);
      // The name is in the heading ("Signed in as …"): not repeated here.
      return showSignedIn('Signed in.');
    })
    .catch((err) => {
      ui.signinError.textContent = describeError(err);
      ui.signinError.hidden = false;
      ($('password')).focus();
    })
    .finally(() => {
      ui.signinButton.disabled = false;
    });
});

/** Calls a protected endpoint with the client's token and shows the answer in "Last call". */
const callProtected = (path) => (e) =>
  act(/** @type {HTMLButtonElement} */ (e.currentTarget), async () => {
    ui.result.textContent = `Calling ${path}…`;
    const res = await client.fetch(path);
    const body = await res.text();
    let pretty = body;
    try {
      pretty = JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      // Not JSON: shown as is.
    }
    ui.result.dataset.status = String(res.status);
    ui.result.textContent = `HTTP ${res.status}\n${pretty}`;
    status(res.ok ? 'The protected call succeeded.' : `The protected call was refused (HTTP ${res.status}).`, res.ok ? 'ok' : 'bad');
  });
$('call-protected').addEventListener('click', callProtected('/api/protected/'));
// Only for a token from a sign-in with a second factor (its amr holds "mfa"); others get 403 mfa_required.
$('call-protected-mfa').addEventListener('click', callProtected('/api/protected/mfa/'));
$('refresh-now').addEventListener('click', (e) =>
  act(/** @type {HTMLButtonElement} */ (e.currentTarget), async () => {
    manualRefresh = true;
    try {
      await client.refresh();
    } finally {
      manualRefresh = false;
    }
  }),
);
$('logout').addEventListener('click', (e) => act(/** @type {HTMLButtonElement} */ (e.currentTarget), () => client.logout()));
$('logout-all').addEventListener('click', (e) =>
  act(/** @type {HTMLButtonElement} */ (e.currentTarget), async () => {
    await client.logoutAll();
    status('Signed out everywhere: every session of this user was revoked.');
  }),
);

// --- second factors -----------------------------------------------------------------------------------------------
// The second step of a login, passkey sign-in, and the enrolment of the signed-in user's factors (@restjwt/mfa's
// routes). Shown only when the server has second factors; their browser libraries (@simplewebauthn/browser, uqr) are
// served by this server under /assets/vendor/ and loaded the first time they are needed.

/** Whether the server has second factors (the `token/mfa/` step): the server says so in the page's meta. */
const mfaOn = document.querySelector('meta[name="restjwt-mfa"]')?.getAttribute('content') === 'on';
/** WebAuthn needs a secure context (https, or http://localhost) and a browser that has it. */
const passkeysSupported = window.isSecureContext && typeof window.PublicKeyCredential === 'function';

const mfa = {
  step: /** @type {HTMLFormElement} */ ($('mfa-step')),
  stepHelp: $('mfa-step-help'),
  codeField: $('mfa-code-field'),
  code: /** @type {HTMLInputElement} */ ($('mfa-code')),
  verify: /** @type {HTMLButtonElement} */ ($('mfa-verify')),
  usePasskey: /** @type {HTMLButtonElement} */ ($('mfa-use-passkey')),
  cancel: /** @type {HTMLButtonElement} */ ($('mfa-cancel')),
  stepError: $('mfa-step-error'),
  passkeySignin: $('passkey-signin'),
  passkeyButton: /** @type {HTMLButtonElement} */ ($('passkey-signin-button')),
  passkeyError: $('passkey-signin-error'),
  section: $('factors'),
  summary: $('factors-summary'),
  list: $('factor-list'),
  removeStep: /** @type {HTMLFormElement} */ ($('remove-step')),
  removeHelp: $('remove-help'),
  removeCode: /** @type {HTMLInputElement} */ ($('remove-code')),
  removeError: $('remove-error'),
  totpStart: /** @type {HTMLButtonElement} */ ($('totp-start')),
  passkeyAdd: /** @type {HTMLButtonElement} */ ($('passkey-add')),
  recoveryGenerate: /** @type {HTMLButtonElement} */ ($('recovery-generate')),
  totpForm: /** @type {HTMLFormElement} */ ($('totp-enrol')),
  totpQr: $('totp-qr'),
  totpSecret: $('totp-secret'),
  totpCode: /** @type {HTMLInputElement} */ ($('totp-code')),
  totpError: $('totp-error'),
  recovery: $('recovery'),
  recoveryCodes: $('recovery-codes'),
};

/** The open second step of a login (its token and the methods it accepts), or null. */
let pending = null;
/** The id of the authenticator app being added (not confirmed yet), or null. */
let enrolling = null;
/** The factor whose removal waits for a code, or null. */
let removing = null;
/** The last answer of GET /api/mfa/: `{ factors, recovery_codes_left, methods }`. */
let factorState = null;

const KIND = { totp: 'authenticator app', webauthn: 'passkey' };
const METHOD = { totp: 'a code from your authenticator app', webauthn: 'a passkey', recovery: 'a recovery code' };
const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

let webauthnLib = null;
/**
 * @simplewebauthn/browser (its browser bundle, from this server: the CSP allows no other). Its UMD wrapper defines
 * globalThis.SimpleWebAuthnBrowser when imported as a module too.
 */
async function webauthn() {
  if (webauthnLib === null) {
    await import('/assets/vendor/simplewebauthn-browser.js');
    const lib = /** @type {any} */ (globalThis).SimpleWebAuthnBrowser;
    if (!lib || typeof lib.startAuthentication !== 'function') throw new Error('The WebAuthn library did not load.');
    webauthnLib = lib;
  }
  return webauthnLib;
}

/** A JSON answer, or the server's error (`{detail, code}`, or field errors) as the client's error class. */
async function answerOf(res) {
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.ok) return data;
  const fields = data && typeof data === 'object' && typeof data.detail !== 'string' ? Object.entries(data).map(([k, v]) => `${k}: ${[].concat(v).join(' ')}`) : [];
  const detail = typeof data?.detail === 'string' ? data.detail : fields.length > 0 ? fields.join('; ') : `HTTP ${res.status}`;
  throw new ClientError(res.status, typeof data?.code === 'string' ? data.code : res.status === 400 ? 'invalid' : `http_${res.status}`, detail, data);
}

/** A call for the signed-in user, through the client (its token, refreshed when needed). */
async function api(method, path, body) {
  const init = body === undefined ? { method } : { method, headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body) };
  return answerOf(await client.fetch(path, init));
}

/** An anonymous JSON POST (passkey sign-in). In cookie mode its answer sets the session's cookies. */
async function post(path, body) {
  return answerOf(await fetch(path, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json' }, body: JSON.stringify(body), credentials: 'same-origin' }));
}

/**
 * Continues with the pair an answer carries. Adding or removing a factor ends the user's other sessions (this one's
 * refresh token is blacklisted too) and answers a fresh pair, and passkey sign-in answers one without the client's
 * login(): the client adopts it (stored, shared with other tabs, refreshed before it expires).
 */
function adoptPair(body) {
  if (typeof body?.access !== 'string') return false;
  client.adoptTokens(body);
  adopt(client.claims);
  render();
  return true;
}

// The second step of a login.

function showSecondStep(result) {
  pending = { token: result.mfaToken, methods: result.methods };
  const totp = result.methods.includes('totp');
  const recovery = result.methods.includes('recovery');
  const passkey = result.methods.includes('webauthn') && passkeysSupported;
  const typed = totp && recovery ? 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.' : totp ? 'Enter the 6-digit code from your authenticator app.' : recovery ? 'Enter one of your recovery codes.' : '';
  mfa.stepHelp.textContent = `Your password was right; your account also asks for a second factor. ${passkey ? (typed === '' ? 'Use your passkey.' : `Use your passkey, or: ${typed[0].toLowerCase()}${typed.slice(1)}`) : typed}`;
  mfa.codeField.hidden = !totp && !recovery;
  mfa.verify.hidden = !totp && !recovery;
  mfa.usePasskey.hidden = !passkey;
  // The passkey is the main action when there is nothing to type.
  mfa.usePasskey.className = mfa.codeField.hidden ? '' : 'secondary';
  mfa.stepError.hidden = true;
  mfa.code.value = '';
  ui.form.hidden = true;
  mfa.passkeySignin.hidden = true;
  mfa.step.hidden = false;
  status(`Second step: ${result.methods.map((m) => METHOD[m] ?? m).join(', or ')}.`);
  (mfa.codeField.hidden ? mfa.usePasskey : mfa.code).focus();
}

function closeSecondStep() {
  pending = null;
  mfa.step.hidden = true;
  mfa.code.value = '';
  mfa.stepError.hidden = true;
  ui.form.hidden = false;
  mfa.passkeySignin.hidden = !(mfaOn && passkeysSupported);
}

/** Runs a proof of the second step; signed in, or the refusal in the step's alert (the step stays open for a retry). */
async function finishSecondStep(button, run, message) {
  if (pending === null || busy) return;
  busy = true;
  const buttons = [mfa.verify, mfa.usePasskey, mfa.cancel];
  for (const b of buttons) b.disabled = true;
  button.setAttribute('aria-busy', 'true');
  mfa.stepError.hidden = true;
  try {
    await run(pending.token);
    closeSecondStep();
    await showSignedIn(message);
  } catch (err) {
    if (err && err.code === 'mfa_token_invalid') {
      // Spent (too many wrong codes) or expired: only a new login opens another step.
      closeSecondStep();
      ui.signinError.textContent = `${describeError(err)}`;
      ui.signinError.hidden = false;
      ($('username')).focus();
    } else {
      mfa.stepError.textContent = describeError(err);
      mfa.stepError.hidden = false;
      if (!mfa.codeField.hidden) mfa.code.select();
    }
    status('The second step was refused.', 'bad');
  } finally {
    busy = false;
    for (const b of buttons) b.disabled = false;
    button.removeAttribute('aria-busy');
  }
}

mfa.step.addEventListener('submit', (event) => {
  event.preventDefault();
  if (pending === null) return;
  const typed = mfa.code.value.trim();
  if (typed === '') {
    mfa.stepError.textContent = 'Enter a code.';
    mfa.stepError.hidden = false;
    mfa.code.focus();
    return;
  }
  // Six digits (apps show them as "123 456") are the authenticator app's; anything else is a recovery code.
  const digits = typed.replace(/\s+/g, '');
  const proof = /^\d{6}$/.test(digits) && pending.methods.includes('totp') ? { code: digits } : { recoveryCode: typed };
  void finishSecondStep(mfa.verify, (token) => client.completeMfa(token, proof), 'code' in proof ? 'Signed in with your authenticator app.' : 'Signed in with a recovery code. It cannot be used again.');
});

mfa.usePasskey.addEventListener('click', () =>
  finishSecondStep(
    mfa.usePasskey,
    async (token) => {
      const lib = await webauthn();
      const optionsJSON = await client.mfaChallenge(token, 'webauthn');
      const assertion = await lib.startAuthentication({ optionsJSON });
      await client.completeMfa(token, { webauthn: assertion });
    },
    'Signed in with your passkey.',
  ),
);

mfa.cancel.addEventListener('click', () => {
  closeSecondStep();
  status('Sign-in cancelled.');
  ($('username')).focus();
});

// Passkey sign-in: no username, no password; the browser offers this site's passkeys.

mfa.passkeyButton.addEventListener('click', async () => {
  if (busy) return;
  busy = true;
  mfa.passkeyButton.disabled = true;
  mfa.passkeyButton.setAttribute('aria-busy', 'true');
  mfa.passkeyError.hidden = true;
  try {
    const lib = await webauthn();
    const started = await post('/api/token/passkey/options/', {});
    const credential = await lib.startAuthentication({ optionsJSON: started.options });
    const pair = await post('/api/token/passkey/', { passkey_token: started.passkey_token, credential });
    if (!adoptPair(pair)) throw new Error('The passkey sign-in answered no access token.');
    ui.form.reset();
    await showSignedIn('Signed in with a passkey.');
  } catch (err) {
    mfa.passkeyError.textContent = describeError(err);
    mfa.passkeyError.hidden = false;
    status('The passkey sign-in did not complete.', 'bad');
  } finally {
    busy = false;
    mfa.passkeyButton.disabled = false;
    mfa.passkeyButton.removeAttribute('aria-busy');
  }
});

// The signed-in user's factors.

/** Hides what belongs to a session: the factors, a secret being enrolled, recovery codes (never left on the page). */
function resetFactorViews() {
  factorState = null;
  enrolling = null;
  removing = null;
  mfa.section.hidden = true;
  mfa.summary.textContent = '';
  mfa.list.replaceChildren();
  mfa.totpForm.hidden = true;
  mfa.totpSecret.textContent = '';
  mfa.totpQr.replaceChildren();
  mfa.totpCode.value = '';
  mfa.recovery.hidden = true;
  mfa.recoveryCodes.replaceChildren();
  mfa.removeStep.hidden = true;
  mfa.removeCode.value = '';
  closeSecondStep();
}

async function loadFactors() {
  try {
    factorState = await api('GET', '/api/mfa/');
  } catch (err) {
    factorState = null;
    mfa.list.replaceChildren();
    for (const b of [mfa.totpStart, mfa.passkeyAdd, mfa.recoveryGenerate]) b.hidden = true;
    mfa.summary.textContent =
      err?.status === 404
        ? 'This server checks second factors but does not serve their enrolment routes (/api/mfa/).'
        : `Your second factors could not be loaded (${describeError(err)}).`;
    return;
  }
  renderFactors();
}

const dateOf = (iso) => {
  const t = document.createElement('time');
  t.dateTime = iso;
  t.textContent = new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
  return t;
};

function renderFactors() {
  const { factors, recovery_codes_left: left, methods } = factorState;
  const confirmed = factors.filter((f) => f.confirmed);
  mfa.summary.textContent =
    confirmed.length === 0
      ? 'None yet: signing in needs only your password. Add an authenticator app or a passkey, and sign-ins will ask for it too.'
      : `Signing in asks for a second factor: ${methods.map((m) => METHOD[m] ?? m).join(', or ')}. ${plural(left, 'unused recovery code')} left.`;
  mfa.list.replaceChildren(
    ...factors.map((f) => {
      const li = document.createElement('li');
      li.dataset.factorId = f.id;
      li.dataset.kind = f.kind;
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = f.label;
      const kind = document.createElement('span');
      kind.className = 'muted';
      kind.textContent = KIND[f.kind] ?? f.kind;
      const when = document.createElement('span');
      when.className = 'muted';
      when.append('added ', dateOf(f.created_at), ', last used ', f.last_used_at === null ? 'never' : dateOf(f.last_used_at));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'danger remove';
      remove.textContent = 'Remove';
      remove.setAttribute('aria-label', `Remove ${f.label}${f.confirmed ? '' : ' (not confirmed)'}`);
      remove.addEventListener('click', () => removeFactor(f, remove));
      // "Authenticator app" (the default label) needs no kind after it.
      li.append(label);
      if (f.label.toLowerCase() !== kind.textContent) li.append(kind);
      if (!f.confirmed) {
        const badge = document.createElement('span');
        badge.className = 'badge pending';
        badge.textContent = 'not confirmed';
        li.append(badge);
      }
      li.append(when, remove);
      return li;
    }),
  );
  mfa.list.hidden = factors.length === 0;
  mfa.totpStart.hidden = false;
  mfa.passkeyAdd.hidden = !passkeysSupported;
  // Recovery codes back up a factor: the server refuses them without a confirmed one.
  mfa.recoveryGenerate.hidden = confirmed.length === 0;
  mfa.recoveryGenerate.textContent = left > 0 ? 'Generate new recovery codes' : 'Generate recovery codes';
}

/** Draws `text` as a QR code into the <svg>: one path of dark modules on white, with the standard 4-module margin. */
let qrLib = null;
async function drawQr(svg, text) {
  qrLib ??= await import('/assets/vendor/uqr.js');
  const { size, data } = qrLib.encode(text, { ecc: 'M', border: 4 });
  let d = '';
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (data[y][x]) d += `M${x} ${y}h1v1h-1z`;
  // The <svg>'s own namespace (the HTML parser gave it SVG's): new children must be in it to be drawn.
  const NS = svg.namespaceURI;
  const background = document.createElementNS(NS, 'rect');
  background.setAttribute('width', String(size));
  background.setAttribute('height', String(size));
  background.setAttribute('fill', '#ffffff');
  const modules = document.createElementNS(NS, 'path');
  modules.setAttribute('d', d);
  modules.setAttribute('fill', '#000000');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.replaceChildren(background, modules);
}

mfa.totpStart.addEventListener('click', () =>
  act(mfa.totpStart, async () => {
    mfa.recovery.hidden = true;
    mfa.recoveryCodes.replaceChildren();
    const started = await api('POST', '/api/mfa/totp/', {});
    enrolling = started.id;
    // In groups of four, as apps that take it typed ignore the spaces.
    mfa.totpSecret.textContent = started.secret.replace(/(.{4})(?=.)/g, '$1 ');
    mfa.totpCode.value = '';
    mfa.totpError.hidden = true;
    mfa.totpForm.hidden = false;
    try {
      await drawQr(mfa.totpQr, started.otpauth_uri);
    } catch (err) {
      mfa.totpQr.replaceChildren();
      mfa.totpError.textContent = `The QR code could not be drawn (${describeError(err)}): type the secret into your app instead.`;
      mfa.totpError.hidden = false;
    }
    await loadFactors();
    status('Scan the QR code with your authenticator app, then enter the code it shows.');
    mfa.totpCode.focus();
  }),
);

mfa.totpForm.addEventListener('submit', (event) => {
  event.preventDefault();
  act(
    $('totp-confirm'),
    async () => {
      const code = mfa.totpCode.value.replace(/\s+/g, '');
      if (!/^\d{6}$/.test(code)) throw new Error('Enter the 6-digit code your authenticator app shows.');
      if (enrolling === null) throw new Error('Start again: no authenticator app is being added.');
      const done = await api('POST', `/api/mfa/totp/${encodeURIComponent(enrolling)}/confirm/`, { code });
      adoptPair(done);
      enrolling = null;
      mfa.totpForm.hidden = true;
      mfa.totpSecret.textContent = '';
      mfa.totpQr.replaceChildren();
      log('login', 'Authenticator app added: your other sessions were ended; this page continues with a new token pair.');
      await loadFactors();
      status('Authenticator app added. Sign-ins now ask for its code. Generate recovery codes in case you lose it.', 'ok');
    },
    mfa.totpError,
  );
});

$('totp-cancel').addEventListener('click', () => {
  // The unconfirmed app stays listed ("not confirmed") until removed or replaced by the next one: it is never asked for.
  enrolling = null;
  mfa.totpForm.hidden = true;
  mfa.totpSecret.textContent = '';
  mfa.totpQr.replaceChildren();
  status('Adding the authenticator app was cancelled.');
});

mfa.passkeyAdd.addEventListener('click', () =>
  act(mfa.passkeyAdd, async () => {
    const lib = await webauthn();
    const optionsJSON = await api('POST', '/api/mfa/webauthn/register/options/', {});
    const credential = await lib.startRegistration({ optionsJSON });
    const done = await api('POST', '/api/mfa/webauthn/register/', { credential });
    adoptPair(done);
    log('login', 'Passkey added: your other sessions were ended; this page continues with a new token pair.');
    await loadFactors();
    status('Passkey added. Sign in with it, or use it as the second step after your password.', 'ok');
  }),
);

mfa.recoveryGenerate.addEventListener('click', () => {
  const left = factorState?.recovery_codes_left ?? 0;
  if (left > 0 && !window.confirm(`Replace your ${plural(left, 'unused recovery code')}? The old ones stop working.`)) return;
  return act(mfa.recoveryGenerate, async () => {
    const { codes } = await api('POST', '/api/mfa/recovery-codes/', {});
    mfa.recoveryCodes.replaceChildren(
      ...codes.map((c) => {
        const li = document.createElement('li');
        const code = document.createElement('code');
        code.textContent = c;
        li.append(code);
        return li;
      }),
    );
    mfa.recovery.hidden = false;
    await loadFactors();
    status(`${plural(codes.length, 'recovery code')} generated: save them now, they are shown only once.`, 'ok');
    $('recovery-done').focus();
  });
});

$('recovery-done').addEventListener('click', () => {
  mfa.recovery.hidden = true;
  mfa.recoveryCodes.replaceChildren();
  status('Recovery codes hidden.');
});

/** Removes a factor; the last confirmed one first asks for a code (the server would refuse it without). */
function removeFactor(f, button) {
  if (factorState === null) return;
  const last = f.confirmed && !factorState.factors.some((o) => o.confirmed && o.id !== f.id);
  if (last) {
    if (f.kind === 'webauthn' && factorState.recovery_codes_left === 0) {
      status('This passkey is your last second factor: generate recovery codes first (one confirms the removal), or add another factor.', 'bad');
      return;
    }
    removing = f;
    mfa.removeHelp.textContent =
      f.kind === 'totp'
        ? 'Confirm its removal with a current code from this authenticator app, or an unused recovery code. Your recovery codes are removed with it.'
        : 'Confirm its removal with an unused recovery code. Your recovery codes are removed with it.';
    mfa.removeCode.value = '';
    mfa.removeError.hidden = true;
    mfa.removeStep.hidden = false;
    mfa.removeCode.focus();
    return;
  }
  if (f.confirmed && !window.confirm(`Remove ${f.label}? Your other sessions end too.`)) return;
  return act(button, () => doRemove(f, undefined));
}

async function doRemove(f, code) {
  const done = await api('POST', `/api/mfa/factors/${encodeURIComponent(f.id)}/remove/`, code === undefined ? {} : { code });
  adoptPair(done);
  if (enrolling === f.id) $('totp-cancel').click();
  removing = null;
  mfa.removeStep.hidden = true;
  mfa.removeCode.value = '';
  log('login', `${f.label} removed: your other sessions were ended; this page continues with a new token pair.`);
  await loadFactors();
  status(`${f.label} removed.`, 'ok');
}

mfa.removeStep.addEventListener('submit', (event) => {
  event.preventDefault();
  const f = removing;
  if (f === null) return;
  act(
    $('remove-confirm'),
    async () => {
      const code = mfa.removeCode.value.trim();
      if (code === '') throw new Error('Enter a code to confirm the removal.');
      await doRemove(f, code);
    },
    mfa.removeError,
  );
});

$('remove-cancel').addEventListener('click', () => {
  removing = null;
  mfa.removeStep.hidden = true;
  mfa.removeCode.value = '';
  status('The factor was kept.');
});

// What the page offers depends on the server: nothing of this without second factors.
mfa.passkeySignin.hidden = !(mfaOn && passkeysSupported);
$('call-protected-mfa').hidden = !mfaOn;

setInterval(() => {
  if (!ui.session.hidden) render();
}, 200);

try {
  if (await client.resume()) await showSignedIn('Signed in (session resumed).');
  else showSignedOut('Signed out. Sign in to see your access token.');
} catch (err) {
  showSignedOut(`The server could not be reached: ${describeError(err)}`);
}
document.documentElement.dataset.ready = 'true';
