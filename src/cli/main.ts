#!/usr/bin/env node
// The `strait` command.
import { loadBrokerConfig, BROKER_CONFIG_DEFS } from '../config/broker-config.ts';
import { createLogger } from '../common/logger.ts';
import { StraitError } from '../common/errors.ts';
import { runLinkCommand } from './link-commands.ts';

const USAGE = `Usage: strait <command> [options]

Commands:
  start            Start a broker (embedded SQLite metadata and local storage by default).
  config           Print every broker setting with its default and meaning (--markdown: as a table).
  link             Create, inspect, promote and delete links of a running broker
                   (strait link --help for its commands).

Options for start:
  --config FILE    Read settings from a Java-style .properties file.
  --set KEY=VALUE  Set any broker setting (repeatable), e.g. --set num.partitions=3.
  --KEY VALUE      Shorthand for --set with dots written as dashes, e.g. --data-dir ./data,
                   --listeners PLAINTEXT://127.0.0.1:9092, --node-id 1.
  -h, --help       Show this help.

Settings come from defaults, then the file, then STRAIT_* environment variables
(STRAIT_DATA_DIR=... sets data.dir), then flags. Every wrong value is reported at start.
`;

function fail(message: string, code = 2): never {
  process.stderr.write(`strait: ${message}\n`);
  process.exit(code);
}

/** --data-dir X and --set data.dir=X both mean data.dir=X. */
function parseStartFlags(argv: string[]): { file?: string; flags: Record<string, string> } {
  const flags: Record<string, string> = {};
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    if (!arg.startsWith('--')) fail(`unexpected argument '${arg}'\n\n${USAGE}`);
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else {
      value = argv[++i];
      if (value === undefined) fail(`option --${name} needs a value`);
    }
    if (name === 'config') file = value;
    else if (name === 'set') {
      const k = value.indexOf('=');
      if (k <= 0) fail(`--set expects KEY=VALUE, got '${value}'`);
      flags[value.slice(0, k)] = value.slice(k + 1);
    } else flags[name.replace(/-/g, '.')] = value;
  }
  return { file, flags };
}

async function start(argv: string[]): Promise<void> {
  const { file, flags } = parseStartFlags(argv);
  let config;
  try {
    config = loadBrokerConfig({ file: file ?? process.env.STRAIT_CONFIG, env: process.env, flags });
  } catch (err) {
    if (err instanceof StraitError) fail(err.message);
    throw err;
  }
  const log = createLogger(config.logLevel, { node: config.nodeId });
  // Loaded here, not at the top: the broker's module graph takes about a second to load, which
  // `strait link` and `strait config` have no use for.
  const { Broker } = await import('../broker/broker.ts');
  const broker = new Broker(config, log);
  const shutdownTimeoutMs = config.shutdownTimeoutMs;
  let stopping = false;
  // A graceful stop first; after shutdown.timeout.ms, or at a second signal, exit anyway and say
  // which step of the stop (or of the start, when stopped while starting) did not finish.
  const stop = async (signal: string) => {
    if (stopping) {
      log.error('second signal: exiting without finishing the shutdown', { signal, pending: broker.step ?? 'nothing' });
      process.exit(1);
    }
    stopping = true;
    log.info('shutting down', { signal, timeoutMs: shutdownTimeoutMs });
    const timer = setTimeout(() => {
      log.error('shutdown timed out; exiting without finishing it', { timeoutMs: shutdownTimeoutMs, pending: broker.step ?? 'nothing' });
      process.exit(1);
    }, shutdownTimeoutMs);
    timer.unref();
    try {
      await broker.stop();
    } catch (err) {
      log.error('shutdown failed', { pending: broker.step ?? 'nothing', err: err as Error });
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  try {
    await broker.start();
  } catch (err) {
    // Stopped by a signal while starting: stop() finishes and exits.
    if (stopping) return;
    // One line on stderr, no stack: an operating error (a directory, a port, a lock) says what to fix.
    if (err instanceof StraitError) fail(`${err.code}: ${err.message}`, 1);
    throw err;
  }
}

function printConfig(markdown: boolean): void {
  if (markdown) process.stdout.write('| setting | type | default | meaning |\n|---|---|---|---|\n');
  for (const [k, d] of Object.entries(BROKER_CONFIG_DEFS)) {
    if (markdown) process.stdout.write(`| \`${k}\` | ${d.kind} | ${d.default === null ? '—' : `\`${d.default}\``} | ${d.doc} |\n`);
    else process.stdout.write(`${k}\n    ${d.doc}\n    type ${d.kind}, default ${d.default ?? '(none)'}\n`);
  }
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'start':
    await start(rest);
    break;
  case 'config':
    printConfig(rest.includes('--markdown'));
    break;
  case 'link':
    // exitCode, not exit(): what was written to a pipe is flushed first.
    process.exitCode = await runLinkCommand(rest);
    break;
  case undefined:
  case '-h':
  case '--help':
  case 'help':
    process.stdout.write(USAGE);
    break;
  default:
    fail(`unknown command '${command}'\n\n${USAGE}`);
}
