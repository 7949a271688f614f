/**
 * Kubernetes resource quantities ("10Gi", "512Mi", "1G", "1500m", "1e3") as numbers, and bytes back as a
 * quantity. Decimal suffixes are powers of 1000, binary ones powers of 1024, `m` is milli.
 */
const UNITS: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  Pi: 1024 ** 5,
  Ei: 1024 ** 6,
};

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|([a-zA-Z]*))$/;

/** The value of a quantity; 0 for anything absent or malformed (callers treat 0 as "unknown"). */
export function parseQuantity(q: unknown): number {
  if (typeof q === 'number') return Number.isFinite(q) ? q : 0;
  if (typeof q !== 'string') return 0;
  const m = QUANTITY.exec(q.trim());
  if (!m) return 0;
  const [, num, exp, suffix = ''] = m;
  if (exp) return Number(`${num}${exp}`);
  const unit = UNITS[suffix];
  return unit === undefined ? 0 : Number(num) * unit;
}

/** A byte quantity, rounded up to whole bytes as Kubernetes does. */
export function parseBytes(q: unknown): number {
  return Math.ceil(parseQuantity(q));
}

/** Bytes as the largest binary unit that divides them ("10Gi"), else plain bytes. */
export function formatBytes(bytes: number): string {
  const n = Math.ceil(bytes);
  for (const [u, f] of [
    ['Ei', 1024 ** 6],
    ['Pi', 1024 ** 5],
    ['Ti', 1024 ** 4],
    ['Gi', 1024 ** 3],
    ['Mi', 1024 ** 2],
    ['Ki', 1024],
  ] as const) {
    if (n >= f && n % f === 0) return `${n / f}${u}`;
  }
  return String(n);
}
