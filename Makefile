# Every target runs on the repo's own Node 24 (scripts/bootstrap.sh fetches it from the npm registry).
SHELL := /bin/bash
NODE_VERSION := $(shell cat .node-version)
export PATH := $(CURDIR)/.tools/node-v$(NODE_VERSION)/bin:$(PATH)

.PHONY: bootstrap demo test typecheck lint format unit integration e2e scale scale-sync relist-storm scale-fleet sidecar crds kube images cluster node cluster-down bench bench-ceiling bench-features chaos footprint

bootstrap:
	@scripts/bootstrap.sh >/dev/null

## demo: three local fake rerankers + a local fallback + the sidecar on :8000
demo: bootstrap
	node demo/run-demo.ts

## test: typecheck, unit, integration, e2e (everything CI runs)
test: bootstrap
	scripts/test.sh

typecheck: bootstrap
	npx tsc -p tsconfig.json

## lint: Biome's formatting and lint rules (biome.json; nothing is rewritten) and exports that no module imports
lint: bootstrap
	npx biome ci --error-on-warnings
	node scripts/unused-exports.ts

## format: rewrite the tree as Biome formats it, with Biome's safe lint fixes (then `make lint` for the rest)
format: bootstrap
	npx biome check --write

unit: bootstrap
	node --test --test-reporter=spec 'common/**/*.test.ts' 'kube/**/*.test.ts' 'sidecar/**/*.test.ts' 'operator/**/*.test.ts' 'test/fake-reranker/**/*.test.ts'

integration: bootstrap
	node --test --test-reporter=spec --test-concurrency=1 'test/integration/**/*.test.ts'

## e2e: the end-to-end suite against a local kube-apiserver + etcd (builds them once)
e2e: bootstrap
	e2e/kube/build.sh >/dev/null
	e2e/kube/tools.sh >/dev/null
	node --test --test-reporter=spec --test-concurrency=1 'e2e/**/*.test.ts'

## scale: the operator at 200 pools under endpoint churn against a local kube-apiserver + etcd
## (about 3 minutes; writes docs/results/scale.json). SCALE_ARGS="--pools 50 --seconds 20" for less.
scale: bootstrap
	e2e/kube/build.sh >/dev/null
	e2e/kube/tools.sh >/dev/null
	node e2e/scale/scale.ts $(SCALE_ARGS)

## relist-storm: 1,000 watchers listing at once and across an apiserver restart: watch cache vs etcd
## (about 3 minutes; writes docs/results/relist-storm.json). STORM_ARGS="--watchers 100 --objects 100" for less.
relist-storm: bootstrap
	e2e/kube/build.sh >/dev/null
	e2e/kube/tools.sh >/dev/null
	node e2e/scale/relist-storm.ts $(STORM_ARGS)

## scale-fleet: what a fleet costs (about 14 minutes): the operator starting with 1,000 pools (chart heap
## flags; endpoints rendered, then the pools' default sidecar mode), 1,000 watchers' bytes per endpoint change (ConfigMap vs EndpointSlices at 500/5,000/10,000
## endpoints), probe and canary calls per backend with 1/10/100 sidecars. JSON in docs/results/scale-*.json.
scale-fleet: bootstrap
	e2e/kube/build.sh >/dev/null
	e2e/kube/tools.sh >/dev/null
	node e2e/scale/scale.ts --pools 1000 --seconds 30 --node-options="--max-old-space-size=128 --max-semi-space-size=8" --out docs/results/scale-1000-pools.json
	node e2e/scale/scale.ts --pools 1000 --seconds 10 --discovery-mode sidecar --node-options="--max-old-space-size=128 --max-semi-space-size=8" --out docs/results/scale-1000-pools-sidecar.json
	node e2e/scale/fleet-watch.ts $(FLEET_WATCH_ARGS)
	node e2e/scale/probe-counts.ts

## scale-sync: the operator asking 200 sidecars' /lb/config (stand-ins on 198.18.91.x, needs root;
## about 4 minutes; writes docs/results/sidecar-sync.json). SYNC_ARGS="--steady-seconds 30 --lag-seconds 30" for less.
scale-sync: bootstrap
	e2e/kube/build.sh >/dev/null
	e2e/kube/tools.sh >/dev/null
	RRLB_E2E_NET=$${RRLB_E2E_NET:-91} node e2e/scale/sidecar-sync.ts $(SYNC_ARGS)

