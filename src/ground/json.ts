/** JSON in a fixed order: what Go's encoding/json does with maps, so that the same content gives the same bytes. */

/** A copy of `o` with its keys in byte order (Go's encoding/json writes maps so), `deep` for nested maps too. */
export function sortedKeys<T>(o: T, deep = false): T {
  if (Array.isArray(o)) return (deep ? o.map((x) => sortedKeys(x, true)) : o) as T;
  if (o === null || typeof o !== "object") return o;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
    const v = (o as Record<string, unknown>)[k];
    out[k] = deep ? sortedKeys(v, true) : v;
  }
  return out as T;
}
