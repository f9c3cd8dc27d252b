/**
 * The launcher (sidecar/launch.ts) as the image starts it: it becomes the sidecar in the same
 * process (signals reach it), a heap size the user set wins over its plan, and when it cannot
 * re-exec Node the sidecar still starts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, test } from 'node:test';
import { listening, sidecarProcess } from '../support/process.ts';

describe('launcher', () => {
  test('becomes the sidecar in the same process, logs its heap plan, and keeps the heap size of NODE_OPTIONS', async () => {
    const proc = await sidecarProcess(
      { NODE_OPTIONS: '--max-old-space-size=200', RERANKER_SHUTDOWN_DELAY_SECONDS: '0' },
      { program: 'sidecar/launch.ts' },
    );
    await listening(proc);
    const started = proc.lines().find((l) => l.msg === 'sidecar listening')!;
    assert.equal(typeof started.heap_plan, 'string');
    // 200 MiB of old space plus the young generation: V8 took the user's size, not its own default.
    assert.ok(
      started.heap_limit_mib >= 200 && started.heap_limit_mib < 260,
      `heap limit ${started.heap_limit_mib} MiB`,
    );
    assert.equal((await fetch(`${proc.url}/health`)).status, 200);
    // The PID the parent knows is the sidecar's own: SIGTERM drains and exits 0.
    proc.child.kill('SIGTERM');
    const [code] = await once(proc.child, 'exit');
    assert.equal(code, 0);
    assert.ok(proc.lines().some((l) => l.msg === 'stopped'));
  });

  test('without process.execve the sidecar starts anyway and says the plan was not applied', async () => {
    const proc = await sidecarProcess(
      {},
      { program: 'sidecar/launch.ts', nodeArgs: ['--import', 'data:text/javascript,process.execve=undefined'] },
    );
    await listening(proc);
    const started = proc.lines().find((l) => l.msg === 'sidecar listening')!;
    assert.match(started.heap_plan, /^not applied: /);
    assert.match(proc.stderr(), /launcher: cannot re-exec Node/);
    assert.equal((await fetch(`${proc.url}/health`)).status, 200);
    proc.child.kill('SIGKILL');
  });
});
