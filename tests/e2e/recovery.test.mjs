// Nothing lost: vectoraiz killed with SIGKILL in the middle of an
// extraction comes back with the interrupted job failed (with a reason), no
// temp files, an intact metadata store, and earlier datasets still searchable.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, api } from './lib/server.mjs';

const E = process.env;
if (!E.VZ_PG_PORT) throw new Error("run through 'make test' or eval \"$(scripts/testdb.sh start)\"");

function pgAdmin(sql) {
  return execFileSync('psql', ['-h', '127.0.0.1', '-p', E.VZ_PG_PORT, '-U', E.VZ_PG_ADMIN_USER,
    '-d', E.VZ_PG_DB, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql],
  { env: { ...process.env, PGPASSWORD: E.VZ_PG_ADMIN_PASSWORD } }).toString();
}

const dir = mkdtempSync(join(tmpdir(), 'vz-recovery-'));
after(() => {
  pgAdmin('DROP TABLE IF EXISTS recovery_big');
  rmSync(dir, { recursive: true, force: true });
});

test('SIGKILL mid-extraction: restart fails the job cleanly and keeps what was ready', async () => {
  pgAdmin(`DROP TABLE IF EXISTS recovery_big;
    CREATE TABLE recovery_big AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 3000000) g;
    GRANT SELECT ON recovery_big TO ${E.VZ_PG_RO_USER}; ANALYZE recovery_big;`);
  const s1 = await startServer({ dataDir: dir });
  // The first start on an empty directory prints the token; later starts do not.
  const token = /admin token[^:]*: (vzt_[0-9a-f]+)/.exec(s1.stdout)?.[1]
    ?? await new Promise((r) => setTimeout(() => r(/admin token[^:]*: (vzt_[0-9a-f]+)/.exec(s1.stdout)?.[1]), 300));
  assert.ok(token, 'admin token printed on first start');
  const call = (srv, m, p, b) => api(srv.url, m, p, { body: b, token });
  const conn = (await call(s1, 'POST', '/api/v1/db/connections', {
    name: 'pg', db_type: 'postgresql', host: '127.0.0.1', port: Number(E.VZ_PG_PORT),
    database: E.VZ_PG_DB, username: E.VZ_PG_RO_USER, password: E.VZ_PG_RO_PASSWORD, ssl_mode: 'disable',
  })).json;
  const waitJob = async (srv, id) => {
    for (;;) {
      const j = (await call(srv, 'GET', `/api/v1/jobs/${id}`)).json;
      if (!['queued', 'running'].includes(j.state)) return j;
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  // A ready, searchable dataset first.
  const ready = await call(s1, 'POST', `/api/v1/db/connections/${conn.id}/extract`, { tables: [{ table: 'customers' }] });
  assert.equal((await waitJob(s1, ready.json.datasets[0].job_id)).state, 'succeeded');
  const before = await call(s1, 'POST', '/api/v1/search', { query: 'refund', mode: 'keyword', k: 3 });
  assert.ok(before.json.results.length > 0);
  // Then a long extraction, killed while rows flow.
  const big = await call(s1, 'POST', `/api/v1/db/connections/${conn.id}/extract`,
    { tables: [{ table: 'recovery_big' }], pipeline: false });
  const bigJob = big.json.datasets[0].job_id;
  for (;;) {
    const j = (await call(s1, 'GET', `/api/v1/jobs/${bigJob}`)).json;
    if (j.state === 'running' && j.rows_done > 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  s1.child.kill('SIGKILL');
  await s1.exited;
  assert.ok(readdirSync(dir).some((f) => f.endsWith('.parquet.tmp')), 'the kill left a temp file to clean');

  const s2 = await startServer({ dataDir: dir });
  try {
    assert.match(s2.stderr, /marked 1 interrupted job/);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp') || f.includes('.spill')), []);
    const j = (await call(s2, 'GET', `/api/v1/jobs/${bigJob}`)).json;
    assert.equal(j.state, 'failed');
    assert.match(j.error, /interrupted/);
    const ds = (await call(s2, 'GET', `/api/v1/datasets/${big.json.datasets[0].dataset_id}`)).json;
    assert.equal(ds.status, 'failed');
    // The metadata store is intact...
    assert.equal(execFileSync('sqlite3', [join(dir, 'vectoraiz.db'), 'PRAGMA integrity_check']).toString().trim(), 'ok');
    // ...and the earlier dataset still searches the same.
    const after2 = await call(s2, 'POST', '/api/v1/search', { query: 'refund', mode: 'keyword', k: 3 });
    assert.deepEqual(after2.json.results.map((r) => r.row_id), before.json.results.map((r) => r.row_id));
  } finally {
    await s2.stop({ keepDir: true });
  }
});
