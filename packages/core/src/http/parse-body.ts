import { ParseError, PayloadTooLarge, UnsupportedMediaType, ValidationError } from '../errors.js';

/** Python's names for JSON types, as DRF says them in "Expected a dictionary, but got list.". */
function pythonTypeName(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return 'NoneType';
}

/**
 * Whether `text` is longer than `limit` bytes in UTF-8, as the body arrived. Each UTF-16 code unit takes one to three
 * bytes (a surrogate pair four, two each; a lone surrogate three, as U+FFFD), so the length alone decides unless it
 * is between a third of the limit and the limit: only then are the bytes counted.
 */
export function utf8LengthExceeds(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
    if (bytes > limit) return true;
  }
  return false;
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
  if (rawBody !== undefined && utf8LengthExceeds(rawBody, limit)) throw new PayloadTooLarge(limit);
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
