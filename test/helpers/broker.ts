// Starts a broker inside the test process on a free port with its own temporary data directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { silentLogger } from '../../src/common/logger.ts';
import type { Logger } from '../../src/common/logger.ts';
import { Broker } from '../../src/broker/broker.ts';

export interface TestBroker {
  broker: Broker;
  port: number;
  dataDir: string;
  stop(opts?: { keepData?: boolean }): Promise<void>;
}

export async function startTestBroker(settings: Record<string, string> = {}, log: Logger = silentLogger): Promise<TestBroker> {
  const dataDir = settings['data.dir'] ?? mkdtempSync(join(tmpdir(), 'strait-test-'));
  // The HTTP admin API takes a free port too: its default 127.0.0.1:9095 would collide between brokers.
  // STRAIT_TEST_WAL_KIND=object runs a test file's brokers on the object WAL (scripts/test.ts does
  // so for a set of files, so both engines carry the same end-to-end tests).
  const walKind: Record<string, string> = process.env.STRAIT_TEST_WAL_KIND ? { 'wal.kind': process.env.STRAIT_TEST_WAL_KIND } : {};
  const config = loadBrokerConfig({ flags: { listeners: 'PLAINTEXT://127.0.0.1:0', 'http.listener': '127.0.0.1:0', 'data.dir': dataDir, ...walKind, ...settings } });
  const broker = new Broker(config, log);
  await broker.start();
  return {
    broker,
    port: broker.bound[0]!.port,
    dataDir,
    async stop(opts = {}) {
      await broker.stop();
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
