/** The RouteError a route is expected to fail with (the test fails if it succeeds or throws anything else). */
import assert from 'node:assert/strict';
import { RouteError } from '../../sidecar/balancer/route-result.ts';

export async function failureOf(promise: Promise<unknown>): Promise<RouteError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RouteError, String(error));
    return error;
  }
  assert.fail('expected the route to fail');
}
