#!/usr/bin/env bash
# The whole test suite, in order from fastest to slowest; prints each stage's time and the total.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
stage() {
  local name=$1; shift
  local t0; t0=$(date +%s)
  echo "== $name"
  "$@"
  echo "== $name: $(( $(date +%s) - t0 )) s"
}
stage tools scripts/ensure-tools.sh
stage typecheck npx tsc -p tsconfig.json
stage unit node --test --test-reporter=spec 'sidecar/**/*.test.ts' 'operator/**/*.test.ts'
stage integration node --test --test-reporter=spec --test-concurrency=1 'test/integration/**/*.test.ts'
echo "== total: $(( $(date +%s) - start )) s"
