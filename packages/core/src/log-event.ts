/** A structured log event. Never carries a token, a password or a request body. */
export interface LogEvent {
  event: string;
  level: 'info' | 'warn' | 'error';
  userId?: string | null;
  jti?: string;
  reason?: string;
  [extra: string]: unknown;
}
