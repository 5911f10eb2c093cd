/** Every engine Berth runs as a data service, by kind (`berth add --database KIND`). */
import type { DataEngine } from '../store/data-services.js';
import type { Engine } from './engine.js';
import { postgresEngine } from './postgres/engine.js';
import { redisEngine } from './redis/engine.js';

const ENGINES: Record<DataEngine, Engine> = { postgres: postgresEngine, redis: redisEngine };

export function engineOf(kind: DataEngine): Engine {
  return ENGINES[kind];
}
