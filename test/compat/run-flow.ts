// Runs one client's admin flow by hand against a running broker and prints its summary:
//   node test/compat/run-flow.ts CLIENT HOST:PORT [TOPIC]     (CLIENT: see `node test/compat/run-flow.ts`)
import { adminFlows } from './flows.ts';
import { uniqueTopic } from './harness.ts';

const [client, bootstrap, topic] = process.argv.slice(2);
const flow = adminFlows.find((f) => f.client === client);
if (flow === undefined || bootstrap === undefined) {
  console.error(`usage: node test/compat/run-flow.ts CLIENT HOST:PORT [TOPIC]\nclients: ${adminFlows.map((f) => f.client).join(', ')}`);
  process.exit(2);
}
const summary = await flow.run({ bootstrap, topic: topic ?? uniqueTopic('run-flow'), partitions: 3, timeoutMs: 30_000 });
console.log(JSON.stringify(summary, null, 2));
