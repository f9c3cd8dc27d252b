/** The majority judgement, as a table of rankings. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { judge, kendallTau, topKAgreement } from './agreement.ts';

const same = [0, 1, 2, 3, 4, 5];
const swapped = [1, 0, 2, 3, 4, 5]; // one adjacent swap: tau = 13/15
const reversed = [5, 4, 3, 2, 1, 0];

describe('rank agreement', () => {
  test('Kendall tau: 1 identical, -1 reversed, one swap of 6 is 13/15', () => {
    assert.equal(kendallTau(same, same), 1);
    assert.equal(kendallTau(same, reversed), -1);
    assert.equal(kendallTau(same, swapped), 13 / 15);
  });

  test('top-k agreement', () => {
    assert.equal(topKAgreement(same, swapped, 3), 1);
    assert.equal(topKAgreement(same, reversed, 3), 0);
  });

  const states = (rankings: (number[] | undefined)[], threshold = 0.6) =>
    judge(rankings, threshold)
      .map((v) => v.state)
      .join(' ');
  const cases: [string, (number[] | undefined)[], string][] = [
    ['all the same: all consistent', [same, same, same], 'consistent consistent consistent'],
    [
      'one of three ranks differently: that one is inconsistent',
      [same, reversed, same],
      'consistent inconsistent consistent',
    ],
    [
      'small differences (ties broken differently) still agree',
      [same, swapped, same],
      'consistent consistent consistent',
    ],
    ['two that disagree: no majority, nobody judged', [same, reversed], 'unknown unknown'],
    ['a failed call is unknown; the others are still judged', [same, undefined, same], 'consistent unknown consistent'],
    ['half and half: no strict majority', [same, same, reversed, reversed], 'unknown unknown unknown unknown'],
    ['one backend alone cannot be compared', [same], 'unknown'],
  ];
  for (const [name, rankings, want] of cases) test(name, () => assert.equal(states(rankings), want));

  test('the verdict carries the correlation with the majority', () => {
    const [, odd] = judge([same, reversed, same], 0.6);
    assert.deepEqual([odd!.correlation, odd!.topKAgreement], [-1, 0]);
  });
});
