// The part of semver's API Berth uses (its own package ships no types, and @types/semver is not installed).
declare module 'semver' {
  interface Semver {
    /** The highest version in the list that satisfies the range, or null. */
    maxSatisfying(versions: readonly string[], range: string): string | null;
    satisfies(version: string, range: string): boolean;
    /** The normalised range, or null when it is not a valid range. */
    validRange(range: string): string | null;
    /** The normalised version, or null when it is not an exact version. */
    valid(version: string): string | null;
    major(version: string): number;
  }
  const semver: Semver;
  export default semver;
}
