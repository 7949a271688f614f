/**
 * The value at a dotted path (`status.phase`) of a Kubernetes object, undefined where any step is
 * missing: for the API server (selectors, tables) and the controllers alike.
 */
export function getPath<T = unknown>(o: unknown, path: string): T | undefined {
  let cur = o;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur as T | undefined;
}
