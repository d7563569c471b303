// A Strait broker process for promote-crash.test.ts: started on a given data directory and ports,
// it may stop every promotion at a named step (printing {"paused": step}) so the test can kill -9
// it there, or fail the first promotion there (`failAt`). Prints {"ready": true} once it serves.
import { loadBrokerConfig } from '../../src/config/broker-config.ts';
import { silentLogger } from '../../src/common/logger.ts';
import { Broker } from '../../src/broker/broker.ts';
import type { PromotionStep } from '../../src/link/link-manager.ts';

const o = JSON.parse(process.argv[2]!) as { dataDir: string; port: number; httpPort: number; pauseAt?: PromotionStep; failAt?: PromotionStep };
const config = loadBrokerConfig({
  flags: { listeners: `PLAINTEXT://127.0.0.1:${o.port}`, 'http.listener': `127.0.0.1:${o.httpPort}`, 'data.dir': o.dataDir, 'upload.interval.ms': '200' },
});
const broker = new Broker(config, silentLogger);
await broker.start();
if (o.pauseAt) {
  broker.links!.onPromotionStep(async (step, topic) => {
    if (step !== o.pauseAt) return;
    console.log(JSON.stringify({ paused: step, topic }));
    // Held here until the test kills the process.
    await new Promise(() => {});
  });
}
if (o.failAt) {
  let failed = false;
  broker.links!.onPromotionStep((step) => {
    if (step !== o.failAt || failed) return;
    failed = true;
    throw new Error(`injected failure at promotion step '${step}'`);
  });
}
console.log(JSON.stringify({ ready: true }));
