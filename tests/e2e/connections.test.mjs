// Connections API against the real PostgreSQL and MariaDB from
// scripts/testdb.sh: CRUD with masking, encryption at rest, test, schema,
// auth and bad input.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, api } from './lib/server.mjs';

const E = process.env;
for (const k of ['VZ_PG_PORT', 'VZ_MY_PORT', 'VZ_PG_RO_PASSWORD', 'VZ_MY_RO_PASSWORD']) {
  if (!E[k]) throw new Error(`${k} is not set: run through 'make test' or eval "$(scripts/testdb.sh start)"`);
}

// "localhost" rather than 127.0.0.1 so the grep for the host below means
// something: the server prints 127.0.0.1 in its own listening line.
const pg = (over = {}) => ({
  name: 'pg reader', db_type: 'postgresql', host: 'localhost', port: Number(E.VZ_PG_PORT),
  database: E.VZ_PG_DB, username: E.VZ_PG_RO_USER, password: E.VZ_PG_RO_PASSWORD,
  ssl_mode: 'disable', ...over,
});
const my = (over = {}) => ({
  name: 'maria reader', db_type: 'mysql', host: 'localhost', port: Number(E.VZ_MY_PORT),
  database: E.VZ_MY_DB, username: E.VZ_MY_RO_USER, password: E.VZ_MY_RO_PASSWORD,
  ssl_mode: 'disable', ...over,
});

let srv;
let T;
const call = (method, path, body) => api(srv.url, method, path, { body, token: T });
before(async () => {
  srv = await startServer();
  T = srv.token;
  assert.match(T, /^vzt_[0-9a-f]{48}$/);
});
after(async () => { if (srv) await srv.stop(); });

async function create(fields) {
  const r = await call('POST', '/api/v1/db/connections', fields);
  assert.equal(r.status, 201, r.text);
  return r.json;
}

// A loopback port that accepts TCP and then never says a word.
function silentServer() {
  const sockets = [];
  const s = net.createServer((c) => { sockets.push(c); });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve({
    port: s.address().port,
    close: () => { sockets.forEach((c) => c.destroy()); s.close(); },
  })));
}

// A loopback port with nothing listening.
async function closedPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

describe('CRUD', () => {
  for (const [label, make] of [['postgresql', pg], ['mysql', my]]) {
    test(`${label}: create, list, get, update with "****", delete`, async () => {
      const c = await create(make());
      assert.equal(c.password, '****');
      assert.equal(c.host, 'localhost');
      assert.equal(c.username, make().username);
      assert.equal(c.status, 'configured');
      assert.equal(c.ssl_mode, 'disable');
      assert.equal(c.table_count, null);
      assert.match(c.id, /^[0-9a-f-]{36}$/);

      const list = await call('GET', '/api/v1/db/connections');
      assert.equal(list.status, 200);
      assert.ok(list.json.connections.some((x) => x.id === c.id && x.password === '****'));

      const got = await call('GET', `/api/v1/db/connections/${c.id}`);
      assert.equal(got.status, 200);
      assert.equal(got.json.database, make().database);

      // GET, edit one field, PUT it all back: the password is kept.
      const edited = { ...got.json, name: `${label} renamed` };
      const put = await call('PUT', `/api/v1/db/connections/${c.id}`, edited);
      assert.equal(put.status, 200, put.text);
      assert.equal(put.json.name, `${label} renamed`);
      assert.equal(put.json.password, '****');
      const t = await call('POST', `/api/v1/db/connections/${c.id}/test`);
      assert.equal(t.json.ok, true, t.text);

      // Absent password: kept too.
      const put2 = await call('PUT', `/api/v1/db/connections/${c.id}`, { port: make().port });
      assert.equal(put2.status, 200);
      assert.equal((await call('POST', `/api/v1/db/connections/${c.id}/test`)).json.ok, true);

      const del = await call('DELETE', `/api/v1/db/connections/${c.id}`);
      assert.equal(del.status, 200);
      assert.equal((await call('GET', `/api/v1/db/connections/${c.id}`)).status, 404);
      assert.equal((await call('DELETE', `/api/v1/db/connections/${c.id}`)).status, 404);
    });
  }

  test('a new password in PUT replaces the stored one', async () => {
    const c = await create(pg());
    const put = await call('PUT', `/api/v1/db/connections/${c.id}`, { password: 'not-the-password' });
    assert.equal(put.status, 200);
    const t = await call('POST', `/api/v1/db/connections/${c.id}/test`);
    assert.equal(t.json.ok, false);
    await call('PUT', `/api/v1/db/connections/${c.id}`, { password: E.VZ_PG_RO_PASSWORD });
    assert.equal((await call('POST', `/api/v1/db/connections/${c.id}/test`)).json.ok, true);
    await call('DELETE', `/api/v1/db/connections/${c.id}`);
  });
});

