// InitProducerId for idempotent producers (no transactional id): a fresh producer id at epoch 0.
// Transactional ids are answered with a clear error until the transaction coordinator exists.
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { InitProducerIdRequest } from '../protocol/generated/init-producer-id-request.ts';
import type { InitProducerIdResponse } from '../protocol/generated/init-producer-id-response.ts';
import type { ProducerIdManager } from '../coordinator/producer-ids.ts';
import type { ApiHandler } from './context.ts';

export function initProducerIdHandler(ids: ProducerIdManager): ApiHandler<InitProducerIdRequest, InitProducerIdResponse> {
  return {
    apiKey: ApiKey.InitProducerId,
    minVersion: 0,
    maxVersion: 5,
    async handle(req) {
      if (req.transactionalId !== null) {
        return { errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1n, producerEpoch: -1, throttleTimeMs: 0 };
      }
      return { errorCode: ErrorCode.NONE, producerId: BigInt(await ids.nextId()), producerEpoch: 0, throttleTimeMs: 0 };
    },
  };
}
