// stop() while start() is under way (a SIGTERM during start-up): the start ends at its next step,
// what it opened is closed, the directory lock and the ports are free again, and a new broker starts
// on the same data.dir.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker } from '../../src/broker/broker.ts';
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { createLogger } from '../../src/common/logger.ts';
import { StraitError } from '../../src/common/errors.ts';
import { freePort } from '../compat/harness.ts';
import { startTestBroker } from '../helpers/broker.ts';

/** Resolves true if 127.0.0.1:port can be bound (nobody listens on it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

for (const when of ['at once', 'once the listeners are bound'] as const) {
  test(`stop() ${when} during start(): the start stops, nothing stays open, the next broker starts`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strait-stop-start-'));
    const port = await freePort();
    const httpPort = await freePort();
    try {
      const config = loadBrokerConfig({ flags: { listeners: `PLAINTEXT://127.0.0.1:${port}`, 'http.listener': `127.0.0.1:${httpPort}`, 'data.dir': dataDir } });
      let stopping: Promise<void> | null = null;
      let broker: Broker;
      const log = createLogger('info', {}, (line) => {
        if (when === 'once the listeners are bound' && stopping === null && line.includes('"msg":"listening"')) stopping = broker.stop();
      });
      broker = new Broker(config, log);
      const started = broker.start();
      if (when === 'at once') stopping = broker.stop();
      await assert.rejects(started, (err: unknown) => err instanceof StraitError && err.code === 'STRAIT_SHUTTING_DOWN');
      await stopping;
      assert.ok(!existsSync(join(dataDir, 'metadata.sqlite')), 'storage was never opened');
      assert.equal(await portFree(port), true, 'the Kafka port is free again');
      assert.equal(await portFree(httpPort), true, 'the HTTP port is free again');
      const next = await startTestBroker({ 'data.dir': dataDir });
      await next.stop({ keepData: true });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}
