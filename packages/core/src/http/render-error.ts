import { ApiError, InvalidToken, ValidationError } from '../errors.js';
import type { Catalogue } from '../i18n/catalogue.js';
import { render } from '../i18n/translate.js';
import { BASE_HEADERS, type CoreResponse } from './types.js';

/**
 * The one place an error becomes a wire body: `{"detail", "code"[, "messages"]}`, or DRF's field map for
 * validation errors. 401s carry `WWW-Authenticate` with the first configured auth scheme, as simplejwt does.
 */
export function renderError(err: ApiError, catalogue: Catalogue, authScheme: string): CoreResponse {
  const headers: Record<string, string> = { ...BASE_HEADERS, ...err.extraHeaders };
  if (err.challenge) headers['WWW-Authenticate'] = `${authScheme} realm="api"`;
  let body: Record<string, unknown>;
  if (err instanceof ValidationError) {
    body = {};
    for (const [field, messages] of Object.entries(err.fields)) body[field] = messages.map((m) => render(catalogue, m));
  } else {
    body = { detail: render(catalogue, err.detail), code: err.code };
    if (err instanceof InvalidToken && err.failures !== undefined) {
      body.messages = err.failures.map((f) => ({
        token_class: f.tokenClass,
        token_type: f.tokenType,
        message: render(catalogue, f.message),
      }));
    }
  }
  return { status: err.status, headers, body };
}
