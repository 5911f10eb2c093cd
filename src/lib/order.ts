/**
 * Code-point order for sorting names (host names, backend names) deterministically. Not localeCompare: the
 * first collation loads ICU's collator into the process for good (~3 MB of a resident daemon's RSS), and
 * these orders only need to be stable, not human.
 */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
