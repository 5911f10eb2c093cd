/**
 * Imported first by main.ts, before any other module is evaluated. `berth server` is resident and mostly idle,
 * so its young generation costs RSS for good: V8 grows the semi-spaces from 1 MB up to 16 MB each under the
 * allocation burst of startup and a deploy and never gives them back (~14 MB of the daemon's idle RSS). A
 * growth factor of 1 keeps them at their start size. V8 reads this flag at each growth, so setting it at
 * runtime works, unlike --max-semi-space-size, which is fixed when the heap is created; it has to happen
 * before module loading, which already grows them once. Cost: more scavenges, in the daemon during builds
 * and deploys (whose work happens in child processes) and in short-lived CLI commands, which allocate little.
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--semi-space-growth-factor=1');