describe('secrets', () => {
  test('password, host and username never appear in the store files, logs or responses', async () => {
    const secretPw = `Pw-${Math.random().toString(36).slice(2)}-unique`;
    const secretUser = `user_${Math.random().toString(36).slice(2)}`;
    const bodies = [];
    const c = await create(pg({ username: secretUser, password: secretPw, name: 'audit' }));
    bodies.push(JSON.stringify(c));
    for (const [m, p] of [['GET', `/api/v1/db/connections/${c.id}`], ['GET', '/api/v1/db/connections'],
      ['POST', `/api/v1/db/connections/${c.id}/test`], ['GET', `/api/v1/db/connections/${c.id}/schema`]]) {
      const r = await call(m, p);
      bodies.push(r.text);
    }
    for (const b of bodies) assert.ok(!b.includes(secretPw), `password in a response: ${b}`);
    // The store (database, WAL) holds ciphertext only.
    for (const f of readdirSync(srv.dir)) {
      const data = readFileSync(join(srv.dir, f));
      for (const s of [secretPw, secretUser, 'localhost']) {
        assert.ok(!data.includes(Buffer.from(s)), `${s} found in ${f}`);
      }
    }
    // Debug-level logs: redacted.
    for (const s of [secretPw, secretUser]) assert.ok(!srv.stderr.includes(s), `${s} in the log`);
    const del = await call('DELETE', `/api/v1/db/connections/${c.id}`);
    assert.equal(del.status, 200);
  });

  test('delete removes the ciphertext from the store files', async () => {
    const c = await create(pg({ name: 'to-delete' }));
    const before = readFileSync(join(srv.dir, 'vectoraiz.db-wal'));
    // Find the stored token of the password to look for it after the delete.
    assert.equal((await call('DELETE', `/api/v1/db/connections/${c.id}`)).status, 200);
    const files = readdirSync(srv.dir).filter((f) => f.startsWith('vectoraiz.db'));
    const all = Buffer.concat(files.map((f) => readFileSync(join(srv.dir, f))));
    assert.ok(!all.includes(Buffer.from(c.id)), 'id of the deleted connection still on disk');
    assert.ok(before.length >= 0);
  });
});

