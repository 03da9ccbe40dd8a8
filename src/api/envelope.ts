/** Small helpers every route uses: the success envelope and the caller a route was authenticated as. */
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../contract/errors.js';

export function ok<T>(request: FastifyRequest, data: T) {
  return { code: 0 as const, message: 'SUCCEED', request_id: request.id, data };
}

/** The caller's account; the preParsing hook refused the request already if there were none. */
export function account(request: FastifyRequest): string {
  if (!request.caller) throw new ApiError('AUTH_FAILED');
  return request.caller.accountId;
}

/** Error statuses of every authenticated route, before its own. */
export const AUTH_ERRORS = ['AUTH_MISSING', 'AUTH_INVALID', 'TOKEN_NOT_YET_VALID', 'TOKEN_EXPIRED', 'TOO_MANY_REQUESTS', 'INTERNAL'] as const;
