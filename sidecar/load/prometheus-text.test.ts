import assert from 'node:assert/strict';
import { test } from 'node:test';
import { metricValue } from './prometheus-text.ts';

const TEI = `# HELP te_queue_size Queue size
# TYPE te_queue_size gauge
te_queue_size 7
te_queue_size_total_bogus 100
te_batch_next_size_bucket{le="1"} 3
`;

const VLLM = `vllm:num_requests_waiting{engine="0",model_name="a"} 2.0
vllm:num_requests_waiting{engine="1",model_name="b"} 3.0
vllm:num_requests_running{engine="0",model_name="a"} 9.0
`;

test('reads a metric: a plain sample, not a longer name that starts the same', () => {
  assert.equal(metricValue(TEI, 'te_queue_size'), 7);
});

test('sums the samples of a labelled metric', () => {
  assert.equal(metricValue(VLLM, 'vllm:num_requests_waiting'), 5);
  assert.equal(metricValue(VLLM, 'vllm:num_requests_running'), 9);
});

test('absent or garbage: no value', () => {
  assert.equal(metricValue(TEI, 'nope'), undefined);
  assert.equal(
    metricValue('te_queue_size NaN\nte_queue_size -4\nte_queue_size{unclosed 3', 'te_queue_size'),
    undefined,
  );
});
