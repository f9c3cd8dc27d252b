/**
 * The webhook's HTTPS edge: POST /mutate-pods with an AdmissionReview (admission.k8s.io/v1),
 * body capped at 4 MiB (a pod is at most ~1.5 MiB in etcd). The certificate can be swapped while
 * serving (rotation); connections already open keep theirs.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { admit, type AdmissionDeps, type AdmissionRequest } from './admission.ts';

export const WEBHOOK_PATH = '/mutate-pods';
const MAX_BODY_BYTES = 4 * 1024 * 1024;

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class WebhookServer {
  readonly #deps: AdmissionDeps & { readonly logger: Logger };
  readonly #requests: Counter<'outcome'>;
  #server: Server | undefined;

  constructor(deps: AdmissionDeps, registry: Registry) {
    this.#deps = deps;
    this.#requests = new Counter({
      name: 'reranker_operator_webhook_requests_total',
      help: 'Admission requests answered by the injection webhook, by outcome (injected, skipped, error, invalid)',
      labelNames: ['outcome'],
      registers: [registry],
    });
    for (const outcome of ['injected', 'skipped', 'error', 'invalid']) this.#requests.labels(outcome).inc(0);
  }

  get listening(): boolean {
    return this.#server?.listening === true;
  }

  /** The port served (useful with port 0); undefined before the first certificate. */
  get port(): number | undefined {
    const address = this.#server?.address();
    return typeof address === 'object' && address !== null ? address.port : undefined;
  }

  /** Starts serving with the first certificate; later calls swap it in. */
  useCertificate(cert: { cert: string; key: string }, port: number, host: string): void {
    if (this.#server !== undefined) {
      this.#server.setSecureContext({ cert: cert.cert, key: cert.key });
      return;
    }
    this.#server = createServer(
      { cert: cert.cert, key: cert.key, minVersion: 'TLSv1.2' },
      (req, res) => void this.#handle(req, res),
    );
    this.#server.listen(port, host, () =>
      this.#deps.logger.info({ port, host, path: WEBHOOK_PATH }, 'injection webhook serving'),
    );
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || req.url?.split('?')[0] !== WEBHOOK_PATH) return reply(404, { message: 'not found' });
    let review: { apiVersion?: string; request?: AdmissionRequest };
    try {
      review = JSON.parse(await readBody(req)) as typeof review;
    } catch (error) {
      this.#requests.labels('invalid').inc();
      return reply(error instanceof BodyTooLarge ? 413 : 400, {
        message: error instanceof BodyTooLarge ? 'body too large' : 'not JSON',
      });
    }
    if (review.request?.uid === undefined) {
      this.#requests.labels('invalid').inc();
      return reply(400, { message: 'not an AdmissionReview request' });
    }
    const { response, outcome } = await admit(review.request, this.#deps);
    this.#requests.labels(outcome).inc();
    reply(200, { apiVersion: review.apiVersion ?? 'admission.k8s.io/v1', kind: 'AdmissionReview', response });
  }

  close(): void {
    this.#server?.close();
  }
}
