// A bounded memo of a pure function of a string: what the public lookup does with the text a user typed
// before it reads anything (normalise it, check it against the URL policy, derive its redirect URI)
// depends on that text and the configuration alone, and costs more on every request than reading the
// answer back (bench: ~13 µs of CPU of a cached lookup's ~95).
import { LRUCache } from 'lru-cache';

export interface BoundedMemoOptions<V> {
  /** The most kept in all, as `sizeOf` counts each entry (bytes, for recognisedUrls); least recently used dropped first. */
  maxSize: number;
  /** What one entry counts against `maxSize`: a positive whole number. */
  sizeOf: (key: string, value: V) => number;
}

/**
 * A copy of `text`, the same characters in a flat string of its own. A substring of 13 characters or
 * more is, in V8, a view into its parent string (a "sliced string") that keeps the whole parent alive,
 * and a concatenation keeps its parts: a query parameter Fastify parsed is a view of the request's URL
 * (up to 16 KB however short the value), or when percent-decoded a concatenation of such views. JSON
 * keeps every character (a lone surrogate too, which a round trip through UTF-8 would replace).
 */
function ownCopy(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

/**
 * `compute` memoised by its argument, within `maxSize` (an entry larger than that alone is not kept).
 * Only for a function whose answer depends on its argument alone: a kept answer is never computed again,
 * and every caller gets the same value (freeze it). A throw is not kept: the next call with that argument
 * computes (and throws) again, so a flood of bad input costs what it cost without the memo and keeps
 * nothing. A kept key is a copy of the argument (ownCopy), so what is kept is what `sizeOf` counts.
 */
export function boundedMemo<V extends object>(compute: (key: string) => V, options: BoundedMemoOptions<V>): (key: string) => V {
  const kept = new LRUCache<string, V>({ maxSize: options.maxSize, sizeCalculation: (value, key) => options.sizeOf(key, value) });
  return (key) => {
    const known = kept.get(key);
    if (known) return known;
    const value = compute(key);
    kept.set(ownCopy(key), value);
    return value;
  };
}
