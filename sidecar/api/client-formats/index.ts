import type { ClientFormat, RankedAnswer, RerankRequest } from '../canonical.ts';
import type { Body } from '../request-fields.ts';
import { parseCohereV1, parseCohereV2, renderCohereV1, renderCohereV2 } from './cohere.ts';
import { parseJina, renderJina } from './jina.ts';
import { parseNative, renderNative } from './native.ts';
import { parseTei, renderTei } from './tei.ts';
import { parseVllm, renderVllm } from './vllm.ts';

export interface ClientCodec {
  readonly parse: (body: Body) => RerankRequest;
  readonly render: (request: RerankRequest, answer: RankedAnswer, id: string) => unknown;
}

export const CLIENT_CODECS: Readonly<Record<ClientFormat, ClientCodec>> = {
  native: { parse: parseNative, render: renderNative },
  tei: { parse: parseTei, render: renderTei },
  'cohere-v1': { parse: parseCohereV1, render: renderCohereV1 },
  'cohere-v2': { parse: parseCohereV2, render: renderCohereV2 },
  jina: { parse: parseJina, render: renderJina },
  vllm: { parse: parseVllm, render: renderVllm },
};

/** `/rerank` is shared by the seed's native format and TEI: `texts` means TEI. */
export function formatOfRerankPath(body: Body): ClientFormat {
  return body.texts !== undefined && body.documents === undefined ? 'tei' : 'native';
}
