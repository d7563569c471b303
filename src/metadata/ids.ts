import { randomBytes } from 'node:crypto';

/** A random id in Kafka's Uuid text form (22 base64url chars). Kafka never hands out ids that start
 *  with '-' (they would read as command-line flags), nor the all-zero or all-but-one ids it reserves. */
export function randomKafkaUuid(): string {
  for (;;) {
    const s = randomBytes(16).toString('base64url');
    if (!s.startsWith('-') && s !== 'AAAAAAAAAAAAAAAAAAAAAA' && s !== 'AAAAAAAAAAAAAAAAAAAAAQ') return s;
  }
}
