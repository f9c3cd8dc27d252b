/** Three fake rerankers as separate processes, controllable at run time (slow x10, fail, kill). */
import { join } from 'node:path';
import type { Behaviour } from '../../test/fake-reranker/fake-reranker.ts';
import { start, waitForHttp, type Managed } from './processes.ts';

export class Backends {
  readonly list: { host: string; port: number; name: string; proc: Managed }[] = [];
  readonly #root: string;
  readonly #nodeBin: string;
  readonly #latencyMs: number;

  constructor(root: string, nodeBin: string, latencyMs: number) {
    this.#root = root;
    this.#nodeBin = nodeBin;
    this.#latencyMs = latencyMs;
  }

  #spawn(port: number, name: string): Managed {
    return start(name, this.#nodeBin, [
      join(this.#root, 'test/fake-reranker/fake-reranker-cli.ts'),
      '--port',
      String(port),
      '--format',
      'cohere',
      '--scoring',
      'cheap',
      '--name',
      name,
      '--latency-ms',
      String(this.#latencyMs),
      '--latency-sigma',
      this.#latencyMs > 0 ? '0.25' : '0',
    ]);
  }

  async start(count: number, firstPort = 9301): Promise<void> {
    for (let i = 0; i < count; i++) {
      const port = firstPort + i;
      const name = `backend-${i + 1}`;
      this.list.push({ host: '127.0.0.1', port, name, proc: this.#spawn(port, name) });
    }
    await Promise.all(this.list.map((b) => waitForHttp(`http://${b.host}:${b.port}/health`)));
  }

  async set(index: number, change: Partial<Behaviour>): Promise<void> {
    const b = this.list[index]!;
    await (
      await fetch(`http://${b.host}:${b.port}/__control`, { method: 'POST', body: JSON.stringify(change) })
    ).text();
  }

  async kill(index: number): Promise<void> {
    await this.list[index]!.proc.stop();
  }

  async restart(index: number): Promise<void> {
    const b = this.list[index]!;
    b.proc = this.#spawn(b.port, b.name);
    await waitForHttp(`http://${b.host}:${b.port}/health`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.list.map((b) => b.proc.stop()));
  }
}
