/**
 * Keyset pagination (DESIGN §6): `?limit=` (default 20, max 100) and `?cursor=`; lists answer
 * `{ data, nextCursor }`. The cursor is opaque to clients: base64url JSON of the sort key of the last row
 * served, so the next page starts strictly after it and never skips or repeats a row when rows are added.
 */
import { Type, type TSchema } from 'typebox';
import { AppError } from './errors.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** Query-string fields of every list; spread into a route's querystring schema. */
export const paginationQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE, description: `Page size (1–${MAX_PAGE_SIZE}, default ${DEFAULT_PAGE_SIZE}).` })),
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'The `nextCursor` of the previous page.' })),
};

/** The response of a list: one page of `item` and the cursor of the next page (null on the last). */
export function pageSchema<T extends TSchema>(item: T, description: string) {
  return Type.Object({ data: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last page.' }) }, { description });
}

export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export function encodeCursor(key: Record<string, string | number | boolean | null>): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/**
 * The sort key inside a cursor, checked by `isKey`; a cursor that does not decode, or does not fit, is a
 * 400 naming the `cursor` parameter.
 */
export function decodeCursor<Key>(cursor: string | undefined, isKey: (value: unknown) => value is Key): Key | null {
  if (cursor === undefined) return null;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  if (!isKey(value)) {
    throw new AppError('request.validation_failed', 'The cursor is not one this list handed out.', {
      errors: [{ in: 'querystring', field: '/cursor', message: 'Invalid cursor; pass the nextCursor of the previous page.' }],
    });
  }
  return value;
}

/**
 * Cuts a page from rows fetched with `limit + 1` (one more than asked, to learn whether another page
 * exists) and builds the next cursor from the last row served.
 */
export function toPage<Row, Item>(rows: Row[], limit: number, present: (row: Row) => Item, keyOf: (row: Row) => Record<string, string | number | boolean | null>): Page<Item> {
  const hasMore = rows.length > limit;
  const served = hasMore ? rows.slice(0, limit) : rows;
  return { data: served.map(present), nextCursor: hasMore ? encodeCursor(keyOf(served[served.length - 1]!)) : null };
}
