// Picks the metadata engine a broker's configuration names (metadata.store).
import type { Logger } from '../common/logger.ts';
import type { MetadataStore } from './store.ts';
import { SqliteMetadataStore } from './sqlite/sqlite-store.ts';
import { PostgresMetadataStore } from './postgres/postgres-store.ts';

/** The engine for `cfg` (BrokerConfig['metadata']), not opened yet: call open(). */
export function createMetadataStore(
  cfg: { engine: 'sqlite'; path: string } | { engine: 'postgres'; url: string; poolSize: number; statementTimeoutMs: number },
  log?: Logger,
): MetadataStore {
  if (cfg.engine === 'postgres') return new PostgresMetadataStore({ url: cfg.url, poolSize: cfg.poolSize, statementTimeoutMs: cfg.statementTimeoutMs }, log);
  return new SqliteMetadataStore(cfg.path);
}
