import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { redact, safeUrl } from './redact.ts';

describe('redact', () => {
  const cases: [string, string, readonly string[], readonly string[]][] = [
    // [name, text, known secrets, strings that must not survive]
    ['our own key echoed back', '{"error":"invalid key sk-canary-7f3a9"}', ['sk-canary-7f3a9'], ['sk-canary-7f3a9']],
    ['a Bearer header, any case', 'auth=bEaReR abc.def-123 rejected', [], ['abc.def-123']],
    ['URL userinfo', 'upstream http://svc:hunter2@10.0.0.1/x failed', [], ['hunter2', 'svc:']],
    ['key=value and JSON "api_key"', 'api_key=zzz111 "password": "pw-9" token: t0k3n', [], ['zzz111', 'pw-9', 't0k3n']],
    ['a bare key-shaped token', 'key prefix was AKIAIOSFODNN7EXAMPLE1234 for user', [], ['AKIAIOSFODNN7EXAMPLE1234']],
    ['a partial echo of a long key', 'bad key: sk-proj-4f9a8b7c6d5e4f3a...', [], ['sk-proj-4f9a8b7c6d5e4f3a']],
  ];
  for (const [name, text, known, gone] of cases) {
    test(name, () => {
      const out = redact(text, known);
      for (const secret of gone) assert.ok(!out.includes(secret), `${secret} survived: ${out}`);
      assert.ok(out.includes('[redacted]'), out);
    });
  }

  test('ordinary words and numbers survive; whitespace is collapsed and the text cut', () => {
    assert.equal(redact('model  not\nfound: 404 documents exceed 32'), 'model not found: 404 documents exceed 32');
    assert.ok(redact('x'.repeat(5000)).length <= 301);
  });

  test('safeUrl keeps scheme, host and path only', () => {
    assert.equal(safeUrl('https://u:p@api.example.com:8443/v1?key=k#f'), 'https://api.example.com:8443/v1');
    assert.equal(safeUrl('http://h:1/'), 'http://h:1');
  });
});
