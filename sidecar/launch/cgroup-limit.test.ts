import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryLimitBytes } from './cgroup-limit.ts';

const MIB = 2 ** 20;
const V1_UNLIMITED = '9223372036854771712';

/** A cgroup filesystem laid out as files: path -> text. */
function fs(files: Record<string, string>) {
  return (path: string) => files[path];
}

describe('memoryLimitBytes', () => {
  it('cgroup v2 inside a container: memory.max at the mount root', () => {
    assert.equal(
      memoryLimitBytes(
        fs({
          '/proc/self/cgroup': '0::/\n',
          '/sys/fs/cgroup/cgroup.controllers': 'cpu memory',
          '/sys/fs/cgroup/memory.max': `${96 * MIB}\n`,
        }),
      ),
      96 * MIB,
    );
  });

  it('cgroup v2 without a limit ("max") is no limit', () => {
    assert.equal(
      memoryLimitBytes(
        fs({
          '/proc/self/cgroup': '0::/\n',
          '/sys/fs/cgroup/cgroup.controllers': 'memory',
          '/sys/fs/cgroup/memory.max': 'max\n',
        }),
      ),
      undefined,
    );
  });

  it('cgroup v2 on the host: the smallest limit on the way up (the pod limit above an unlimited container)', () => {
    const read = fs({
      '/proc/self/cgroup': '0::/kubepods/pod1/ctr\n',
      '/sys/fs/cgroup/cgroup.controllers': 'memory',
      '/sys/fs/cgroup/kubepods/pod1/ctr/memory.max': 'max\n',
      '/sys/fs/cgroup/kubepods/pod1/memory.max': `${128 * MIB}\n`,
      '/sys/fs/cgroup/kubepods/memory.max': `${4096 * MIB}\n`,
    });
    assert.equal(memoryLimitBytes(read), 128 * MIB);
  });

  it('cgroup v1: the hierarchical limit, which includes the ancestors', () => {
    const read = fs({
      '/proc/self/cgroup': '9:pids:/x\n4:memory:/kubepods/pod1/ctr\n1:cpu,cpuacct:/x\n',
      '/sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.limit_in_bytes': V1_UNLIMITED,
      '/sys/fs/cgroup/memory/kubepods/pod1/ctr/memory.stat': `cache 0\nrss 100\nhierarchical_memory_limit ${64 * MIB}\n`,
    });
    assert.equal(memoryLimitBytes(read), 64 * MIB);
  });

  it('cgroup v1 inside a container: the hierarchy mounted at the container own cgroup', () => {
    const read = fs({
      '/proc/self/cgroup': '4:memory:/docker/abc\n',
      '/sys/fs/cgroup/memory/memory.limit_in_bytes': String(96 * MIB),
      '/sys/fs/cgroup/memory/memory.stat': `hierarchical_memory_limit ${96 * MIB}\n`,
    });
    assert.equal(memoryLimitBytes(read), 96 * MIB);
  });

  it('cgroup v1 without a limit, or no cgroup files at all, is no limit', () => {
    assert.equal(
      memoryLimitBytes(
        fs({
          '/proc/self/cgroup': '4:memory:/\n',
          '/sys/fs/cgroup/memory/memory.limit_in_bytes': V1_UNLIMITED,
          '/sys/fs/cgroup/memory/memory.stat': `hierarchical_memory_limit ${V1_UNLIMITED}\n`,
        }),
      ),
      undefined,
    );
    assert.equal(memoryLimitBytes(fs({})), undefined);
  });
});
