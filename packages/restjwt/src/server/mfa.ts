import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import { sendCore } from '@restjwt/fastify';
import type { RestJwt } from '@restjwt/core';
import { ERROR_SCHEMA, FIELD_ERRORS_SCHEMA, nodeHeaderRecord } from '@restjwt/core/adapter-kit';
import type { Mfa, MfaRouteName } from '@restjwt/mfa';

/** The documentation of the routes (@fastify/swagger); they never validate: the handlers check their own input. */
const signedIn = [{ bearerAuth: [] }];
const idParam = { type: 'object', properties: { id: { type: 'string', description: "The factor's id" } }, required: ['id'] };
const label = { type: 'string', maxLength: 100, description: 'What the user calls it ("Phone", "YubiKey")' };
const badRequest = { oneOf: [FIELD_ERRORS_SCHEMA, ERROR_SCHEMA] };
const factor = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    kind: { type: 'string', enum: ['totp', 'webauthn'] },
    label: { type: 'string' },
    confirmed: { type: 'boolean' },
    created_at: { type: 'string', format: 'date-time' },
    last_used_at: { type: ['string', 'null'], format: 'date-time' },
  },
  required: ['id', 'kind', 'label', 'confirmed', 'created_at', 'last_used_at'],
};
const pairProperties = {
  refresh: { type: 'string', description: 'Absent in cookie mode (set as a cookie)' },
  access: { type: 'string', description: "Absent in cookie mode \"both\"" },
};
/** WebAuthn's JSON (PublicKeyCredential*OptionsJSON, RegistrationResponseJSON, AuthenticationResponseJSON): the browser's. */
const webauthnJson = (description: string) => ({ type: 'object', additionalProperties: true, description });
const methods = { type: 'array', items: { type: 'string', enum: ['totp', 'webauthn', 'recovery'] } };

const schemas: Record<MfaRouteName, FastifySchema & Record<string, unknown>> = {
  factors: {
    summary: "The signed-in user's second factors, recovery codes left, and the methods a login will ask for",
    tags: ['mfa'],
    security: signedIn,
    response: {
      200: { type: 'object', properties: { factors: { type: 'array', items: factor }, recovery_codes_left: { type: 'integer' }, methods }, required: ['factors', 'recovery_codes_left', 'methods'] },
      401: ERROR_SCHEMA,
    },
  },
  totpStart: {
    summary: 'Start adding an authenticator app: its secret and otpauth:// URI (for a QR code), shown once',
    tags: ['mfa'],
    security: signedIn,
    body: { type: 'object', properties: { label } },
    response: {
      201: { type: 'object', properties: { id: { type: 'string' }, secret: { type: 'string', description: 'Base32' }, otpauth_uri: { type: 'string' } }, required: ['id', 'secret', 'otpauth_uri'] },
      400: badRequest,
      401: ERROR_SCHEMA,
    },
  },
  totpConfirm: {
    summary: "Confirm the authenticator app with a current code; ends the user's other sessions and answers a fresh pair",
    tags: ['mfa'],
    security: signedIn,
    params: idParam,
    body: { type: 'object', properties: { code: { type: 'string', description: '6 digits' } }, required: ['code'] },
    response: {
      200: { type: 'object', properties: { factor, ...pairProperties }, required: ['factor'] },
      400: { ...badRequest, description: 'A field error, or the code is wrong, expired or reused (`mfa_code_rejected`)' },
      401: ERROR_SCHEMA,
      404: { ...ERROR_SCHEMA, description: 'No unconfirmed authenticator app with this id (`not_found`)' },
    },
  },
  webauthnRegisterOptions: {
    summary: 'Options for navigator.credentials.create(): a passkey, user verification required (single-use challenge, 5 minutes)',
    tags: ['mfa'],
    security: signedIn,
    body: { type: 'object', properties: { label } },
    response: { 200: webauthnJson('PublicKeyCredentialCreationOptionsJSON'), 400: badRequest, 401: ERROR_SCHEMA },
  },
  webauthnRegister: {
    summary: "Register the passkey navigator.credentials.create() made; ends the user's other sessions and answers a fresh pair",
    tags: ['mfa'],
    security: signedIn,
    body: { type: 'object', properties: { credential: webauthnJson('RegistrationResponseJSON'), label }, required: ['credential'] },
    response: {
      201: { type: 'object', properties: { factor, ...pairProperties }, required: ['factor'] },
      400: { ...badRequest, description: 'A field error, or the registration did not verify (`mfa_registration_invalid`)' },
      401: ERROR_SCHEMA,
      409: { ...ERROR_SCHEMA, description: 'This passkey is already registered (`mfa_credential_exists`)' },
    },
  },
  recoveryCodes: {
    summary: 'Ten new recovery codes, replacing the old ones, shown once',
    tags: ['mfa'],
    security: signedIn,
    response: {
      200: { type: 'object', properties: { codes: { type: 'array', items: { type: 'string' }, minItems: 10, maxItems: 10 } }, required: ['codes'] },
      400: { ...ERROR_SCHEMA, description: 'No confirmed second factor yet (`mfa_no_factor`)' },
      401: ERROR_SCHEMA,
    },
  },
  removeFactor: {
    summary: "Remove a factor (the last one needs a code, and takes the recovery codes); ends the user's other sessions and answers a fresh pair",
    tags: ['mfa'],
    security: signedIn,
    params: idParam,
    body: { type: 'object', properties: { code: { type: 'string', description: "The last factor: that app's current code, or a recovery code" } } },
    response: {
      200: { type: 'object', properties: { removed: { type: 'string' }, ...pairProperties }, required: ['removed'] },
      400: { ...badRequest, description: 'The last factor without a code (`mfa_code_required`), or a wrong one (`mfa_code_rejected`)' },
      401: ERROR_SCHEMA,
      404: { ...ERROR_SCHEMA, description: 'No factor of this user with this id (`not_found`)' },
      409: { ...ERROR_SCHEMA, description: 'The last factor is a passkey and no recovery code is left (`mfa_no_recovery_codes`)' },
      429: ERROR_SCHEMA,
    },
  },
  passkeyOptions: {
    summary: 'Start a passkey sign-in: options for navigator.credentials.get() (no credential named) and the passkey_token to send back',
    tags: ['mfa'],
    response: {
      200: { type: 'object', properties: { passkey_token: { type: 'string' }, options: webauthnJson('PublicKeyCredentialRequestOptionsJSON') }, required: ['passkey_token', 'options'] },
      503: ERROR_SCHEMA,
    },
  },
  passkeyToken: {
    summary: 'Sign in with a passkey: its assertion for the options of passkey_token, for a pair (amr hwk|swk user mfa)',
    tags: ['mfa'],
    body: { type: 'object', properties: { passkey_token: { type: 'string' }, credential: webauthnJson('AuthenticationResponseJSON') }, required: ['passkey_token', 'credential'] },
    response: {
      200: { type: 'object', properties: pairProperties },
      400: badRequest,
      401: { ...ERROR_SCHEMA, description: 'The assertion did not verify, or its passkey_token is unknown, used or expired (`mfa_passkey_invalid`); the account is inactive (`no_active_account`)' },
      429: ERROR_SCHEMA,
      503: ERROR_SCHEMA,
    },
  },
};