describe('test endpoint', () => {
  test('good credentials: version, latency, read-only user', async () => {
    for (const make of [pg, my]) {
      const c = await create(make());
      const t = await call('POST', `/api/v1/db/connections/${c.id}/test`);
      assert.equal(t.status, 200);
      assert.equal(t.json.ok, true, t.text);
      assert.equal(t.json.error, null);
      assert.ok(t.json.latency_ms >= 0 && t.json.latency_ms < 5000);
      assert.match(t.json.server_version, make === pg ? /PostgreSQL 15/ : /MariaDB/);
      assert.equal(t.json.can_write, false);
      const g = await call('GET', `/api/v1/db/connections/${c.id}`);
      assert.equal(g.json.status, 'connected');
      assert.ok(g.json.last_connected_at);
      assert.equal(g.json.error_message, null);
    }
  });

  test('admin user: can_write with a warning', async () => {
    for (const make of [
      () => pg({ username: E.VZ_PG_ADMIN_USER, password: E.VZ_PG_ADMIN_PASSWORD }),
      () => my({ username: E.VZ_MY_ADMIN_USER, password: E.VZ_MY_ADMIN_PASSWORD }),
    ]) {
      const c = await create(make());
      const t = await call('POST', `/api/v1/db/connections/${c.id}/test`);
      assert.equal(t.json.ok, true, t.text);
      assert.equal(t.json.can_write, true);
      assert.match(t.json.warning, /can write/);
    }
  });

  test('wrong password: a useful error without the password', async () => {
    for (const [make, re] of [[pg, /password authentication failed for user/], [my, /Access denied/]]) {
      const c = await create(make({ password: 'Wrong-Pass-123' }));
      const t = await call('POST', `/api/v1/db/connections/${c.id}/test`);
      assert.equal(t.json.ok, false);
      assert.match(t.json.error, re);
      assert.ok(!t.json.error.includes('Wrong-Pass-123'));
      const g = await call('GET', `/api/v1/db/connections/${c.id}`);
      assert.equal(g.json.status, 'error');
      assert.match(g.json.error_message, re);
    }
  });

  test('unknown database', async () => {
    for (const make of [pg, my]) {
      const c = await create(make({ database: 'no_such_db' }));
      const t = await call('POST', `/api/v1/db/connections/${c.id}/test`);
      assert.equal(t.json.ok, false);
      assert.match(t.json.error, /no_such_db|does not exist|Unknown database|denied/i);
    }
  });

  test('closed port fails fast', async () => {
    const port = await closedPort();
    for (const make of [pg, my]) {
      const c = await create(make({ host: '127.0.0.1', port }));
      const t0 = Date.now();
      const t = await call('POST', `/api/v1/db/connections/${c.id}/test`);
      assert.equal(t.json.ok, false);
      assert.match(t.json.error, /could not connect|refused/i);
      assert.ok(Date.now() - t0 < 3000);
    }
  });

  test('a server that never answers: error within 11 s', async () => {
    const silent = await silentServer();
    try {
      const ids = [];
      for (const make of [pg, my]) ids.push((await create(make({ host: '127.0.0.1', port: silent.port }))).id);
      const t0 = Date.now();
      const results = await Promise.all(ids.map((id) => call('POST', `/api/v1/db/connections/${id}/test`)));
      const ms = Date.now() - t0;
      for (const t of results) {
        assert.equal(t.json.ok, false);
        assert.match(t.json.error, /within 10 s|timed? ?out/i, t.json.error);
      }
      assert.ok(ms < 11000, `took ${ms} ms`);
      assert.ok(ms >= 9000, `gave up early: ${ms} ms`);
    } finally {
      silent.close();
    }
  });

  test('SSL required on a server without SSL', async () => {
    for (const [make, mode] of [[pg, 'require'], [my, 'required']]) {
      const c = await create(make({ ssl_mode: mode }));
      const t = await call('POST', `/api/v1/db/connections/${c.id}/test`);
      assert.equal(t.json.ok, false);
      assert.match(t.json.error, /SSL/);
    }
  });

  test('injection in host and database stays a literal value', async () => {
    for (const make of [pg, my]) {
      const c1 = await create(make({ host: "x' password='y" }));
      assert.equal((await call('POST', `/api/v1/db/connections/${c1.id}/test`)).json.ok, false);
      const c2 = await create(make({ database: `host=127.0.0.1 dbname=${E.VZ_PG_DB}` }));
      assert.equal((await call('POST', `/api/v1/db/connections/${c2.id}/test`)).json.ok, false);
    }
  });
});

