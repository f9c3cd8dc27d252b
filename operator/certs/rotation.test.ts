import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issueCa } from './issue.ts';
import {
  encodeBundle,
  fingerprint,
  parseBundle,
  parseReports,
  planBundle,
  reportDue,
  reportKey,
  reportPatch,
  reportValue,
  rotationTiming,
  shouldServe,
  SERVED_PREFIX,
  type ServedReport,
} from './rotation.ts';

const NOW = Date.parse('2026-11-27T10:00:00Z');
const OLD = issueCa('old', { now: NOW, days: 3650 }).caCert;
const NEW = issueCa('new', { now: NOW, days: 3650 }).caCert;
const timing = rotationTiming(60_000, 5_000); // heartbeat 60 s, stale after 180 s, overlap 125 s
const OVERLAP = 5_000 + 2 * 60_000;

function report(replica: string, ca: string, at: number): ServedReport {
  return { replica: `${SERVED_PREFIX}${replica}`, ca: fingerprint(ca), at };
}

test('bundle: PEMs in order survive encode/parse; garbage and an empty bundle yield no CA', () => {
  assert.deepEqual(parseBundle(encodeBundle([NEW, OLD])).map(fingerprint), [fingerprint(NEW), fingerprint(OLD)]);
  assert.deepEqual(parseBundle(undefined), []);
  assert.deepEqual(parseBundle(Buffer.from('not a pem').toString('base64')), []);
  assert.notEqual(fingerprint(NEW), fingerprint(OLD));
});

test('a new CA is served only after it has been in the bundle for settleMs; a renewal from the same CA at once', () => {
  const base = { storedCa: NEW, servedCa: OLD, timing };
  assert.equal(shouldServe({ ...base, trustedForMs: undefined }), false, 'not in the bundle');
  assert.equal(shouldServe({ ...base, trustedForMs: 4_999 }), false, 'not settled');
  assert.equal(shouldServe({ ...base, trustedForMs: 5_000 }), true);
  assert.equal(shouldServe({ ...base, servedCa: NEW, trustedForMs: undefined }), true, 'same CA');
  assert.equal(
    shouldServe({ ...base, servedCa: undefined, trustedForMs: undefined }),
    true,
    'nothing served yet: nothing to break',
  );
});

test('rotation start: the bundle gets the new CA and keeps the old one this replica serves from', () => {
  const plan = planBundle({
    storedCa: NEW,
    servedCa: OLD,
    bundle: [OLD],
    reports: [],
    trustedForMs: undefined,
    now: NOW,
    timing,
  });
  assert.deepEqual(plan.bundle.map(fingerprint), [fingerprint(NEW), fingerprint(OLD)]);
  assert.ok(plan.overlapping);
});

test('the old CA stays while any live replica reports it, and within the overlap after the new CA entered the bundle', () => {
  const base = { storedCa: NEW, servedCa: NEW, bundle: [NEW, OLD], now: NOW, timing };
  const keeps = (o: Partial<Parameters<typeof planBundle>[0]>) =>
    planBundle({ ...base, reports: [], trustedForMs: OVERLAP, ...o });
  assert.equal(keeps({}).bundle.length, 1, 'all switched, overlap over: dropped');
  assert.deepEqual(keeps({ trustedForMs: OVERLAP - 1 }).waitingFor, ['every replica to report']);
  assert.deepEqual(keeps({ reports: [report('operator-b', OLD, NOW - 179_999)] }).waitingFor, ['operator-b']);
  assert.equal(
    keeps({ reports: [report('operator-b', OLD, NOW - 180_000)] }).bundle.length,
    1,
    'a stale report is a replica that is gone',
  );
  assert.equal(keeps({ reports: [report('operator-b', NEW, NOW - 1)] }).bundle.length, 1);
  assert.deepEqual(
    keeps({ servedCa: OLD }).bundle.map(fingerprint),
    [fingerprint(NEW), fingerprint(OLD)],
    'this replica still serves the old CA',
  );
});

test('an edited caBundle is repaired: text that is no certificate is dropped even during an overlap', () => {
  const junk = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n';
  const plan = planBundle({
    storedCa: NEW,
    servedCa: OLD,
    bundle: [junk, OLD],
    reports: [],
    trustedForMs: undefined,
    now: NOW,
    timing,
  });
  assert.deepEqual(plan.bundle.map(fingerprint), [fingerprint(NEW), fingerprint(OLD)]);
  assert.deepEqual(
    planBundle({
      storedCa: NEW,
      servedCa: NEW,
      bundle: [junk],
      reports: [],
      trustedForMs: 0,
      now: NOW,
      timing,
    }).bundle.map(fingerprint),
    [fingerprint(NEW)],
  );
});

test('reports: written while CAs overlap, on a change or once per heartbeat; never outside a rotation', () => {
  const mine = report('a', NEW, NOW - 1_000);
  const base = { mine, servedPrint: fingerprint(NEW), overlapping: true, now: NOW, timing };
  assert.equal(reportDue({ ...base, overlapping: false, mine: undefined }), false);
  assert.equal(reportDue({ ...base, mine: undefined }), true);
  assert.equal(reportDue({ ...base, servedPrint: fingerprint(OLD) }), true);
  assert.equal(reportDue(base), false);
  assert.equal(reportDue({ ...base, now: NOW + 59_000 }), true);
});

test('a report round-trips through annotations; writing one removes stale reports of other replicas', () => {
  const key = reportKey('operator-7c9f_0a1b2c3d');
  const annotations = {
    [key]: reportValue(fingerprint(NEW), NOW),
    [reportKey('gone')]: reportValue(fingerprint(OLD), NOW - 200_000),
    other: 'x',
    [`${SERVED_PREFIX}bad`]: 'no-time',
  };
  const reports = parseReports(annotations);
  assert.deepEqual(
    reports.find((r) => r.replica === key),
    { replica: key, ca: fingerprint(NEW), at: NOW },
  );
  assert.equal(reports.length, 2);
  assert.deepEqual(reportPatch({ key, servedPrint: fingerprint(NEW), reports, now: NOW + 1_000, timing }), {
    [reportKey('gone')]: null,
    [key]: reportValue(fingerprint(NEW), NOW + 1_000),
  });
});

test('reportKey: a valid annotation name for any identity, at most 63 characters, keeping its unique end', () => {
  const key = reportKey(`${'p'.repeat(70)}_deadbeef`);
  const name = key.slice(SERVED_PREFIX.length);
  assert.ok(name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name), name);
  assert.ok(name.endsWith('_deadbeef'));
  assert.equal(reportKey('pod:1/x'), `${SERVED_PREFIX}pod-1-x`);
});