## sidecar: run the sidecar with the environment you give it (through its launcher, which sizes the
## heap from the memory limit of the cgroup it runs in, as the image does)
sidecar: bootstrap
	node sidecar/launch.ts

## crds: regenerate crds/ and docs/settings.md from the settings' one declaration (common/settings/) and
## operator/crd/pool-schema.ts (a unit test fails when they are stale)
crds: bootstrap
	node scripts/generate-crd.ts

## kube: build (once) and print the cached kube-apiserver/controller-manager/etcd and kubectl/helm
kube: bootstrap
	e2e/kube/build.sh
	e2e/kube/tools.sh

## images: build the sidecar, operator and fake-backend images without Docker (podman, FROM scratch
## on a staged root filesystem) and export OCI archives to .cache/images/oci/; prints their sizes
IMAGE_REPO ?= ghcr.io/reranker-lb
IMAGE_TAG ?= $(shell node -p "require('./package.json').version" 2>/dev/null || echo dev)
export IMAGE_REPO IMAGE_TAG
images: bootstrap
	scripts/ensure-tools.sh
	images/build.sh

## cluster: a local single-node Kubernetes (kubelet, containerd, kube-proxy, CoreDNS on 198.18.201.1,
## pods 198.19.0.0/24) with the local images, the chart and a demo RerankerPool; prints KUBECONFIG
cluster: bootstrap
	scripts/ensure-tools.sh
	e2e/kube/build.sh >/dev/null
	e2e/kube/build-node.sh >/dev/null
	e2e/kube/tools.sh >/dev/null
	images/build.sh sidecar operator fake-backend pause
	e2e/node/up.sh $(foreach i,sidecar operator fake-backend,.cache/images/oci/$(i)-$(IMAGE_TAG).tar)
	node e2e/node/demo.ts || { echo "make cluster: the demo failed; the node is still up: make cluster-down" >&2; exit 1; }

## node: the same single-node Kubernetes with the local images, and nothing installed on it (the
## README's Kubernetes quick start runs on it as written); make cluster-down undoes it
node: bootstrap
	scripts/ensure-tools.sh
	e2e/kube/build.sh >/dev/null
	e2e/kube/build-node.sh >/dev/null
	images/build.sh sidecar operator fake-backend pause
	e2e/node/up.sh $(foreach i,sidecar operator fake-backend,.cache/images/oci/$(i)-$(IMAGE_TAG).tar)
	@echo "export PATH=$$(e2e/kube/tools.sh | tail -n 1):\$$PATH   # kubectl, helm"

## cluster-down: undo everything make cluster changed on this machine (also after a failed start)
cluster-down:
	e2e/node/down.sh

## bench: the pinned method (balancer alone on core 0, vegeta) then the shared-core scenarios (slow, dead backend); about 10 minutes; installs HAProxy, nginx, LiteLLM, vegeta on first use
## bench-ceiling: the older shared-core ceiling and overhead runs against LiteLLM, nginx, HAProxy (about 15 minutes)
bench: bootstrap
	bench/setup.sh >/dev/null
	node bench/pinned.ts
	node bench/run.ts --only slow,dead

bench-ceiling: bootstrap
	bench/setup.sh >/dev/null
	node bench/run.ts --only ceiling,overhead

## bench-features: splitting, hedging, canary and fleet flow-control scenarios on loopback (about 6 minutes;
## node bench/features.ts --quick --only fleet for one short scenario)
bench-features: bootstrap
	node bench/features.ts

## footprint: the sidecar as the image runs it (bundle + launcher), the sources as shipped before and
## the node floor, each under a memory cgroup at 64, 96 and 128 MiB: start to /ready, idle and peak
## working set, OOM kills, success, CPU per call (about 12 minutes; needs root; writes the footprint
## section of docs/performance.md). FOOTPRINT_ARGS="--seconds 20 --arms shipped,floor" for less.
footprint: bootstrap
	bench/setup-vegeta.sh >/dev/null
	node bench/footprint.ts $(FOOTPRINT_ARGS)

## chaos: 60 s of kills, 503 bursts, stalls and reloads under steady load
chaos: bootstrap
	node bench/chaos.ts --seconds 60