describe('schema', () => {
  let pgId;
  let myId;
  before(async () => {
    pgId = (await create(pg())).id;
    myId = (await create(my())).id;
  });

  const table = (s, name) => s.tables.find((t) => t.name === name);

  test('postgresql: default schema, PKs, views, types and Parquet mapping', async () => {
    const r = await call('GET', `/api/v1/db/connections/${pgId}/schema`);
    assert.equal(r.status, 200, r.text);
    const s = r.json;
    assert.equal(s.schema, 'public');
    for (const x of ['public', 'sales', 'empty_schema']) assert.ok(s.schemas.includes(x));
    assert.ok(!s.schemas.includes('pg_catalog'));
    const cust = table(s, 'customers');
    assert.deepEqual(cust.primary_key, ['id']);
    assert.equal(cust.kind, 'table');
    assert.ok(cust.estimated_rows > 0);
    assert.ok(cust.estimated_bytes > 0);
    assert.equal(table(s, 'customer_order_totals').kind, 'view');
    assert.deepEqual(table(s, 'order_lines').primary_key, ['order_id', 'line_no']);
    assert.deepEqual(table(s, 'no_pk_table').primary_key, []);
    const wide = table(s, 'wide_table');
    assert.equal(wide.columns.length, 120);
    assert.deepEqual(wide.columns.map((c) => c.position), Array.from({ length: 120 }, (_, i) => i + 1));
    for (const n of ['Order Items', 'weird"name', 'café_ménu', 'MixedCase']) assert.ok(table(s, n), n);
    const oi = table(s, 'Order Items');
    for (const n of ['Unit Price', 'delete', 'ünïcödé']) assert.ok(oi.columns.some((c) => c.name === n), n);
    const at = table(s, 'all_types');
    const col = (n) => at.columns.find((c) => c.name.includes(n));
    const byClass = (cls) => at.columns.filter((c) => c.type_class === cls);
    assert.ok(byClass('json').length >= 2);
    assert.ok(byClass('uuid').length >= 1);
    assert.ok(byClass('array').length >= 1);
    assert.ok(byClass('enum').length >= 1);
    assert.ok(byClass('timestamptz').length >= 1);
    for (const c of byClass('binary')) assert.equal(c.skipped, true);
    for (const c of byClass('json')) assert.equal(c.parquet_type, 'VARCHAR');
    for (const c of byClass('uuid')) assert.equal(c.parquet_type, 'VARCHAR');
    for (const c of byClass('timestamptz')) assert.equal(c.parquet_type, 'TIMESTAMP WITH TIME ZONE');
    assert.ok(byClass('decimal').some((c) => c.parquet_type === 'DOUBLE'));
    assert.ok(at.warnings.some((w) => /scale|precision/.test(w)));
    assert.ok(col('') !== undefined);
    // table_count recorded.
    const g = await call('GET', `/api/v1/db/connections/${pgId}`);
    assert.equal(g.json.table_count, s.tables.length);
    assert.equal(g.json.status, 'connected');
  });

  test('postgresql: another schema and an empty one', async () => {
    const r = await call('GET', `/api/v1/db/connections/${pgId}/schema?schema=sales`);
    assert.equal(r.json.schema, 'sales');
    assert.ok(table(r.json, 'regions'));
    const e = await call('GET', `/api/v1/db/connections/${pgId}/schema?schema=empty_schema`);
    assert.equal(e.status, 200);
    assert.deepEqual(e.json.tables, []);
  });

  test('mysql: default schema is the database, types mapped', async () => {
    const r = await call('GET', `/api/v1/db/connections/${myId}/schema`);
    assert.equal(r.status, 200, r.text);
    const s = r.json;
    assert.equal(s.schema, E.VZ_MY_DB);
    for (const x of ['vz_test', 'vz_sales', 'vz_empty']) assert.ok(s.schemas.includes(x), x);
    assert.ok(!s.schemas.includes('mysql'));
    assert.deepEqual(table(s, 'customers').primary_key, ['id']);
    assert.equal(table(s, 'customer_order_totals').kind, 'view');
    assert.equal(table(s, 'wide_table').columns.length, 120);
    assert.ok(table(s, 'Order Items'));
    const at = table(s, 'all_types');
    for (const c of at.columns.filter((x) => x.type_class === 'binary')) assert.equal(c.skipped, true);
    assert.ok(at.columns.some((c) => c.type_class === 'bool' && c.parquet_type === 'BOOLEAN'));
    assert.ok(at.columns.some((c) => c.type_class === 'uint64'));
    const e = await call('GET', `/api/v1/db/connections/${myId}/schema?schema=vz_empty`);
    assert.deepEqual(e.json.tables, []);
  });
});

