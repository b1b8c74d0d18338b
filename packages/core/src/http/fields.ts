import { ValidationError } from '../errors.js';
import type { Message } from '../i18n/translate.js';

export interface StringField {
  name: string;
  /** DRF CharField trims by default; simplejwt's PasswordField does not. */
  trim: boolean;
  maxLength: number;
}

/**
 * Reads string fields with DRF CharField rules and messages (required, null, blank, not a string), collecting the
 * errors of every field before throwing one ValidationError, as a serializer does. Numbers become strings, as in DRF.
 */
export function readStringFields<const N extends string>(
  data: Readonly<Record<string, unknown>>,
  fields: readonly (StringField & { name: N })[],
): Record<N, string> {
  const out = {} as Record<N, string>;
  const errors: Record<string, Message[]> = {};
  for (const f of fields) {
    const raw = Object.hasOwn(data, f.name) ? data[f.name] : undefined;
    let error: Message | undefined;
    if (raw === undefined) error = { key: 'field_required' };
    else if (raw === null) error = { key: 'field_null' };
    else if (typeof raw === 'number' && Number.isFinite(raw)) out[f.name] = String(raw);
    else if (typeof raw !== 'string') error = { key: 'field_not_string' };
    else out[f.name] = raw;
    if (error === undefined) {
      const value = f.trim ? out[f.name].trim() : out[f.name];
      if (value.length === 0) error = { key: 'field_blank' };
      else if (value.length > f.maxLength) error = { key: 'field_too_long', params: { max: f.maxLength } };
      else out[f.name] = value;
    }
    if (error !== undefined) errors[f.name] = [error];
  }
  if (Object.keys(errors).length > 0) throw new ValidationError(errors);
  return out;
}
