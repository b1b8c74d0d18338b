/**
 * An error answer from a restjwt (or simplejwt) server, with its stable `code`
 * (`token_not_valid`, `no_active_account`, `not_authenticated`, …) when the server sent one.
 */
export class RestJwtClientError extends Error {
  constructor(
    /** HTTP status, or 0 when no answer came (the server could not be reached, or `invalid_url`). */
    readonly status: number,
    /**
     * The server's `code`, or a client-side one: `network_error`, `not_logged_in`, `invalid_response`, `invalid_url`
     * (a `baseUrl` or `allowedOrigins` entry that is not a URL, or a relative path with nothing to resolve it against).
     */
    readonly code: string,
    /** The server's `detail`, or a description of the client-side failure. */
    readonly detail: string,
    /** The whole parsed body, for field errors such as `{"password": ["This field is required."]}`. */
    readonly body: unknown = undefined,
  ) {
    super(detail);
    this.name = 'RestJwtClientError';
  }
}

/** Reads an error answer into a RestJwtClientError. */
export async function errorFromResponse(res: Response): Promise<RestJwtClientError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const b = (body ?? {}) as { detail?: unknown; code?: unknown };
  const detail = typeof b.detail === 'string' ? b.detail : `HTTP ${res.status}`;
  const code = typeof b.code === 'string' ? b.code : res.status === 400 ? 'invalid' : `http_${res.status}`;
  return new RestJwtClientError(res.status, code, detail, body);
}
