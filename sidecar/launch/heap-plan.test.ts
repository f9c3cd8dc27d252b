import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { heapPlan, MAX_SEMI_MIB, MIN_OLD_MIB, OFF_HEAP_MIB } from './heap-plan.ts';

const MIB = 2 ** 20;

function sizes(flags: readonly string[]): { old?: number; semi?: number } {
  const value = (name: string) => {
    const flag = flags.find((f) => f.startsWith(`--${name}=`));
    return flag === undefined ? undefined : Number(flag.split('=')[1]);
  };
  return { old: value('max-old-space-size'), semi: value('max-semi-space-size') };
}

describe('heapPlan', () => {
  it('without a memory limit keeps the shipped young generation and lets V8 size the old space', () => {
    assert.deepEqual(heapPlan(undefined, []).flags, [`--max-semi-space-size=${MAX_SEMI_MIB}`]);
  });

  it('at every limit from 64 MiB to 8 GiB, the heap and Node itself fit inside the limit', () => {
    for (let limit = 64; limit <= 8192; limit += 8) {
      const { old, semi } = sizes(heapPlan(limit * MIB, []).flags);
      assert.ok(old !== undefined && semi !== undefined, `${limit} MiB`);
      assert.ok(
        old + 3 * semi + OFF_HEAP_MIB <= limit,
        `${limit} MiB: old ${old} + young ${3 * semi} + ${OFF_HEAP_MIB}`,
      );
      assert.ok(semi >= 1 && semi <= MAX_SEMI_MIB, `${limit} MiB: semi ${semi}`);
      assert.ok(old >= MIN_OLD_MIB, `${limit} MiB: old ${old}`);
    }
  });

  it('the 96 MiB of a Guaranteed pod get a smaller heap than 75% of the limit plus the young generation', () => {
    const { old, semi } = sizes(heapPlan(96 * MIB, []).flags);
    assert.ok(old! + 3 * semi! < 0.75 * 96, `old ${old}, semi ${semi}`);
  });

  it('grows the old space with the limit and ships the 8 MB semi-space from 128 MiB up', () => {
    const at = (limit: number) => sizes(heapPlan(limit * MIB, []).flags);
    assert.ok(at(256).old! > at(128).old! && at(128).old! > at(96).old!);
    assert.equal(at(128).semi, MAX_SEMI_MIB);
    assert.ok(at(64).semi! < MAX_SEMI_MIB);
  });

  it('a heap size the user set (NODE_OPTIONS, command line) wins over the plan', () => {
    assert.deepEqual(
      heapPlan(96 * MIB, ['--max-old-space-size=300']).flags.filter((f) => f.startsWith('--max-old')),
      [],
    );
    assert.deepEqual(
      heapPlan(96 * MIB, ['--max-semi-space-size=2']).flags.filter((f) => f.startsWith('--max-semi')),
      [],
    );
    assert.deepEqual(
      heapPlan(96 * MIB, ['--max-old-space-size-percentage=50']).flags.filter((f) => f.startsWith('--max-old')),
      [],
    );
    assert.match(heapPlan(96 * MIB, ['--max-old-space-size=300']).summary, /old space as set/);
  });

  it('says so when the limit is too small for the smallest heap', () => {
    assert.match(heapPlan(48 * MIB, []).summary, /expect OOM kills/);
    assert.doesNotMatch(heapPlan(64 * MIB, []).summary, /expect OOM kills/);
  });

  it('caps glibc malloc arenas under a memory limit, unless the user set them; none without a limit', () => {
    assert.deepEqual(heapPlan(64 * MIB, []).env, { MALLOC_ARENA_MAX: '2' });
    assert.match(heapPlan(64 * MIB, []).summary, /2 malloc arena\(s\)/);
    assert.deepEqual(heapPlan(64 * MIB, [], { MALLOC_ARENA_MAX: '4' }).env, {});
    assert.match(heapPlan(64 * MIB, [], { MALLOC_ARENA_MAX: '4' }).summary, /4 malloc arena\(s\)/);
    assert.deepEqual(heapPlan(undefined, []).env, {});
  });
});