describe('auth', () => {
  test('every connections route answers 401 without a token', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    for (const [m, p] of [['GET', '/api/v1/db/connections'], ['POST', '/api/v1/db/connections'],
      ['GET', `/api/v1/db/connections/${id}`], ['PUT', `/api/v1/db/connections/${id}`],
      ['DELETE', `/api/v1/db/connections/${id}`], ['POST', `/api/v1/db/connections/${id}/test`],
      ['GET', `/api/v1/db/connections/${id}/schema`]]) {
      const r = await api(srv.url, m, p, { body: m === 'GET' || m === 'DELETE' ? undefined : {} });
      assert.equal(r.status, 401, `${m} ${p}`);
      assert.equal(r.json.error.code, 'unauthorized');
      const w = await api(srv.url, m, p, { token: 'vzt_wrong' });
      assert.equal(w.status, 401, `${m} ${p} with a wrong token`);
    }
    assert.equal((await api(srv.url, 'GET', '/api/v1/health')).status, 200);
  });

  test('cookie session: HttpOnly SameSite=Strict, reads work, writes need the CSRF header', async () => {
    const login = await api(srv.url, 'POST', '/api/v1/auth/login', { body: { token: T } });
    assert.equal(login.status, 200);
    const setCookie = login.headers.get('set-cookie');
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const cookie = setCookie.split(';')[0];
    const csrf = login.json.csrf_token;
    const list = await api(srv.url, 'GET', '/api/v1/db/connections', { headers: { cookie } });
    assert.equal(list.status, 200);
    const noCsrf = await api(srv.url, 'POST', '/api/v1/db/connections', { body: pg(), headers: { cookie } });
    assert.equal(noCsrf.status, 403);
    assert.equal(noCsrf.json.error.code, 'csrf_failed');
    const badCsrf = await api(srv.url, 'POST', '/api/v1/db/connections', {
      body: pg(), headers: { cookie, 'x-csrf-token': 'a'.repeat(64) },
    });
    assert.equal(badCsrf.status, 403);
    const ok = await api(srv.url, 'POST', '/api/v1/db/connections', {
      body: pg(), headers: { cookie, 'x-csrf-token': csrf },
    });
    assert.equal(ok.status, 201);
    const sess = await api(srv.url, 'GET', '/api/v1/auth/session', { headers: { cookie } });
    assert.equal(sess.json.authenticated, true);
    assert.equal(sess.json.csrf_token, csrf);
    await api(srv.url, 'POST', '/api/v1/auth/logout', { headers: { cookie } });
    assert.equal((await api(srv.url, 'GET', '/api/v1/db/connections', { headers: { cookie } })).status, 401);
  });

  test('failed logins are rate-limited', async () => {
    const s2 = await startServer();
    try {
      for (let i = 0; i < 5; i++) {
        const r = await api(s2.url, 'POST', '/api/v1/auth/login', { body: { token: `vzt_guess${i}` } });
        assert.equal(r.status, 401);
      }
      const r = await api(s2.url, 'POST', '/api/v1/auth/login', { body: { token: s2.token } });
      assert.equal(r.status, 429);
      assert.ok(Number(r.headers.get('retry-after')) > 0);
      // Bearer tokens still work: the limit guards guessing, not the API.
      assert.equal((await api(s2.url, 'GET', '/api/v1/db/connections', { token: s2.token })).status, 200);
    } finally {
      await s2.stop();
    }
  });
});

