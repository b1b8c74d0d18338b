/**
 * `GET settings/`: the server settings that change what the admin shows, so that a page can say what a value
 * means (a `last_login` of null with `updateLastLogin` off is "not recorded", not "never"). Never a key or a secret.
 */
import { auditing } from '../audit/events.js';
import type { AdminContext } from './context.js';

/** The settings the admin API exposes, in the API's snake_case. */
export interface AdminSettingsView {
  /** Whether logins record `last_login` (simplejwt's `UPDATE_LAST_LOGIN`; off by default). */
  update_last_login: boolean;
  /** Whether security events are written to the audit log (`auditLog` on and a store that keeps one). */
  audit_log: boolean;
}

/** `GET settings/`. */
export function adminSettings(ctx: AdminContext): AdminSettingsView {
  return { update_last_login: ctx.settings.updateLastLogin, audit_log: auditing(ctx) };
}
