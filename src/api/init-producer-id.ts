// InitProducerId: idempotent producers (no transactional id) get a fresh producer id at epoch 0;
// transactional producers get their transactional id's producer id with a bumped epoch, which fences
// older instances and aborts a transaction they left open (KIP-98, KIP-360 for resuming producers).
import { ApiKey } from '../protocol/generated/api-table.ts';
import { ErrorCode } from '../protocol/generated/errors.ts';
import type { InitProducerIdRequest } from '../protocol/generated/init-producer-id-request.ts';
import type { InitProducerIdResponse } from '../protocol/generated/init-producer-id-response.ts';
import type { TransactionCoordinator } from '../coordinator/transactions.ts';
import type { ApiHandler } from './context.ts';

export function initProducerIdHandler(txns: TransactionCoordinator): ApiHandler<InitProducerIdRequest, InitProducerIdResponse> {
  return {
    apiKey: ApiKey.InitProducerId,
    minVersion: 0,
    maxVersion: 5,
    async handle(req, ctx) {
      const producerId = Number(req.producerId);
      const producerEpoch = req.producerEpoch;
      // v3+ may name the producer id and epoch the client had (KIP-360); both or neither.
      if ((producerId === -1) !== (producerEpoch === -1)) {
        return { errorCode: ErrorCode.INVALID_REQUEST, producerId: -1n, producerEpoch: -1, throttleTimeMs: 0 };
      }
      if (req.transactionalId !== null && ctx.broker.forwarding) {
        const forwarded = await ctx.broker.forwarding.forwardTransactional(ctx.apiKey, ctx.apiVersion, req.transactionalId, req);
        if (forwarded) return forwarded as InitProducerIdResponse;
      }
      if (req.transactionalId === null && ctx.broker.forwarding) {
        const fromSource = await ctx.broker.forwarding.producerIdFromSource(req);
        if (fromSource) return { ...fromSource, throttleTimeMs: 0 };
      }
      const expected = producerId === -1 ? null : { producerId, producerEpoch };
      const r = await txns.initProducerId(req.transactionalId, req.transactionTimeoutMs, expected);
      // PRODUCER_FENCED arrived with v4; older clients know it as INVALID_PRODUCER_EPOCH.
      const errorCode = r.errorCode === ErrorCode.PRODUCER_FENCED && ctx.apiVersion < 4 ? ErrorCode.INVALID_PRODUCER_EPOCH : r.errorCode;
      return { errorCode, producerId: BigInt(r.producerId), producerEpoch: r.producerEpoch, throttleTimeMs: 0 };
    },
  };
}
