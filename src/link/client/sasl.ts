// SASL mechanisms for the link client: PLAIN (RFC 4616) and SCRAM-SHA-256/512 (RFC 5802, RFC 7677,
// KIP-84). A mechanism is a small state machine over opaque tokens; the connection carries the
// tokens in SaslAuthenticate requests (KIP-152), so adding a mechanism (OAUTHBEARER, GSSAPI) means
// adding one more SaslExchange here and nothing in the connection.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SaslMechanismName, SaslOptions } from './options.ts';

export interface SaslExchange {
  readonly mechanism: SaslMechanismName;
  /** The client's first message. */
  initial(): Buffer;
  /**
   * The next client message for a server message, or null when the exchange is complete (the
   * server's last message verified). Throws when the server's message is wrong.
   */
  respond(serverMessage: Buffer): Buffer | null;
}

export class SaslError extends Error {
  override name = 'SaslError';
}

export function createSaslExchange(options: SaslOptions): SaslExchange {
  switch (options.mechanism) {
    case 'PLAIN':
      return new PlainExchange(options);
    case 'SCRAM-SHA-256':
      return new ScramExchange(options, 'sha256', 32);
    case 'SCRAM-SHA-512':
      return new ScramExchange(options, 'sha512', 64);
  }
}

class PlainExchange implements SaslExchange {
  readonly mechanism = 'PLAIN' as const;
  private readonly options: SaslOptions;

  constructor(options: SaslOptions) {
    this.options = options;
  }

  initial(): Buffer {
    const { authorizationId = '', username, password } = this.options;
    return Buffer.from(`${authorizationId}\u0000${username}\u0000${password}`, 'utf8');
  }

  respond(): Buffer | null {
    // The server answers PLAIN with an empty message once the credentials are accepted.
    return null;
  }
}

// Kafka refuses fewer iterations than this (ScramMechanism.minIterations); a server asking for
// fewer is not a Kafka broker we should trust with a proof.
const SCRAM_ITERATIONS_MIN = 4096;
const SCRAM_NONCE_BYTES = 24;

class ScramExchange implements SaslExchange {
  readonly mechanism: SaslMechanismName;
  private readonly options: SaslOptions;
  private readonly hash: 'sha256' | 'sha512';
  private readonly keyBytes: number;
  private readonly clientNonce = randomBytes(SCRAM_NONCE_BYTES).toString('base64url');
  private clientFirstBare = '';
  private expectedServerSignature: Buffer | null = null;
  private state: 'first' | 'final' | 'done' = 'first';

  constructor(options: SaslOptions, hash: 'sha256' | 'sha512', keyBytes: number) {
    this.options = options;
    this.hash = hash;
    this.keyBytes = keyBytes;
    this.mechanism = hash === 'sha256' ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512';
  }

  initial(): Buffer {
    this.clientFirstBare = `n=${saslName(this.options.username)},r=${this.clientNonce}`;
    return Buffer.from(`n,,${this.clientFirstBare}`, 'utf8');
  }

  respond(serverMessage: Buffer): Buffer | null {
    const text = serverMessage.toString('utf8');
    if (this.state === 'first') return this.clientFinal(text);
    if (this.state === 'final') {
      this.verifyServerFinal(text);
      return null;
    }
    throw new SaslError('SCRAM exchange already complete');
  }

  private clientFinal(serverFirst: string): Buffer {
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (attrs.has('e')) throw new SaslError(`server refused SCRAM: ${attrs.get('e')}`);
    if (nonce === undefined || !nonce.startsWith(this.clientNonce) || nonce.length <= this.clientNonce.length) {
      throw new SaslError('server nonce does not extend the client nonce');
    }
    if (salt === undefined || !Number.isInteger(iterations) || iterations < SCRAM_ITERATIONS_MIN) {
      throw new SaslError(`server-first message has no salt or too few iterations (${attrs.get('i')})`);
    }
    const saltedPassword = pbkdf2Sync(this.options.password.normalize('NFKC'), Buffer.from(salt, 'base64'), iterations, this.keyBytes, this.hash);
    const clientKey = this.hmac(saltedPassword, 'Client Key');
    const storedKey = createHash(this.hash).update(clientKey).digest();
    const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = this.hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    this.expectedServerSignature = this.hmac(this.hmac(saltedPassword, 'Server Key'), authMessage);
    this.state = 'final';
    return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8');
  }

  private verifyServerFinal(serverFinal: string): void {
    const attrs = parseAttributes(serverFinal);
    if (attrs.has('e')) throw new SaslError(`server refused SCRAM: ${attrs.get('e')}`);
    const signature = Buffer.from(attrs.get('v') ?? '', 'base64');
    const expected = this.expectedServerSignature!;
    // The server proves it knows the password too; without this check any server could pose as it.
    if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
      throw new SaslError('server signature does not match: the server does not know the credentials');
    }
    this.state = 'done';
  }

  private hmac(key: Buffer, text: string): Buffer {
    return createHmac(this.hash, key).update(text, 'utf8').digest();
  }
}

/** RFC 5802 saslname: "=" and "," escaped. */
function saslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function parseAttributes(message: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) attrs.set(part[0]!, part.slice(2));
  }
  return attrs;
}
