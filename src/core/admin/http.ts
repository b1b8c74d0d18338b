/**
 * The admin API's answers as core responses (framework-neutral): success bodies, DRF's paginated list shape, and
 * errors in the same `{"detail", "code"}` / `{"field": ["message"]}` shapes as every other endpoint.
 */
import { negotiateLocale } from '../i18n/negotiate.js';
import { BASE_HEADERS, type CoreResponse } from '../http/types.js';
import type { HeaderMap } from '../http/types.js';
import type { Settings } from '../settings/types.js';
import { AdminError } from './errors.js';
import { renderAdminMessage } from './messages.js';
import type { AdminPage } from './users.js';

/** Headers of every admin answer: DRF's, and never cached (they carry user data). */
export function adminHeaders(allow: readonly string[]): Record<string, string> {
  return { ...BASE_HEADERS, Allow: allow.join(', '), 'Cache-Control': 'no-store' };
}

/** A JSON success answer. */
export function adminResponse(status: number, body: unknown, allow: readonly string[]): CoreResponse {
  return { status, headers: adminHeaders(allow), body };
}

/** What rendering an error needs: a `RestJwt` fits. */
export interface AdminErrorRenderer {
  readonly settings: Settings;
  errorResponse(err: unknown, headers: HeaderMap): CoreResponse;
}

/**
 * Any error as an answer: the admin's own errors in the request's language (field errors as DRF's field map, others
 * as `{"detail", "code"}`); everything else as the core renders it (401/403/404/503, 500 for bugs).
 */
export function adminErrorResponse(service: AdminErrorRenderer, err: unknown, headers: HeaderMap): CoreResponse {
  if (!(err instanceof AdminError)) {
    const res = service.errorResponse(err, headers);
    return { ...res, headers: { ...res.headers, 'Cache-Control': 'no-store' } };
  }
  const locale = negotiateLocale(headers['accept-language'], service.settings.locales, 'en');
  const body: Record<string, unknown> = {};
  if (err.fields !== undefined) {
    for (const [field, messages] of Object.entries(err.fields)) body[field] = messages.map((m) => renderAdminMessage(m, locale));
  } else {
    body.detail = renderAdminMessage(err.detail, locale);
    body.code = err.code;
  }
  return { status: err.status, headers: { ...BASE_HEADERS, 'Cache-Control': 'no-store' }, body };
}

/** DRF's LimitOffsetPagination body. */
export interface PageBody<T> {
  count: number | null;
  /** The next page's URL (path and query, relative to the API's origin), or null on the last page. */
  next: string | null;
  previous: string | null;
  results: T[];
}

/**
 * Renders a page as DRF's LimitOffsetPagination does, with `next`/`previous` as path-relative links (`/api/admin/
 * users/?limit=50&offset=50`) that keep the request's other query parameters. Relative, because behind a proxy the
 * server cannot know its public origin; browsers and `fetch` resolve them against the API's URL.
 */
export function pageBody<T>(page: AdminPage<T>, pathname: string, search: string): PageBody<T> {
  const link = (offset: number): string => {
    const params = new URLSearchParams(search);
    params.set('limit', String(page.limit));
    if (offset > 0) params.set('offset', String(offset));
    else params.delete('offset');
    return `${pathname}?${params.toString()}`;
  };
  return {
    count: page.count,
    next: page.hasMore ? link(page.offset + page.limit) : null,
    previous: page.offset > 0 ? link(Math.max(0, page.offset - page.limit)) : null,
    results: page.results,
  };
}
