/** The labels and annotations that tie pods to pools: used by injection, RBAC, routing and status. */

/** On a pod template: the pool whose sidecar to inject (the webhook's objectSelector). */
export const POOL_LABEL = 'reranker.dev/pool';
/** `"false"` opts a labelled pod out of injection. */
export const INJECT_LABEL = 'reranker.dev/inject';
/** Set on injected pods, so the operator's pod watch and the PodMonitor find them. */
export const SIDECAR_LABEL = 'reranker.dev/sidecar';
/** The sidecar version injected, for status counts and `outdated` lists after an upgrade. */
export const VERSION_ANNOTATION = 'reranker.dev/injected-version';
/** On a pool's rendered ConfigMap: sha256 of the config it holds (what sidecars report serving). */
export const CONFIG_HASH_ANNOTATION = 'reranker.dev/config-hash';
