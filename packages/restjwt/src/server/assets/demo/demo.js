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
  buttons: /** @type {HTMLButtonElement[]} */ (['call-protected', 'refresh-now', 'logout', 'logout-all'].map($)),
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

const describeError = (err) =>
  err && typeof err === 'object' && 'code' in err ? `${err.code}: ${err.detail ?? err.message}` : String(err instanceof Error ? err.message : err);

let client;
try {
  const { RestJwtClient, cookieStorage, webStorage } = await import('/assets/client/index.js');
  const cookieMode = document.querySelector('meta[name="restjwt-cookie-mode"]')?.getAttribute('content') === 'refresh';
  // Cookie mode: the refresh token stays in an HttpOnly cookie. Otherwise localStorage, so that tabs share the
  // session and a reload keeps it (convenient for a demo; prefer cookie mode in production).
  const storage = cookieMode ? cookieStorage() : webStorage(window.localStorage, 'restjwt.demo');
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

/** Runs a button's action with the buttons disabled, reporting errors in the status region. */
async function act(button, action) {
  if (busy) return;
  busy = true;
  for (const b of ui.buttons) b.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    await action();
  } catch (err) {
    status(describeError(err), 'bad');
  } finally {
    busy = false;
    for (const b of ui.buttons) b.disabled = false;
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
    .then(() => {
      ui.form.reset();
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

$('call-protected').addEventListener('click', (e) =>
  act(/** @type {HTMLButtonElement} */ (e.currentTarget), async () => {
    ui.result.textContent = 'Calling /api/protected/…';
    const res = await client.fetch('/api/protected/');
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
  }),
);
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
