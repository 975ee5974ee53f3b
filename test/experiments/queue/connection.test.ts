/** Redis URLs: what is parsed from them, their masked form, and that no message ever repeats a password. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRedisUrl, redactorFor, redisTargetFrom, REDIS_URL_ENV } from '../../../src/experiments/queue/connection.js';

test('a plain URL gives host, default port 6379, db 0, no credentials, no TLS', () => {
  const t = parseRedisUrl('redis://queue.lab.example');
  assert.deepEqual(t.settings, { host: 'queue.lab.example', port: 6379, db: 0, display: 'redis://queue.lab.example' });
});

test('user, password (percent-decoded), port and db are read; rediss:// turns TLS on; the display masks the password', () => {
  // 'p@ss/w:rd' percent-encoded by hand: @ -> %40, / -> %2F, : -> %3A.
  const t = parseRedisUrl('rediss://alice:p%40ss%2Fw%3Ard@10.0.0.5:6380/3');
  assert.deepEqual(t.settings, {
    host: '10.0.0.5',
    port: 6380,
    db: 3,
    username: 'alice',
    password: 'p@ss/w:rd',
    tls: { servername: '10.0.0.5' },
    display: 'rediss://alice:***@10.0.0.5:6380/3',
  });
  assert.equal(t.display, 'rediss://alice:***@10.0.0.5:6380/3');
});

test('a password-only URL (the default user) and an IPv6 host', () => {
  assert.equal(parseRedisUrl('redis://:hunter2@[::1]:7000').settings.host, '::1');
  assert.equal(parseRedisUrl('redis://:hunter2@[::1]:7000').settings.password, 'hunter2');
  assert.equal(parseRedisUrl('redis://:hunter2@[::1]:7000').display, 'redis://:***@[::1]:7000');
});

test('bad URLs are RangeErrors naming the flag, and never repeat the password', () => {
  const cases: [string, RegExp][] = [
    ['http://u:Sekr1t@host', /--redis must start with redis:\/\/ or rediss:\/\/ \(TLS\), got http:\/\/u:\*\*\*@host/],
    ['redis://u:Sekr1t@host/?tls=1', /takes no \?query/],
    ['redis://u:Sekr1t@host/zero', /must have a database number/],
    ['Sekr1t is not a url', /got a value that is not a URL/],
    ['', /got an empty value/],
  ];
  for (const [url, message] of cases) {
    assert.throws(
      () => parseRedisUrl(url),
      (err: Error) => {
        assert.ok(err instanceof RangeError, url);
        assert.match(err.message, message);
        assert.ok(!err.message.includes('Sekr1t'), `the password leaked: ${err.message}`);
        return true;
      },
    );
  }
});

test('the redactor masks the password in plain and URL-encoded form wherever it occurs', () => {
  const redact = redactorFor('p@ss/w:rd');
  assert.equal(redact('auth p@ss/w:rd failed; url redis://a:p%40ss%2Fw%3Ard@h'), 'auth *** failed; url redis://a:***@h');
  assert.equal(redactorFor(undefined)('unchanged'), 'unchanged');
  assert.equal(parseRedisUrl('redis://:s3cr3t@h').redact('ERR s3cr3t and s3cr3t'), 'ERR *** and ***');
  // Percent-encoding the user chose (%73 is 's'), masked as typed too.
  assert.equal(parseRedisUrl('redis://:%73ecret@h').redact('argv redis://:%73ecret@h, auth secret'), 'argv redis://:***@h, auth ***');
});

test('--redis wins over FLATMINIMA_REDIS; an empty variable counts as unset; a bad variable is named', () => {
  const env = { [REDIS_URL_ENV]: 'redis://from-env:1' };
  assert.equal(redisTargetFrom('redis://from-flag:2', env)?.settings.host, 'from-flag');
  assert.equal(redisTargetFrom(undefined, env)?.settings.host, 'from-env');
  assert.equal(redisTargetFrom(undefined, { [REDIS_URL_ENV]: '' }), undefined);
  assert.equal(redisTargetFrom(undefined, {}), undefined);
  assert.throws(
    () => redisTargetFrom(undefined, { [REDIS_URL_ENV]: 'ftp://x' }),
    /^RangeError: FLATMINIMA_REDIS must start with redis:\/\//,
  );
});
