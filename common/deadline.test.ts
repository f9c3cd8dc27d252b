/** Deadlines fire on the injected timers, follow their parent, and let go when cleared. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlineExceededError, deadline } from './deadline.ts';
import { ManualTime } from './manual-time.ts';

test('aborts when the deadline passes, not before', () => {
  const time = new ManualTime();
  const d = deadline(time, 10_000, 'reconcile ns/a');
  time.advance(9_999);
  assert.equal(d.signal.aborted, false);
  time.advance(1);
  assert.ok(d.signal.reason instanceof DeadlineExceededError);
  assert.match(String(d.signal.reason.message), /reconcile ns\/a: deadline of 10000 ms exceeded/);
});

test('aborts with its parent (a leadership term), at once', () => {
  const time = new ManualTime();
  const term = new AbortController();
  const d = deadline(time, 10_000, 'reconcile', term.signal);
  term.abort(new Error('lost the lease'));
  assert.equal(d.signal.reason.message, 'lost the lease');
  assert.equal(
    deadline(time, 5, 'late', term.signal).signal.aborted,
    true,
    'a child of an ended lifetime starts ended',
  );
});

test('cleared: no timer left, and the parent no longer reaches it', () => {
  const time = new ManualTime();
  const term = new AbortController();
  const d = deadline(time, 10_000, 'reconcile', term.signal);
  d.clear();
  assert.equal(time.pending, 0);
  term.abort();
  time.advance(20_000);
  assert.equal(d.signal.aborted, false);
});
