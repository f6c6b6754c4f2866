import { userInfo } from 'node:os';
import test from 'ava';
import { ActorVerifier } from '../../daemon/audit/actor.ts';
import { Redactor } from '../../daemon/audit/redact.ts';
import { systemClock } from '../../daemon/core/clock.ts';
import { TEST_KEY } from '../helpers/audit.ts';

const secrets = new Map([['API_TOKEN', 'tok-9f8e7d6c5b']]);
const keyed = new Redactor({ key: TEST_KEY, secrets, fields: ['pin'] });

test('values under secret-looking names become keyed digests; equal values give equal digests', (t) => {
  const a = keyed.redact({
    password: 'pw-1',
    apiKey: 'k',
    api_key: 'k',
    token: 'k',
    key: 'k',
    pin: '1234',
  });
  for (const value of Object.values(a)) t.regex(String(value), /^\[redacted hmac:[0-9a-f]{16}\]$/);
  t.is(a.apiKey, a.api_key, 'same value, same digest');
  t.not(a.password, a.token);
  t.deepEqual(new Redactor({ key: undefined, secrets, fields: [] }).redact({ secret: 'x' }), {
    secret: '[redacted]',
  });
});

test('ordinary names stay, even ones that merely end in "key" letters', (t) => {
  t.deepEqual(keyed.redact({ monkey: 'banana', type: 'echo', keys: 3, author: 'ann' }), {
    monkey: 'banana',
    type: 'echo',
    keys: 3,
    author: 'ann',
  });
});

test('a payload is kept only as its size and a digest, at any depth', (t) => {
  const out = keyed.redact({ type: 'echo', nested: { payload: { card: '4111 1111 1111 1111' } } });
  const payload = (out.nested as { payload: { bytes: number; digest: string } }).payload;
  t.is(payload.bytes, Buffer.byteLength('{"card":"4111 1111 1111 1111"}'));
  t.regex(payload.digest, /^\[redacted hmac:/);
  t.false(JSON.stringify(out).includes('4111'));
});

test('secret environment values are cut out of any string, and long strings are shortened', (t) => {
  const out = keyed.redact({
    reason: 'called with tok-9f8e7d6c5b twice',
    list: ['tok-9f8e7d6c5b'],
    long: 'x'.repeat(5000),
  });
  t.is(out.reason, 'called with [redacted:API_TOKEN] twice');
  t.deepEqual(out.list, ['[redacted:API_TOKEN]']);
  t.true(String(out.long).length < 1100);
  t.is(keyed.text('tok-9f8e7d6c5b'), '[redacted:API_TOKEN]');
});

test('an actor is verified against /proc: this process is who it says; a wrong uid or a dead pid is not', (t) => {
  const verifier = new ActorVerifier(systemClock);
  const me = { user: userInfo().username, uid: process.getuid?.() ?? 0, pid: process.pid };
  t.deepEqual(verifier.check(me), { verified: true });
  t.like(verifier.check({ ...me, uid: me.uid + 4242 }), { verified: false });
  t.regex(verifier.check({ ...me, uid: me.uid + 4242 }).note ?? '', /runs as uid/);
  t.like(verifier.check({ ...me, pid: 2 ** 22 + 7 }), {
    verified: false,
    note: `no process ${2 ** 22 + 7}`,
  });
  t.like(verifier.check({ ...me, user: 'someone-else' }), { verified: false });
  t.like(verifier.check({ user: 'x' }), { verified: false });
});
