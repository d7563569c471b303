import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetadataStore } from '../../src/metadata/index.ts';
import { metadataStoreContract } from './store-contract.ts';

metadataStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'strait-md-'));
  const path = join(dir, 'metadata.sqlite');
  let store = new SqliteMetadataStore(path);
  await store.open();
  return {
    store,
    async reopen() {
      await store.close();
      store = new SqliteMetadataStore(path);
      await store.open();
      return store;
    },
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
