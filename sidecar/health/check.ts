/** One health check: GET the format's health path; a 2xx passes. Returns the problem, in our words. */
import { describeNetworkError } from '../backends/send-rerank.ts';
import type { HttpClient, HttpTarget } from '../backends/http-client.ts';

export async function checkHealth(
  client: HttpClient,
  target: HttpTarget,
  path: string,
  timeoutMs: number,
): Promise<string | undefined> {
  try {
    const answer = await client.request(target, path, 'GET', {}, undefined, { timeoutMs, maxBytes: 0 });
    return answer.status >= 200 && answer.status < 300 ? undefined : `health check answered HTTP ${answer.status}`;
  } catch (error) {
    return `health check failed: ${describeNetworkError(error).message}`;
  }
}
