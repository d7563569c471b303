// Compiles one Java program from test/java/src/main/java/io/strait/test/ against Apache Kafka 4.3.1's
// jars (.cache/kafka/libs) and runs it. The classes are kept in .cache/java-programs/NAME-HASH
// (HASH of the source and the jar names), so a run after the first skips javac.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, kafkaLibsDir, log4jConfigPath, repoRoot, runCommand, type RunOptions, type RunResult } from './harness.ts';

const sourceDir = join(repoRoot, 'test', 'java', 'src', 'main', 'java', 'io', 'strait', 'test');
const workDir = join(cacheDir, 'java-programs');
const installHint = 'run scripts/install-test-deps.sh (Kafka 4.3.1 jars in .cache/kafka/libs; a JDK 17+ with javac on PATH)';

export function javaBin(name: 'java' | 'javac'): string {
  const home = process.env['JAVA_HOME'];
  return home !== undefined && home !== '' ? join(home, 'bin', name) : name;
}

const compiled = new Map<string, Promise<string>>();

/** The classes folder of io.strait.test.NAME, compiled if needed. */
export function compileJavaProgram(name: string): Promise<string> {
  let done = compiled.get(name);
  if (done === undefined) {
    done = compile(name);
    compiled.set(name, done);
  }
  return done;
}

async function compile(name: string): Promise<string> {
  if (!existsSync(kafkaLibsDir)) throw new Error(`${kafkaLibsDir} is missing: ${installHint}`);
  const source = join(sourceDir, `${name}.java`);
  const jars = readdirSync(kafkaLibsDir).filter((j) => j.endsWith('.jar')).sort();
  const hash = createHash('sha256').update(readFileSync(source)).update(jars.join('\n')).digest('hex').slice(0, 16);
  const dir = join(workDir, `${name}-${hash}`);
  if (existsSync(join(dir, 'io', 'strait', 'test', `${name}.class`))) return dir;
  mkdirSync(workDir, { recursive: true });
  for (const old of readdirSync(workDir)) if (old.startsWith(`${name}-`)) rmSync(join(workDir, old), { recursive: true, force: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const r = await runCommand(javaBin('javac'), ['-encoding', 'UTF-8', '-nowarn', '-d', tmp, '-cp', join(kafkaLibsDir, '*'), source], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`javac ${name}.java failed (${installHint}):\n${r.stdout}\n${r.stderr}`);
  renameSync(tmp, dir);
  return dir;
}

/** Runs io.strait.test.NAME with the Kafka jars on the class path, to completion. */
export async function runJavaProgram(name: string, args: string[], options: RunOptions & { jvmArgs?: string[] } = {}): Promise<RunResult> {
  const classes = await compileJavaProgram(name);
  const jvmArgs = options.jvmArgs ?? ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto', '-Xmx384m'];
  return runCommand(javaBin('java'), [...jvmArgs, `-Dlog4j2.configurationFile=${log4jConfigPath}`, '-cp', `${classes}:${join(kafkaLibsDir, '*')}`, `io.strait.test.${name}`, ...args], options);
}
