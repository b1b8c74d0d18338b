import { ParseError, PayloadTooLarge, UnsupportedMediaType, ValidationError } from '../errors.js';

/** Python's names for JSON types, as DRF says them in "Expected a dictionary, but got list.". */
function pythonTypeName(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return 'NoneType';
}

/** The media type without parameters, lower case: `application/json; charset=utf-8` → `application/json`. */
export function mediaType(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Parses a token endpoint's body the way DRF's JSON and form parsers do: JSON objects and urlencoded forms are
 * accepted, an empty body is an empty object, any other media type is 415. The result is a null-prototype object,
 * so `__proto__` or `constructor` keys are plain data and can pollute nothing.
 */
export function parseBody(contentType: string | undefined, rawBody: string | undefined, limit: number): Record<string, unknown> {
  if (rawBody !== undefined && Buffer.byteLength(rawBody) > limit) throw new PayloadTooLarge(limit);
  const type = mediaType(contentType);
  const empty = rawBody === undefined || rawBody.length === 0;
  if (type === 'application/json' || type.endsWith('+json')) {
    if (empty) return Object.create(null) as Record<string, unknown>;
    let data: unknown;
    try {
      data = JSON.parse(rawBody);
    } catch {
      // Never echo the input: it may hold a password.
      throw new ParseError('the body is not valid JSON.');
    }
    if (data === null) throw new ValidationError({ non_field_errors: [{ key: 'no_data' }] });
    if (typeof data !== 'object' || Array.isArray(data)) {
      throw new ValidationError({ non_field_errors: [{ key: 'invalid_data', params: { type: pythonTypeName(data) } }] });
    }
    return Object.assign(Object.create(null) as Record<string, unknown>, data);
  }
  if (type === 'application/x-www-form-urlencoded') {
    const out = Object.create(null) as Record<string, unknown>;
    if (!empty) for (const [k, v] of new URLSearchParams(rawBody)) out[k] = v; // last value wins, as QueryDict.get
    return out;
  }
  if (empty && type === '') return Object.create(null) as Record<string, unknown>;
  throw new UnsupportedMediaType(type);
}