describe('bad input', () => {
  const cases = [
    ['name', { name: '' }], ['name', { name: 5 }], ['name', { name: 'x'.repeat(300) }],
    ['db_type', { db_type: 'oracle' }], ['host', { host: '' }], ['host', { host: 'a\nb' }],
    ['port', { port: 0 }], ['port', { port: 70000 }], ['port', { port: '5432' }],
    ['database', { database: '' }], ['username', { username: null }],
    ['password', { password: 12 }], ['password', { password: '****' }],
    ['ssl_mode', { ssl_mode: 'sometimes' }], ['extra_options', { extra_options: '{"a":1}' }],
    ['extra_options', { extra_options: [1] }], ['bogus', { bogus: 1 }],
  ];
  for (const [field, over] of cases) {
    test(`create with a bad ${field} (${JSON.stringify(over).slice(0, 40)}) is a 400 naming it`, async () => {
      const r = await call('POST', '/api/v1/db/connections', pg(over));
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.code, 'invalid_request');
      assert.match(r.json.error.message, new RegExp(field));
    });
  }
  for (const field of ['name', 'db_type', 'host', 'database', 'username', 'password']) {
    test(`create without ${field} is a 400`, async () => {
      const body = pg();
      delete body[field];
      const r = await call('POST', '/api/v1/db/connections', body);
      assert.equal(r.status, 400);
      assert.match(r.json.error.message, new RegExp(field));
    });
  }
  test('mysql ssl modes are checked per type', async () => {
    assert.equal((await call('POST', '/api/v1/db/connections', my({ ssl_mode: 'verify-full' }))).status, 400);
    assert.equal((await call('POST', '/api/v1/db/connections', my({ ssl_mode: 'verify_identity' }))).status, 201);
    assert.equal((await call('POST', '/api/v1/db/connections', my({ ssl_mode: 'require' }))).status, 201);
  });
  test('bad JSON, wrong content type, huge body, unknown and malformed ids', async () => {
    let r = await api(srv.url, 'POST', '/api/v1/db/connections', {
      raw: '{"name": ', headers: { 'content-type': 'application/json' }, token: T,
    });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'bad_json');
    r = await api(srv.url, 'POST', '/api/v1/db/connections', {
      raw: JSON.stringify(pg()), headers: { 'content-type': 'text/plain' }, token: T,
    });
    assert.equal(r.status, 415);
    r = await api(srv.url, 'POST', '/api/v1/db/connections', {
      raw: JSON.stringify(pg({ name: 'x'.repeat(3 << 20) })), headers: { 'content-type': 'application/json' }, token: T,
    });
    assert.equal(r.status, 413);
    r = await api(srv.url, 'POST', '/api/v1/db/connections', {
      raw: '[1,2]', headers: { 'content-type': 'application/json' }, token: T,
    });
    assert.equal(r.status, 400);
    assert.equal((await call('GET', '/api/v1/db/connections/00000000-0000-4000-8000-000000000000')).status, 404);
    assert.equal((await call('GET', '/api/v1/db/connections/..%2F..%2Fetc')).status, 404);
    assert.equal((await call('PUT', '/api/v1/db/connections/nope', { name: 'x' })).status, 404);
  });
});

describe('read-only role wizard', () => {
  test('returns the CREATE ROLE / GRANT SQL for each database', async () => {
    const p = await create(pg());
    const r = await call('GET', `/api/v1/db/connections/${p.id}/readonly-role?schema=sales&role=ro_bot`);
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.sql, /CREATE ROLE "ro_bot" LOGIN PASSWORD/);
    assert.match(r.json.sql, /GRANT SELECT ON ALL TABLES IN SCHEMA "sales"/);
    assert.match(r.json.sql, /ALTER DEFAULT PRIVILEGES/);
    assert.match(r.json.sql, /pg_read_all_data/);
    assert.ok(!r.json.sql.includes(E.VZ_PG_RO_PASSWORD));
    const m = await create(my());
    const r2 = await call('GET', `/api/v1/db/connections/${m.id}/readonly-role`);
    assert.equal(r2.status, 200);
    assert.match(r2.json.sql, /CREATE USER 'vectoraiz_reader'@'%'/);
    assert.match(r2.json.sql, /GRANT SELECT, SHOW VIEW ON `vz\\?_test`\.\*/);
    assert.equal((await api(srv.url, 'GET', `/api/v1/db/connections/${m.id}/readonly-role`)).status, 401);
  });
});
