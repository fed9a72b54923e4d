// Secrets audit: a connection with a password, username and host seen
// nowhere else goes through test, schema and an extraction, and a second one
// fails its test; then the data directory (SQLite file, WAL, Parquet, job
// records, anything), the server's debug-level stderr and stdout, and every
// API response body are searched. The password must appear nowhere; the
// username and host nowhere on disk or in the logs (responses show them to
// the owner, by design).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, api } from './lib/server.mjs';

const E = process.env;
for (const k of ['VZ_PG_PORT', 'VZ_PG_DB', 'VZ_PG_SUPERUSER', 'VZ_PG_SOCKET_DIR']) {
  if (!E[k]) throw new Error(`${k} is not set: run through 'make test' or eval "$(scripts/testdb.sh start)"`);
}

const rnd = () => randomBytes(8).toString('hex');
// A PG role made for this test only, so its name and password are unique.
const user = `vzaudit_${rnd()}`;
const password = `AuditPw-${rnd()}-x`;
// A host that cannot resolve (.invalid is reserved), with its own user and
// password, for the failing connection.
const badHost = `vz-audit-${rnd()}.invalid`;
const badUser = `vzauditbad_${rnd()}`;
const badPassword = `AuditBadPw-${rnd()}-x`;

// The superuser over the unix socket (test setup only; values are ours).
function pgSuper(sql) {
  return execFileSync('psql', ['-h', E.VZ_PG_SOCKET_DIR, '-p', E.VZ_PG_PORT, '-U', E.VZ_PG_SUPERUSER,
    '-d', E.VZ_PG_DB, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql]).toString();
}

let srv;
const bodies = [];
async function call(method, path, body) {
  const r = await api(srv.url, method, path, { body, token: srv.token });
  bodies.push(`${method} ${path} -> ${r.status}: ${r.text}`);
  return r;
}

async function waitJob(jobId, ms = 60000) {
  const t0 = Date.now();
  for (;;) {
    const r = await call('GET', `/api/v1/jobs/${jobId}`);
    assert.equal(r.status, 200, r.text);
    if (!['queued', 'running'].includes(r.json.state)) return r.json;
    if (Date.now() - t0 > ms) throw new Error(`job ${jobId} still ${r.json.state}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

// Every regular file under dir, recursively: [relative path, bytes].
function allFiles(dir, rel = '') {
  const out = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = join(rel, e.name);
    if (e.isDirectory()) out.push(...allFiles(dir, p));
    else if (e.isFile()) out.push([p, readFileSync(join(dir, p))]);
  }
  return out;
}

// Hits of s in buf as UTF-8, UTF-16LE (DuckDB/Parquet strings are UTF-8,
// but be thorough) and case-insensitively for the host (DNS is).
function hits(buf, s) {
  const lower = Buffer.from(buf.toString('latin1').toLowerCase(), 'latin1');
  return buf.includes(Buffer.from(s)) || buf.includes(Buffer.from(s, 'utf16le'))
    || lower.includes(Buffer.from(s.toLowerCase()));
}

before(async () => {
  pgSuper(`CREATE ROLE ${user} LOGIN PASSWORD '${password}';
    GRANT CONNECT ON DATABASE ${E.VZ_PG_DB} TO ${user};
    GRANT USAGE ON SCHEMA public TO ${user};
    GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${user};`);
  srv = await startServer();
});

after(async () => {
  if (srv) await srv.stop();
  pgSuper(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${user}'`);
  pgSuper(`DROP OWNED BY ${user}; DROP ROLE ${user};`);
});

test('no password anywhere; no username or host on disk or in the logs', async () => {
  const good = await call('POST', '/api/v1/db/connections', {
    name: 'audit', db_type: 'postgresql', host: '127.0.0.1', port: Number(E.VZ_PG_PORT),
    database: E.VZ_PG_DB, username: user, password, ssl_mode: 'disable',
  });
  assert.equal(good.status, 201, good.text);
  const id = good.json.id;
  const bad = await call('POST', '/api/v1/db/connections', {
    name: 'audit-bad', db_type: 'postgresql', host: badHost, port: Number(E.VZ_PG_PORT),
    database: E.VZ_PG_DB, username: badUser, password: badPassword, ssl_mode: 'disable',
  });
  assert.equal(bad.status, 201, bad.text);

  const t = await call('POST', `/api/v1/db/connections/${id}/test`);
  assert.equal(t.json.ok, true, t.text);
  assert.equal(t.json.can_write, false);
  const s = await call('GET', `/api/v1/db/connections/${id}/schema`);
  assert.equal(s.status, 200, s.text);
  const x = await call('POST', `/api/v1/db/connections/${id}/extract`, {
    tables: [{ table: 'customers', schema: 'public' }], pipeline: false,
  });
  assert.equal(x.status, 202, x.text);
  const job = await waitJob(x.json.datasets[0].job_id);
  assert.equal(job.state, 'succeeded', job.error);
  const ds = await call('GET', `/api/v1/datasets/${x.json.datasets[0].dataset_id}`);
  assert.equal(ds.json.row_count, 50);

  const tb = await call('POST', `/api/v1/db/connections/${bad.json.id}/test`);
  assert.equal(tb.json.ok, false, tb.text);
  await call('GET', `/api/v1/db/connections/${bad.json.id}`);
  await call('GET', '/api/v1/db/connections');
  await call('GET', '/api/v1/datasets');
  await call('GET', `/api/v1/jobs/${x.json.datasets[0].job_id}`);

  // Responses: never a password.
  for (const b of bodies) {
    for (const pw of [password, badPassword]) assert.ok(!b.includes(pw), `password in a response: ${b}`);
  }
  // The owner does see the username and host (sanity check of the test).
  assert.ok(bodies.some((b) => b.includes(user)));
  assert.ok(bodies.some((b) => b.includes(badHost)));

  // Stop the server so that the WAL is checkpointed and every log line is
  // out; search the data directory both ways (files at rest after stop).
  const dir = srv.dir;
  const logs = `${srv.stderr}\n${srv.stdout}`;
  assert.match(srv.stderr, /debug/i, 'the server was not logging at debug level');
  await srv.stop({ keepDir: true });
  srv = null;
  try {
    const files = allFiles(dir);
    assert.ok(files.some(([p]) => p.endsWith('.parquet')), `no Parquet file in ${files.map(([p]) => p)}`);
    assert.ok(files.some(([p]) => p === 'vectoraiz.db'));
    for (const secret of [password, badPassword, user, badUser, badHost]) {
      for (const [p, data] of files) assert.ok(!hits(data, secret), `${secret} found in ${p}`);
      assert.ok(!hits(Buffer.from(logs), secret), `${secret} found in the server log`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
