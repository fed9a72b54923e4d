// Extraction over the API against the real servers: dry run, tables and
// custom SQL into Parquet, re-extraction, the M3 cap, cancel, bad requests.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, api } from './lib/server.mjs';

const E = process.env;
if (!E.VZ_PG_PORT) throw new Error("run through 'make test' or eval \"$(scripts/testdb.sh start)\"");

const pgConn = {
  name: 'pg', db_type: 'postgresql', host: '127.0.0.1', port: Number(E.VZ_PG_PORT),
  database: E.VZ_PG_DB, username: E.VZ_PG_RO_USER, password: E.VZ_PG_RO_PASSWORD, ssl_mode: 'disable',
};
const myConn = {
  name: 'my', db_type: 'mysql', host: '127.0.0.1', port: Number(E.VZ_MY_PORT),
  database: E.VZ_MY_DB, username: E.VZ_MY_RO_USER, password: E.VZ_MY_RO_PASSWORD, ssl_mode: 'disable',
};

// Run SQL as the admin user (test setup only).
function pgAdmin(sql) {
  return execFileSync('psql', ['-h', '127.0.0.1', '-p', E.VZ_PG_PORT, '-U', E.VZ_PG_ADMIN_USER,
    '-d', E.VZ_PG_DB, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql],
  { env: { ...process.env, PGPASSWORD: E.VZ_PG_ADMIN_PASSWORD } }).toString();
}

// The superuser over the unix socket: only it sees (and may end) every
// session in pg_stat_activity.
function pgSuper(sql) {
  return execFileSync('psql', ['-h', E.VZ_PG_SOCKET_DIR, '-p', E.VZ_PG_PORT, '-U', E.VZ_PG_SUPERUSER,
    '-d', E.VZ_PG_DB, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql]).toString();
}

let srv;
let call;
let pgId;
let myId;

before(async () => {
  srv = await startServer();
  call = (m, p, b) => api(srv.url, m, p, { body: b, token: srv.token });
  pgId = (await call('POST', '/api/v1/db/connections', pgConn)).json.id;
  myId = (await call('POST', '/api/v1/db/connections', myConn)).json.id;
  // A table big enough to still be running when we cancel it.
  pgAdmin(`DROP TABLE IF EXISTS big_events;
    CREATE TABLE big_events AS SELECT g AS id, md5(g::text) AS payload, now() AS at
      FROM generate_series(1, 3000000) g;
    GRANT SELECT ON big_events TO ${E.VZ_PG_RO_USER}; ANALYZE big_events;`);
});
after(async () => {
  pgAdmin('DROP TABLE IF EXISTS big_events');
  if (srv) await srv.stop();
});

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

async function rows(datasetId, limit = 1000) {
  const r = await call('GET', `/api/v1/datasets/${datasetId}/rows?limit=${limit}`);
  assert.equal(r.status, 200, r.text);
  return r.json;
}

const tmpFiles = () => readdirSync(srv.dir).filter((f) => f.endsWith('.tmp'));

