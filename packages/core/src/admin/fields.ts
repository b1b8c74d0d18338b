/**
 * Reading the admin API's inputs (JSON bodies, query strings) with Django REST framework's field rules and messages.
 * Each reader returns the value or records an error under the field's name, so that one 400 lists every bad field,
 * as a serializer does.
 */
import { ValidationError } from '../errors.js';
import type { Message } from '../i18n/translate.js';

/** A query-string value as frameworks parse it: absent, once, or repeated (the last one wins, as `QueryDict.get`). */
export type QueryValue = string | readonly string[] | undefined;

/** Collects field errors; `done()` throws them all at once. */
export class FieldErrors {
  private readonly errors: Record<string, Message[]> = {};

  add(field: string, message: Message): void {
    (this.errors[field] ??= []).push(message);
  }

  has(field: string): boolean {
    return Object.hasOwn(this.errors, field);
  }

  /** Throws the core's `ValidationError` (400, DRF's field map) when any field failed. */
  done(): void {
    if (Object.keys(this.errors).length > 0) throw new ValidationError(this.errors);
  }
}

function present(data: Readonly<Record<string, unknown>>, name: string): unknown {
  return Object.hasOwn(data, name) ? data[name] : undefined;
}

/**
 * A CharField: trimmed when `trim`, `maxLength` characters at most. A missing field is an error when `required`,
 * else `fallback`; an empty one is an error unless `allowBlank`. `minLength` is for passwords: it answers Django's
 * "This password is too short" message.
 */
export function readString(
  errors: FieldErrors,
  data: Readonly<Record<string, unknown>>,
  name: string,
  rule: { required: boolean; trim: boolean; maxLength: number; minLength?: number; allowBlank?: boolean; fallback?: string },
): string {
  const raw = present(data, name);
  if (raw === undefined) {
    if (rule.required) errors.add(name, { key: 'field_required' });
    return rule.fallback ?? '';
  }
  if (raw === null) {
    errors.add(name, { key: 'field_null' });
    return '';
  }
  let value: string;
  if (typeof raw === 'string') value = raw;
  else if (typeof raw === 'number' && Number.isFinite(raw)) value = String(raw);
  else {
    errors.add(name, { key: 'field_not_string' });
    return '';
  }
  if (rule.trim) value = value.trim();
  if (value.length === 0) {
    if (rule.allowBlank !== true) errors.add(name, { key: 'field_blank' });
  } else if (value.length > rule.maxLength) errors.add(name, { key: 'field_too_long', params: { max: rule.maxLength } });
  else if (rule.minLength !== undefined && value.length < rule.minLength) errors.add(name, { key: 'password_too_short', params: { min: rule.minLength } });
  return value;
}

const TRUE = new Set(['true', 'True', 'TRUE', 't', 'T', 'on', 'On', 'ON', 'yes', 'Yes', 'YES', 'y', 'Y', '1']);
const FALSE = new Set(['false', 'False', 'FALSE', 'f', 'F', 'off', 'Off', 'OFF', 'no', 'No', 'NO', 'n', 'N', '0']);

/** DRF's BooleanField: JSON booleans, 1/0, and its true/false words (form and query-string values). */
export function readBoolean(errors: FieldErrors, data: Readonly<Record<string, unknown>>, name: string, fallback: boolean): boolean {
  const raw = present(data, name);
  if (raw === undefined) return fallback;
  if (raw === true || raw === 1 || (typeof raw === 'string' && TRUE.has(raw))) return true;
  if (raw === false || raw === 0 || (typeof raw === 'string' && FALSE.has(raw))) return false;
  errors.add(name, raw === null ? { key: 'field_null' } : { key: 'not_a_boolean' });
  return fallback;
}

/** The last value of a query parameter. */
export function lastValue(value: QueryValue): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  return value[value.length - 1];
}

/** A query-string integer within `[min, max]`; `fallback` when absent. */
export function readQueryInteger(errors: FieldErrors, query: Readonly<Record<string, QueryValue>>, name: string, rule: { min: number; max: number; fallback: number }): number {
  const raw = lastValue(Object.hasOwn(query, name) ? query[name] : undefined);
  if (raw === undefined || raw === '') return rule.fallback;
  if (!/^\s*[+-]?\d{1,15}\s*$/.test(raw)) {
    errors.add(name, { key: 'not_an_integer' });
    return rule.fallback;
  }
  const value = Number(raw);
  if (value < rule.min) errors.add(name, { key: 'integer_too_small', params: { min: rule.min } });
  else if (value > rule.max) errors.add(name, { key: 'integer_too_large', params: { max: rule.max } });
  return value;
}

/** A query-string boolean, or undefined when absent or empty (no filter). */
export function readQueryBoolean(errors: FieldErrors, query: Readonly<Record<string, QueryValue>>, name: string): boolean | undefined {
  const raw = lastValue(Object.hasOwn(query, name) ? query[name] : undefined);
  if (raw === undefined || raw === '') return undefined;
  return readBoolean(errors, { [name]: raw }, name, false);
}
