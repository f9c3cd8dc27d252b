/**
 * The fake's TEI-like load: `concurrency` calls served at once, the rest waiting first come first
 * served; past `maxConcurrentRequests` held at once, a 429 (TEI: "Model is overloaded", no
 * Retry-After). What TEI tells about it: te_queue_size on /metrics, x-queue-time and
 * x-inference-time on every answer, its limits on /info.
 */
import type { Behaviour } from './fake-behaviour.ts';

export class ServingSlots {
  running = 0;
  /** Most calls ever served at once (a test checks no client pushed it past `concurrency`). */
  maxRunning = 0;
  /** Most calls ever held at once (served + waiting). */
  maxHeld = 0;
  /** Calls refused with 429 for being past maxConcurrentRequests. */
  overloaded = 0;
  readonly #waiting: (() => void)[] = [];

  get waiting(): number {
    return this.#waiting.length;
  }

  get held(): number {
    return this.running + this.#waiting.length;
  }

  /** False when the call must be refused (past maxConcurrentRequests). */
  admit(b: Behaviour): boolean {
    if (b.maxConcurrentRequests > 0 && this.held >= b.maxConcurrentRequests) {
      this.overloaded++;
      return false;
    }
    return true;
  }

  /** Resolves when the call may be served. */
  acquire(b: Behaviour): Promise<void> | undefined {
    if (this.held + 1 > this.maxHeld) this.maxHeld = this.held + 1;
    if (b.concurrency <= 0 || this.running < b.concurrency) {
      this.#start();
      return undefined;
    }
    return new Promise((resolve) =>
      this.#waiting.push(() => {
        this.#start();
        resolve();
      }),
    );
  }

  release(b: Behaviour): void {
    this.running--;
    while (this.#waiting.length > 0 && (b.concurrency <= 0 || this.running < b.concurrency)) this.#waiting.shift()!();
  }

  #start(): void {
    this.running++;
    if (this.running > this.maxRunning) this.maxRunning = this.running;
  }
}

/** GET /metrics: TEI's and vLLM's queue gauges. */
export function metricsText(slots: ServingSlots): string {
  return [
    '# TYPE te_queue_size gauge',
    `te_queue_size ${slots.waiting}`,
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting{model_name="fake"} ${slots.waiting}`,
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{model_name="fake"} ${slots.running}`,
    '',
  ].join('\n');
}

/** GET /info as TEI answers it (the fields the sidecar reads, and a few more). */
export function infoBody(name: string, b: Behaviour): Record<string, unknown> {
  return {
    model_id: name,
    model_type: { reranker: { id2label: { '0': 'LABEL_0' }, label2id: { LABEL_0: 0 } } },
    max_concurrent_requests: b.maxConcurrentRequests > 0 ? b.maxConcurrentRequests : 512,
    max_input_length: 512,
    max_batch_tokens: 16_384,
    max_client_batch_size: b.maxClientBatchSize,
    version: 'fake',
  };
}

/** TEI's timing headers (ms, as whole numbers). */
export function timingHeaders(queueMs: number, inferenceMs: number): Record<string, string> {
  const q = String(Math.round(queueMs));
  const i = String(Math.round(inferenceMs));
  return {
    'x-queue-time': q,
    'x-inference-time': i,
    'x-compute-time': i,
    'x-tokenization-time': '0',
    'x-total-time': String(Math.round(queueMs + inferenceMs)),
  };
}
