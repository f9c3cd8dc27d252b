import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AttemptError } from '../backends/attempt-error.ts';
import {
  mayEject,
  NOT_EJECTED,
  outcomeOfFailure,
  outlierStep,
  type CallOutcome,
  type OutlierState,
  type PoolView,
} from './outlier-detection.ts';

const settings = { consecutiveFailures: 3, baseEjectionMs: 10_000, maxEjectionMs: 25_000, maxEjectionPercent: 50 };
const roomy: PoolView = { total: 4, ejected: 0, othersEligible: true };

function run(
  outcomes: readonly (readonly [number, CallOutcome])[],
  pool: PoolView = roomy,
  start: OutlierState = NOT_EJECTED,
): OutlierState {
  let state = start;
  for (const [at, outcome] of outcomes) state = outlierStep(state, outcome, at, settings, () => pool);
  return state;
}

describe('passive outlier detection', () => {
  test('three failures in a row eject for the base time; a success in between resets the count', () => {
    assert.deepEqual(
      run([
        [0, 'failure'],
        [1, 'failure'],
        [2, 'failure'],
      ]),
      { consecutive: 0, ejections: 1, ejectedUntil: 10_002 },
    );
    assert.equal(
      run([
        [0, 'failure'],
        [1, 'failure'],
        [2, 'success'],
        [3, 'failure'],
        [4, 'failure'],
      ]).ejectedUntil,
      0,
    );
    assert.equal(
      run([
        [0, 'failure'],
        [1, 'neutral'],
        [2, 'failure'],
        [3, 'failure'],
      ]).ejectedUntil,
      10_003,
      'a 429 or a cancelled call neither counts nor resets',
    );
  });

  test('a backend ejected again soon stays out longer each time, up to the cap', () => {
    const first = run([
      [0, 'failure'],
      [1, 'failure'],
      [2, 'failure'],
    ]);
    const second = run(
      [
        [10_002, 'failure'],
        [10_003, 'failure'],
        [10_004, 'failure'],
      ],
      roomy,
      first,
    );
    assert.equal(second.ejectedUntil - 10_004, 20_000, 'second ejection: 2 x base');
    const third = run(
      [
        [30_004, 'failure'],
        [30_005, 'failure'],
        [30_006, 'failure'],
      ],
      roomy,
      second,
    );
    assert.equal(third.ejectedUntil - 30_006, 25_000, 'third: 3 x base, capped at the max');
  });

  test('the multiplier decays by one for each base time the backend served since its last ejection', () => {
    const twice = { consecutive: 0, ejections: 2, ejectedUntil: 100_000 };
    const later = run(
      [
        [125_000, 'failure'],
        [125_001, 'failure'],
        [125_002, 'failure'],
      ],
      roomy,
      twice,
    );
    assert.equal(later.ejections, 1, '25 s served: two base times forgotten, so this is a first ejection again');
    assert.equal(later.ejectedUntil - 125_002, 10_000);
  });

  test('failures of calls already in flight when it was ejected do not extend the ejection', () => {
    const ejected = run([
      [0, 'failure'],
      [1, 'failure'],
      [2, 'failure'],
    ]);
    assert.deepEqual(
      run(
        [
          [3, 'failure'],
          [4, 'failure'],
          [5, 'failure'],
        ],
        roomy,
        ejected,
      ),
      ejected,
    );
  });

  test('never the last backend that could take a call, never over the percentage', () => {
    const three = [
      [0, 'failure'],
      [1, 'failure'],
      [2, 'failure'],
    ] as const;
    assert.equal(
      run(three, { total: 2, ejected: 0, othersEligible: false }).ejectedUntil,
      0,
      'nothing else could serve',
    );
    assert.equal(run(three, { total: 2, ejected: 1, othersEligible: true }).ejectedUntil, 0, '2 of 2 would be 100%');
    assert.equal(run(three, { total: 6, ejected: 2, othersEligible: true }).ejectedUntil, 10_002, '3 of 6 is 50%');
    assert.equal(run(three, { total: 6, ejected: 3, othersEligible: true }).ejectedUntil, 0, '4 of 6 is over 50%');
    // Once ejecting is allowed again, the next failure ejects at once.
    const held = run(three, { total: 2, ejected: 1, othersEligible: true });
    assert.equal(held.consecutive, 3);
    assert.equal(run([[3, 'failure']], roomy, held).ejectedUntil, 10_003);
  });

  test('0 consecutive failures turns it off', () => {
    const off = { ...settings, consecutiveFailures: 0 };
    let state = NOT_EJECTED;
    for (let i = 0; i < 10; i++) state = outlierStep(state, 'failure', i, off, () => roomy);
    assert.equal(state.ejectedUntil, 0);
  });

  test('what counts: connection failures, timeouts and 5xx; not 4xx, parking or cancellations', () => {
    const cases: [AttemptError, CallOutcome][] = [
      [new AttemptError('network', 'connect ECONNREFUSED'), 'failure'],
      [new AttemptError('timeout', 'timed out'), 'failure'],
      [new AttemptError('status', 'HTTP 502', { status: 502 }), 'failure'],
      [new AttemptError('status', 'HTTP 503', { status: 503, parkMs: 2000 }), 'neutral'],
      [new AttemptError('status', 'HTTP 429', { status: 429, parkMs: 1000 }), 'neutral'],
      [new AttemptError('status', 'HTTP 400', { status: 400, clientCaused: true }), 'neutral'],
      [new AttemptError('cancelled', 'caller went away'), 'neutral'],
    ];
    for (const [error, expected] of cases) assert.equal(outcomeOfFailure(error), expected, error.message);
  });

  test('mayEject at the edges of the percentage', () => {
    assert.equal(
      mayEject({ total: 3, ejected: 0, othersEligible: true }, { ...settings, maxEjectionPercent: 33 }),
      false,
      '1 of 3 is 33.3% > 33%',
    );
    assert.equal(
      mayEject({ total: 3, ejected: 0, othersEligible: true }, { ...settings, maxEjectionPercent: 34 }),
      true,
    );
    assert.equal(
      mayEject({ total: 10, ejected: 0, othersEligible: true }, { ...settings, maxEjectionPercent: 0 }),
      false,
      '0% never ejects',
    );
  });
});
