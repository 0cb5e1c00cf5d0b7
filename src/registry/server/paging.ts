import { DistributionError } from './errors.js';

/**
 * Pagination of tag lists and the catalog: `n` entries after `last`, in lexical order, with a
 * `Link: <url>; rel="next"` header when more remain.
 */

export interface Page {
  items: string[];
  /** The Link header's value when more entries follow, else undefined. */
  link: string | undefined;
}

/** Parses the `n` query parameter; undefined when absent. Negative or non-numeric is invalid. */
export function parseN(raw: string | null): number | undefined {
  if (raw === null || raw === '') return undefined;
  if (!/^\d+$/.test(raw)) {
    throw new DistributionError('UNSUPPORTED', { n: raw }, { status: 400, message: 'invalid n' });
  }
  return Number(raw);
}

/** Selects the page of `all` (any order; sorted here) for `n`/`last`, with its next link on `path`. */
export function paginate(
  all: string[],
  options: { n: number | undefined; last: string | null; path: string; maxN?: number },
): Page {
  const sorted = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const last = options.last;
  const after = last === null || last === '' ? sorted : sorted.filter((s) => s > last);
  let n = options.n;
  if (options.maxN !== undefined && (n === undefined || n > options.maxN)) n = options.maxN;
  if (n === undefined || n >= after.length) return { items: after, link: undefined };
  const items = after.slice(0, n);
  const lastItem = items[items.length - 1];
  const link =
    n === 0 || lastItem === undefined
      ? undefined
      : `<${options.path}?n=${n}&last=${encodeURIComponent(lastItem)}>; rel="next"`;
  return { items, link };
}
