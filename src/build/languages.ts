/**
 * Railpack's providers for languages besides Node and Python, in its detection order: which files name
 * them, which tool builds them, and what to install when the host lacks it. Go is built (golang.ts); the
 * others are detected and named, so the user learns what to install or which commands to set.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface Language {
  /** For messages: "a Rust app". */
  name: string;
  /** Any of these at the root selects it. */
  files: string[];
  /** The program that must be on the build's PATH. */
  tool: string;
  /** How to get it on a Debian server. */
  install: string;
  /** What to set when the host has the tool but Berth does not build this language itself. */
  commands: string;
  /** Berth builds it natively (only Go today). */
  builds: boolean;
  /** Railpack checks Deno after Python; every other language here comes before Python and Node. */
  afterPython?: boolean;
}

export const LANGUAGES: Language[] = [
  {
    name: 'PHP',
    files: ['composer.json', 'index.php'],
    tool: 'php',
    install: 'apt-get install php-cli composer',
    commands: 'build.buildCommand "composer install --no-dev" and deploy.startCommand "php -S 0.0.0.0:$PORT"',
    builds: false,
  },
  {
    name: 'Go',
    files: ['go.mod', 'go.work', 'main.go'],
    tool: 'go',
    install: 'apt-get install golang-go',
    commands: '',
    builds: true,
  },
  {
    name: 'Java',
    files: ['pom.xml', 'build.gradle', 'build.gradle.kts', 'mvnw', 'gradlew'],
    tool: 'java',
    install: 'apt-get install default-jdk-headless maven',
    commands:
      'build.buildCommand "./mvnw -DskipTests package" and deploy.startCommand "java -jar target/<app>.jar"',
    builds: false,
  },
  {
    name: 'Rust',
    files: ['Cargo.toml'],
    tool: 'cargo',
    install: 'apt-get install cargo',
    commands:
      'build.buildCommand "cargo build --release" and deploy.startCommand "./target/release/<binary>"',
    builds: false,
  },
  {
    name: 'Ruby',
    files: ['Gemfile'],
    tool: 'ruby',
    install: 'apt-get install ruby-full ruby-bundler',
    commands:
      'build.buildCommand "bundle install" and deploy.startCommand "bundle exec rails server -b 0.0.0.0 -p $PORT"',
    builds: false,
  },
  {
    name: 'Elixir',
    files: ['mix.exs'],
    tool: 'mix',
    install: 'apt-get install elixir',
    commands:
      'build.buildCommand "mix deps.get && MIX_ENV=prod mix release" and deploy.startCommand "_build/prod/rel/<app>/bin/<app> start"',
    builds: false,
  },
  {
    name: 'Deno',
    files: ['deno.json', 'deno.jsonc', 'deno.lock'],
    tool: 'deno',
    install: 'the deno binary (npm install -g deno)',
    commands: 'deploy.startCommand "deno run --allow-net --allow-env main.ts"',
    builds: false,
    afterPython: true,
  },
];

/** "a Rust app", "an Elixir app". */
export function appName(language: Language): string {
  return `${/^[AEIOU]/.test(language.name) ? 'an' : 'a'} ${language.name} app`;
}

export interface LanguageMatch {
  language: Language;
  /** The file that selected it. */
  file: string;
}

/** The first language (Railpack's order) whose files the app has at its root; `afterPython` ones only if asked. */
export function detectLanguage(appDir: string, afterPython: boolean): LanguageMatch | null {
  for (const language of LANGUAGES) {
    if (!!language.afterPython !== afterPython) continue;
    for (const file of language.files) {
      try {
        if (fs.statSync(path.join(appDir, file)).isFile()) return { language, file };
      } catch {
        /* not this one */
      }
    }
  }
  return null;
}

/**
 * The one sentence for a language Berth cannot build here: what to install, or, with the tool present but no
 * builder of Berth's own, which commands to set.
 */
export function unbuildableMessage(match: LanguageMatch, hasTool: boolean, dockerfile: boolean): string {
  const { language, file } = match;
  const alsoDocker = dockerfile
    ? ' (its Dockerfile cannot be used: no container engine driver is configured)'
    : '';
  if (!hasTool) {
    return `Berth detected ${appName(language)} (${file}) but this host has no ${language.tool}${alsoDocker}; install it on the server (Debian: ${language.install}) and deploy again`;
  }
  return `Berth detected ${appName(language)} (${file}) and this host has ${language.tool}, but Berth does not build ${language.name} apps on its own yet${alsoDocker}; set ${language.commands} in railway.toml`;
}
