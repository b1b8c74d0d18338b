// The `ApiErrorCode` union against the errors themselves: the record below must name every code of the union
// (the type check fails on a missing or an unknown key), and each error class, rendered by the one renderer, must
// answer the status and code the record gives it. A new error class whose code is outside the union does not compile.
import { describe, expect, it } from 'vitest';
import {
  AuthenticationFailed,
  createRestJwt,
  CsrfFailed,
  DuplicateAuthorizationHeader,
  HeadersTooLarge,
  InvalidToken,
  MalformedRequest,
  MfaCodeInvalid,
  MfaRequired,
  MfaTokenInvalid,
  MfaUnsupported,
  MethodNotAllowed,
  NotAuthenticated,
  NotFound,
  ParseError,
  PayloadTooLarge,
  PermissionDenied,
  ServiceUnavailable,
  Throttled,
  UnsupportedMediaType,
  ValidationError,
  type ApiError,
  type ApiErrorCode,
} from '@restjwt/core';
import { AuditUnsupported, CannotDeactivateSelf, IdentitiesUnsupported, LastLoginMethod, SessionsUnsupported } from '../../packages/core/src/admin/errors.js';
import { openMemoryStore } from '@restjwt/core/memory';
import { SECRET } from '../helpers/server.js';

const STATUS: Record<ApiErrorCode, number> = {
  token_not_valid: 401,
  no_active_account: 401,
  user_not_found: 401,
  user_inactive: 401,
  password_changed: 401,
  bad_authorization_header: 401,
  authentication_failed: 401,
  duplicate_authorization_header: 400,
  not_authenticated: 401,
  permission_denied: 403,
  invalid: 400,
  parse_error: 400,
  unsupported_media_type: 415,
  method_not_allowed: 405,
  request_too_large: 413,
  headers_too_large: 431,
  malformed_request: 400,
  not_found: 404,
  store_unavailable: 503,
  signing_disabled: 503,
  csrf_failed: 403,
  throttled: 429,
  cannot_deactivate_self: 400,
  last_login_method: 400,
  sessions_unsupported: 501,
  identities_unsupported: 501,
  audit_unsupported: 501,
  mfa_token_invalid: 401,
  mfa_code_invalid: 401,
  mfa_required: 403,
  mfa_unsupported: 501,
};

const ERRORS: ApiError[] = [
  new InvalidToken({ key: 'token_invalid' }),
  ...(['no_active_account', 'user_not_found', 'user_inactive', 'password_changed', 'bad_authorization_header', 'authentication_failed'] as const).map(
    (code) => new AuthenticationFailed(code),
  ),
  new DuplicateAuthorizationHeader(),
  new NotAuthenticated(),
  new PermissionDenied(),
  new ValidationError({ username: [{ key: 'field_blank' }] }),
  new ParseError('Expecting value'),
  new UnsupportedMediaType('text/plain'),
  new MethodNotAllowed('GET', ['POST', 'OPTIONS']),
  new PayloadTooLarge(1024),
  new HeadersTooLarge(16384),
  new MalformedRequest(),
  new NotFound(),
  new ServiceUnavailable('store_unavailable', 1),
  new ServiceUnavailable('signing_disabled'),
  new CsrfFailed({ key: 'csrf_token_missing' }),
  new Throttled(60),
  new CannotDeactivateSelf(),
  new LastLoginMethod(),
  new SessionsUnsupported(),
  new IdentitiesUnsupported(),
  new AuditUnsupported(),
  new MfaTokenInvalid(),
  new MfaCodeInvalid(),
  new MfaRequired(),
  new MfaUnsupported(),
];

describe('ApiErrorCode', () => {
  it('is the set of codes the error classes carry, each with its status on the wire', async () => {
    const restjwt = createRestJwt({ store: await openMemoryStore(), settings: { signingKey: SECRET } });
    const seen = new Set<string>();
    for (const err of ERRORS) {
      const res = restjwt.errorResponse(err, {});
      expect([err.code, res.status]).toEqual([err.code, STATUS[err.code]]);
      // ValidationError's body is DRF's field map; every other body names its code.
      if (err.code !== 'invalid') expect((res.body as { code?: string }).code).toBe(err.code);
      seen.add(err.code);
    }
    expect([...seen].sort()).toEqual(Object.keys(STATUS).sort());
  });
});
