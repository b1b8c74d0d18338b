/**
 * What the core tells an observer (metrics, tracing) about the requests it answers: which endpoint, with which status
 * and error code, in how long; how each guarded request was decided; and the structured events it logs. Never a
 * token, a password, a username or a client address: labels made from these stay few whatever the traffic
 * (`@restjwt/metrics` turns them into Prometheus series).
 */
import type { EndpointName } from './endpoints.js';
import type { LogEvent } from './handlers/context.js';

/** One answer of a token endpoint. */
export interface EndpointObservation {
  endpoint: EndpointName;
  status: number;
  /** The error body's `code` (`token_not_valid`, `no_active_account`, …); null for a 2xx answer. */
  code: string | null;
  /** From the body being handed to the core to the answer being ready. */
  seconds: number;
}

/** How one guarded request (`authorize`, an adapter's guard) was decided. */
export interface AuthenticationObservation {
  /** `authenticated`, `anonymous` (allowed without a token), or the refusal's error code (`token_not_valid`, …). */
  outcome: string;
  /** 200 when allowed, else the refusal's status (401, 403, 503). */
  status: number;
}

/**
 * Receives observations as they happen. Every method is optional and called synchronously on the request's path, so
 * it must be cheap (count, observe a histogram) and must not throw: what it throws is caught and dropped, so that an
 * observer can never change an answer.
 */
export interface Observer {
  endpoint?(observation: EndpointObservation): void;
  authentication?(observation: AuthenticationObservation): void;
  /** Every structured event the core logs (see `RestJwtOptions.log`): logins, refusals, reuse detections, … */
  event?(event: LogEvent): void;
}

/** Calls `fn` and drops what it throws (an observer never changes an answer). */
export function notify(fn: () => void): void {
  try {
    fn();
  } catch {
    // Dropped by design: see Observer.
  }
}
