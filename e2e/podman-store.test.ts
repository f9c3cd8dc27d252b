/**
 * images/podman.sh after a moved checkout: podman's database keeps the absolute path of its store
 * and refuses every command; the script recreates the store instead. Runs podman on a store of
 * its own in a scratch copy of images/ (never the shared one in .cache).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './support/cluster.ts';

function podman(checkout: string, args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(join(checkout, 'images/podman.sh'), args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

test('a checkout moved after it built images: podman.sh recreates the store and podman works', () => {
  // Short paths: podman refuses a runroot longer than 50 characters.
  const scratch = mkdtempSync('/tmp/rp-');
  try {
    const before = join(scratch, 'a');
    mkdirSync(join(before, 'images'), { recursive: true });
    for (const f of ['podman.sh', 'containers.conf']) copyFileSync(join(ROOT, 'images', f), join(before, 'images', f));
    const first = podman(before, ['images']);
    assert.equal(first.status, 0, first.stderr);
    const after = join(scratch, 'b');
    renameSync(before, after);
    const moved = podman(after, ['images', '--format', '{{.ID}}']);
    assert.equal(moved.status, 0, moved.stderr);
    assert.match(moved.stderr, /created at another path \(a moved checkout\)/);
    assert.match(moved.stderr, /database configuration mismatch/);
    const again = podman(after, ['images']);
    assert.deepEqual([again.status, again.stderr], [0, ''], 'once recreated, the store is used as usual');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});