describe('postgresql', () => {
  test('dry run: estimates, mapping, nothing queued', async () => {
    const r = await call('POST', `/api/v1/db/connections/${pgId}/extract`, {
      dry_run: true, tables: [{ table: 'customers', exclude_columns: ['email'] }, { table: 'all_types' }],
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.dry_run, true);
    const [c, a] = r.json.tables;
    assert.ok(c.estimated_rows >= 40 && c.estimated_rows <= 60);
    assert.ok(c.estimated_bytes > 0);
    assert.equal(c.columns.find((x) => x.name === 'email').excluded, true);
    assert.ok(a.columns.some((x) => x.skipped));
    assert.ok(a.warnings.length > 0);
    const list = await call('GET', '/api/v1/datasets');
    assert.equal(list.json.datasets.length, 0);
  });

  test('two tables become two datasets with the right rows and columns', async () => {
    const r = await call('POST', `/api/v1/db/connections/${pgId}/extract`, {
      tables: [{ table: 'customers', schema: 'public', exclude_columns: ['email'] }, { table: 'orders', row_limit: 120 }],
      pipeline: false,
    });
    assert.equal(r.status, 202, r.text);
    assert.equal(r.json.datasets.length, 2);
    const [cust, ord] = r.json.datasets;
    for (const d of [cust, ord]) {
      const j = await waitJob(d.job_id);
      assert.equal(j.state, 'succeeded', j.error);
    }
    const ds = (await call('GET', `/api/v1/datasets/${cust.dataset_id}`)).json;
    assert.equal(ds.status, 'ready');
    assert.equal(ds.source_type, 'database');
    assert.equal(ds.source_connection_id, pgId);
    assert.equal(ds.source_table, 'public.customers');
    assert.equal(ds.row_count, 50);
    assert.ok(ds.byte_size > 0);
    assert.match(ds.source_sql, /SELECT .* FROM "public"\."customers"/);
    // M1: the raw file is <data>/<dataset_id>.parquet.
    const file = join(srv.dir, `${cust.dataset_id}.parquet`);
    assert.ok(existsSync(file));
    assert.equal(statSync(file).size, ds.byte_size);
    const body = readFileSync(file);
    assert.equal(body.subarray(0, 4).toString(), 'PAR1');
    const rs = await rows(cust.dataset_id);
    assert.equal(rs.rows.length, 50);
    assert.ok(!rs.columns.some((c) => c.name === 'email'));
    assert.ok(rs.columns.some((c) => c.name === 'name'));
    assert.equal((await call('GET', `/api/v1/datasets/${ord.dataset_id}`)).json.row_count, 120);
    // Every type reads back, timestamptz included (NOT NULL in the source).
    const orows = await rows(ord.dataset_id);
    const at = orows.columns.findIndex((c) => c.name === 'placed_at');
    assert.equal(orows.columns[at].type, 'TIMESTAMP WITH TIME ZONE');
    for (const r of orows.rows) assert.match(String(r[at]), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
    const tot = orows.columns.findIndex((c) => c.name === 'total');
    assert.equal(typeof orows.rows[0][tot], 'number');
    // The download is the same file.
    const dl = await fetch(`${srv.url}/api/v1/datasets/${cust.dataset_id}/download`,
      { headers: { authorization: `Bearer ${srv.token}` } });
    assert.equal(dl.status, 200);
    const got = Buffer.from(await dl.arrayBuffer());
    assert.ok(got.equals(body));
    // last_sync_at recorded on the connection.
    assert.ok((await call('GET', `/api/v1/db/connections/${pgId}`)).json.last_sync_at);
  });

  test('type matrix: all_types extracts, binary skipped with a warning', async () => {
    const r = await call('POST', `/api/v1/db/connections/${pgId}/extract`, { tables: [{ table: 'all_types' }] });
    assert.equal(r.status, 202, r.text);
    const j = await waitJob(r.json.datasets[0].job_id);
    assert.equal(j.state, 'succeeded', j.error);
    const ds = (await call('GET', `/api/v1/datasets/${r.json.datasets[0].dataset_id}`)).json;
    assert.ok(ds.warnings.some((w) => /skipped/.test(w)));
    // M2: 'infinity' dates become NULL, with the column and the count.
    assert.ok(ds.warnings.some((w) => /column c_\w+ .*'infinity'.*NULL \(\d+ values?\)/.test(w)), ds.warnings.join('\n'));
    const rs = await rows(ds.id);
    assert.ok(rs.rows.length >= 5);
    assert.ok(!rs.columns.some((c) => /bytea/i.test(c.type)));
  });

  test('re-extracting the same table keeps the dataset id', async () => {
    const body = { tables: [{ table: 'customers' }] };
    const a = await call('POST', `/api/v1/db/connections/${pgId}/extract`, body);
    await waitJob(a.json.datasets[0].job_id);
    const b = await call('POST', `/api/v1/db/connections/${pgId}/extract`, body);
    assert.equal(b.json.datasets[0].dataset_id, a.json.datasets[0].dataset_id);
    assert.notEqual(b.json.datasets[0].job_id, a.json.datasets[0].job_id);
    assert.equal((await waitJob(b.json.datasets[0].job_id)).state, 'succeeded');
  });

  test('custom SQL becomes one dataset; a write is refused by the guard', async () => {
    const ok = await call('POST', `/api/v1/db/connections/${pgId}/extract`, {
      custom_sql: 'SELECT c.city, count(*) AS n FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.city',
      dataset_name: 'Orders by city',
    });
    assert.equal(ok.status, 202, ok.text);
    const d = ok.json.datasets[0];
    assert.equal(d.table, 'custom_query');
    assert.equal((await waitJob(d.job_id)).state, 'succeeded');
    const ds = (await call('GET', `/api/v1/datasets/${d.dataset_id}`)).json;
    assert.equal(ds.name, 'Orders by city');
    assert.equal(ds.source_table, 'custom_query');
    assert.ok(ds.row_count > 0);
    for (const sql of ['DELETE FROM customers', 'SELECT 1; DROP TABLE customers', 'SELECT pg_sleep(10)']) {
      const bad = await call('POST', `/api/v1/db/connections/${pgId}/extract`, { custom_sql: sql, dataset_name: 'x' });
      assert.equal(bad.status, 400, sql);
      assert.equal(bad.json.error.code, 'not_read_only');
    }
    const noName = await call('POST', `/api/v1/db/connections/${pgId}/extract`, { custom_sql: 'SELECT 1' });
    assert.equal(noName.status, 400);
    assert.match(noName.json.error.message, /dataset_name/);
  });

  test('cancel stops a running extraction within 2 s and leaves nothing behind', async () => {
    const r = await call('POST', `/api/v1/db/connections/${pgId}/extract`, { tables: [{ table: 'big_events' }] });
    assert.equal(r.status, 202, r.text);
    const { job_id: jobId, dataset_id: dsId } = r.json.datasets[0];
    for (;;) { // wait until rows flow
      const j = (await call('GET', `/api/v1/jobs/${jobId}`)).json;
      if (j.state === 'running' && j.rows_done > 0) break;
      assert.ok(['queued', 'running'].includes(j.state), `job ended early: ${j.state} ${j.error}`);
      await new Promise((res) => setTimeout(res, 20));
    }
    // A second extraction of the same table while this one runs: 409.
    const dup = await call('POST', `/api/v1/db/connections/${pgId}/extract`, { tables: [{ table: 'big_events' }] });
    assert.equal(dup.status, 409);
    const t0 = Date.now();
    const c = await call('POST', `/api/v1/jobs/${jobId}/cancel`);
    assert.equal(c.status, 202);
    const j = await waitJob(jobId, 5000);
    assert.equal(j.state, 'cancelled');
    assert.ok(Date.now() - t0 < 2000, `cancel took ${Date.now() - t0} ms`);
    const ds = (await call('GET', `/api/v1/datasets/${dsId}`)).json;
    assert.equal(ds.status, 'cancelled');
    assert.ok(!existsSync(join(srv.dir, `${dsId}.parquet`)));
    assert.deepEqual(tmpFiles(), []);
    // The server session was cancelled too: no query of ours left running.
    const active = pgSuper("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'vectoraiz' AND state = 'active'");
    assert.equal(active.trim(), '0');
  });

  test('a session killed mid-stream fails the job and keeps the previous version', async () => {
    // Version 1: the first 1000 rows.
    const v1 = await call('POST', `/api/v1/db/connections/${pgId}/extract`,
      { tables: [{ table: 'big_events', row_limit: 1000 }] });
    assert.equal(v1.status, 202, v1.text);
    const { dataset_id: dsId } = v1.json.datasets[0];
    assert.equal((await waitJob(v1.json.datasets[0].job_id)).state, 'succeeded');
    const file = join(srv.dir, `${dsId}.parquet`);
    const before = readFileSync(file);
    // Version 2: everything; its server session is terminated while rows flow.
    const v2 = await call('POST', `/api/v1/db/connections/${pgId}/extract`, { tables: [{ table: 'big_events' }] });
    assert.equal(v2.json.datasets[0].dataset_id, dsId);
    const jobId = v2.json.datasets[0].job_id;
    for (;;) {
      const j = (await call('GET', `/api/v1/jobs/${jobId}`)).json;
      if (j.state === 'running' && j.rows_done > 0) break;
      assert.ok(['queued', 'running'].includes(j.state), `ended early: ${j.state} ${j.error}`);
      await new Promise((res) => setTimeout(res, 20));
    }
    const killed = pgSuper("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'vectoraiz' AND query LIKE 'COPY%'");
    assert.equal(killed.trim(), '1');
    const j = await waitJob(jobId, 15000);
    assert.equal(j.state, 'failed');
    assert.match(j.error, /terminat|server closed|connection/i);
    const ds = (await call('GET', `/api/v1/datasets/${dsId}`)).json;
    assert.equal(ds.status, 'ready'); // the earlier version is still there
    assert.match(ds.error_message, /earlier version is kept/);
    assert.equal(ds.row_count, 1000);
    assert.ok(readFileSync(file).equals(before), 'previous file changed');
    assert.deepEqual(tmpFiles(), []);
    assert.equal((await rows(dsId, 5)).total, 1000);
  });

  test('bad requests are clear 4xx', async () => {
    const cases = [
      [{}, /either 'tables' or 'custom_sql'/],
      [{ tables: [] }, /non-empty/],
      [{ tables: [{ table: 'no_such_table' }] }, /no table or view/],
      [{ tables: [{ table: 'customers', exclude_columns: ['nope'] }] }, /no column 'nope'/],
      [{ tables: [{ table: 'customers', row_limit: 0 }] }, /row_limit/],
      [{ tables: [{ table: 'customers' }], decimal: 'weird' }, /decimal/],
      [{ tables: [{ table: 'customers' }], bogus: 1 }, /unknown field/],
    ];
    for (const [body, re] of cases) {
      const r = await call('POST', `/api/v1/db/connections/${pgId}/extract`, body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
      assert.match(r.json.error.message, re);
    }
    const unknown = await call('POST', '/api/v1/db/connections/00000000-0000-4000-8000-000000000000/extract', { tables: [{ table: 'x' }] });
    assert.equal(unknown.status, 404);
  });
});

describe('mysql', () => {
  test('tables and a custom query', async () => {
    const r = await call('POST', `/api/v1/db/connections/${myId}/extract`, {
      tables: [{ table: 'customers' }, { table: 'orders' }, { table: 'all_types' }],
    });
    assert.equal(r.status, 202, r.text);
    for (const d of r.json.datasets) {
      const j = await waitJob(d.job_id);
      assert.equal(j.state, 'succeeded', `${d.table}: ${j.error}`);
    }
    const c = (await call('GET', `/api/v1/datasets/${r.json.datasets[0].dataset_id}`)).json;
    assert.equal(c.row_count, 50);
    assert.equal(c.source_table, `${E.VZ_MY_DB}.customers`);
    const q = await call('POST', `/api/v1/db/connections/${myId}/extract`, {
      custom_sql: 'SELECT status, COUNT(*) AS n, SUM(total) AS s FROM orders GROUP BY status', dataset_name: 'status totals',
    });
    assert.equal(q.status, 202, q.text);
    assert.equal((await waitJob(q.json.datasets[0].job_id)).state, 'succeeded');
    // Duplicate column names: MySQL refuses them in a derived table, so the
    // query runs as written (no wrapping without a row_limit).
    const dup = await call('POST', `/api/v1/db/connections/${myId}/extract`, {
      custom_sql: 'SELECT c.id, o.id FROM customers c JOIN orders o ON o.customer_id = c.id', dataset_name: 'pairs',
    });
    assert.equal(dup.status, 202, dup.text);
    const dj = await waitJob(dup.json.datasets[0].job_id);
    assert.equal(dj.state, 'succeeded', dj.error);
    const dr = await rows(dup.json.datasets[0].dataset_id);
    assert.equal(dr.total, 200);
    assert.equal(new Set(dr.columns.map((c) => c.name)).size, 2);
    const bad = await call('POST', `/api/v1/db/connections/${myId}/extract`, {
      custom_sql: "SELECT * FROM customers INTO OUTFILE '/tmp/x'", dataset_name: 'x',
    });
    assert.equal(bad.status, 400);
  });
});

describe('M3 row cap', () => {
  test('estimate over the cap is refused up front with the fix; row_limit passes', async () => {
    const s = await startServer({ env: { DB_EXTRACT_MAX_ROWS: '100' } });
    try {
      const c = (s2) => (m, p, b) => api(s2.url, m, p, { body: b, token: s2.token });
      const call2 = c(s);
      const id = (await call2('POST', '/api/v1/db/connections', pgConn)).json.id;
      const r = await call2('POST', `/api/v1/db/connections/${id}/extract`, { tables: [{ table: 'orders' }] });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json.error.code, 'limit_exceeded');
      assert.match(r.json.error.message, /200/);
      assert.match(r.json.error.message, /100/);
      assert.match(r.json.error.message, /row_limit/);
      const ok = await call2('POST', `/api/v1/db/connections/${id}/extract`, { tables: [{ table: 'orders', row_limit: 80 }] });
      assert.equal(ok.status, 202, ok.text);
      // A custom query has no estimate: the cap stops it while streaming.
      const q = await call2('POST', `/api/v1/db/connections/${id}/extract`, {
        custom_sql: 'SELECT * FROM orders', dataset_name: 'all orders',
      });
      assert.equal(q.status, 202, q.text);
      let j;
      for (;;) {
        j = (await call2('GET', `/api/v1/jobs/${q.json.datasets[0].job_id}`)).json;
        if (!['queued', 'running'].includes(j.state)) break;
        await new Promise((res) => setTimeout(res, 50));
      }
      assert.equal(j.state, 'failed');
      assert.match(j.error, /100/);
      assert.ok(!existsSync(join(s.dir, `${q.json.datasets[0].dataset_id}.parquet`)));
    } finally {
      await s.stop();
    }
  });
});
