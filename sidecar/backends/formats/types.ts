import type { RerankRequest, ScoredIndex, UsageSource } from '../../api/canonical.ts';

/** A backend's answer read into canonical form, not yet checked or sorted. */
export interface ParsedAnswer {
  readonly results: ScoredIndex[];
  readonly model: string | undefined;
  readonly tokens: number | undefined;
  readonly usageSource: UsageSource;
}

/** How to talk to one kind of reranker server. */
export interface BackendCodec {
  readonly rerankPath: string;
  /** Undefined where the server has no health endpoint (hosted Cohere and Jina). */
  readonly healthPath: string | undefined;
  buildBody(request: RerankRequest, model: string | undefined): unknown;
  /** Throws a string describing what is malformed. */
  readAnswer(body: unknown, tokenHeader: string | undefined): ParsedAnswer;
}