function toCoreRequest(req: FastifyRequest, restjwt: RestJwt) {
  // Every copy of the auth header, which Node alone would drop.
  const headers = nodeHeaderRecord(req.headers, req.raw.rawHeaders, restjwt.settings.authHeaderName);
  return { method: req.method, headers, rawBody: typeof req.body === 'string' ? req.body : undefined, ip: req.ip };
}

/**
 * Mounts `@restjwt/mfa`'s routes (`Mfa.routes(restjwt)`, which also binds it to the service): `mfa/`, `mfa/totp/`,
 * `mfa/totp/{id}/confirm/`, `mfa/webauthn/register/options/`, `mfa/webauthn/register/`, `mfa/recovery-codes/`,
 * `mfa/factors/{id}/remove/`, and passkey sign-in at `token/passkey/options/` and `token/passkey/`. Nothing is
 * mounted without `mfa`.
 */
export async function registerMfa(app: FastifyInstance, restjwt: RestJwt, mfa?: Mfa): Promise<void> {
  if (mfa === undefined) return;
  const routes = mfa.routes(restjwt);
  await app.register(async (scope) => {
    // Raw bodies go to the core's parser (JSON and urlencoded as simplejwt's endpoints take them, 415 otherwise).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: restjwt.settings.maxBodyBytes }, (_req, body, done) => done(null, body));
    // The schemas document; they never validate or serialise.
    scope.setValidatorCompiler(() => () => true);
    scope.setSerializerCompiler(() => (data) => JSON.stringify(data));
    for (const route of routes) {
      scope.route({
        method: route.method,
        url: route.path,
        schema: schemas[route.name],
        handler: async (req: FastifyRequest, reply: FastifyReply) => sendCore(reply, await route.handle(req.params as Record<string, string>, toCoreRequest(req, restjwt))),
      });
    }
  });
}
