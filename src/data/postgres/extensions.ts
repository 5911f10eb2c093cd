/** Extensions apps ask for that Debian's main archive may lack, and where each comes from. Pure. */

export interface KnownExtension {
  name: string;
  /** What users call it. */
  title: string;
  /** The Debian package, by PostgreSQL major version. */
  package: (major: string) => string;
  /** Where that package comes from. */
  source: string;
}

export const KNOWN_EXTENSIONS: KnownExtension[] = [
  {
    name: 'vector',
    title: 'pgvector',
    package: (major) => `postgresql-${major}-pgvector`,
    source: "PostgreSQL's apt repository (apt.postgresql.org; Debian 12's main archive lacks it)",
  },
  {
    name: 'postgis',
    title: 'PostGIS',
    package: (major) => `postgresql-${major}-postgis-3`,
    source: "Debian's archive or PostgreSQL's apt repository",
  },
];

/** One sentence on how to get an extension the server lacks. */
export function installHint(ext: KnownExtension, major: string): string {
  return `${ext.title} (extension "${ext.name}") is not installed on the Berth server: it comes from ${ext.source} as ${ext.package(major)}; install it there (apt-get install ${ext.package(major)}), no restart of the database needed`;
}
