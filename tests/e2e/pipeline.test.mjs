// The pipeline over the API against the real PostgreSQL fixture: an
// extraction goes on through processing, embedding and indexing to ready;
// "pipeline": false stops after the raw file; reprocess reruns it; delete
// leaves nothing of the dataset on disk.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, api } from './lib/server.mjs';

const E = process.env;
if (!E.VZ_PG_PORT) throw new Error("run through 'make test' or eval \"$(scripts/testdb.sh start)\"");

const pgConn = {
  name: 'pg', db_type: 'postgresql', host: '127.0.0.1', port: Number(E.VZ_PG_PORT),
  database: E.VZ_PG_DB, username: E.VZ_PG_RO_USER, password: E.VZ_PG_RO_PASSWORD, ssl_mode: 'disable',
};

let srv;
let call;
let pgId;

before(async () => {
  srv = await startServer();
  call = (m, p, b) => api(srv.url, m, p, { body: b, token: srv.token });
  pgId = (await call('POST', '/api/v1/db/connections', pgConn)).json.id;
});
after(async () => {
  if (srv) await srv.stop();
});

// Poll the job and its dataset until the job ends; returns the job, the
// dataset and every (job phase, dataset status) seen, in order, deduplicated.
async function follow(jobId, datasetId, ms = 120000) {
  const t0 = Date.now();
  const phases = [];
  const statuses = [];
  const push = (arr, v) => { if (v && arr[arr.length - 1] !== v) arr.push(v); };
  for (;;) {
    const j = await call('GET', `/api/v1/jobs/${jobId}`);
    assert.equal(j.status, 200, j.text);
    const d = await call('GET', `/api/v1/datasets/${datasetId}`);
    assert.equal(d.status, 200, d.text);
    if (j.json.state === 'running') push(phases, j.json.phase);
    push(statuses, d.json.status);
    if (!['queued', 'running'].includes(j.json.state)) {
      const dd = (await call('GET', `/api/v1/datasets/${datasetId}`)).json;
      push(statuses, dd.status);
      return { job: j.json, ds: dd, phases, statuses };
    }
    if (Date.now() - t0 > ms) throw new Error(`job ${jobId} still ${j.json.state}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

const ORDER = ['extracting', 'processing', 'embedding', 'indexing'];
function assertInOrder(seen) {
  let last = -1;
  for (const p of seen) {
    const i = ORDER.indexOf(p);
    assert.ok(i > last, `phases out of order: ${seen.join(' → ')}`);
    last = i;
  }
}

// Every file of the data dir (recursive) that names the dataset.
function filesOf(dsId) {
  const out = [];
  const walk = (dir, rel) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (r.includes(dsId)) out.push(r);
      if (e.isDirectory()) walk(join(dir, e.name), r);
    }
  };
  walk(srv.dir, '');
  return out;
}

describe('pipeline', () => {
  let dsId;

  test('an extraction goes on through the phases to a ready, indexed dataset', async (t) => {
    const r = await call('POST', `/api/v1/db/connections/${pgId}/extract`, { tables: [{ table: 'customers' }] });
    assert.equal(r.status, 202, r.text);
    const d = r.json.datasets[0];
    dsId = d.dataset_id;
    const { job, ds, phases, statuses } = await follow(d.job_id, dsId);
    assert.equal(job.state, 'succeeded', job.error);
    assert.equal(job.phase, 'indexing'); // the last phase it went through
    t.diagnostic(`job phases seen: ${phases.join(' → ')}; dataset: ${statuses.join(' → ')}`);
    const timing = /pipeline \d+ rows.*/.exec(srv.stderr);
    if (timing) t.diagnostic(timing[0]);
    assertInOrder(phases);
    assertInOrder(statuses.filter((s) => s !== 'queued' && s !== 'ready'));
    assert.equal(statuses[statuses.length - 1], 'ready');
    assert.equal(job.rows_done, 50);
    assert.equal(ds.status, 'ready');
    assert.equal(ds.row_count, 50);
    assert.equal(ds.embed_provider, 'local');
    assert.equal(ds.embed_model, 'all-MiniLM-L6-v2');
    assert.equal(ds.embed_dim, 384);
    assert.equal(ds.indexed, true);
    assert.ok(ds.chunk_count >= 50, `chunk_count ${ds.chunk_count}`);
    // The primary key went with the dataset: chunks cite customers by id.
    assert.deepEqual(ds.options.primary_key, ['id']);
    // The profile: one entry per column with the fields of its type.
    assert.equal(ds.profile.rows, 50);
    const col = (n) => ds.profile.columns.find((c) => c.name === n);
    assert.deepEqual(ds.profile.columns.map((c) => c.name), ['id', 'name', 'email', 'city', 'signup_date', 'notes']);
    assert.equal(col('id').min, 1);
    assert.equal(col('id').max, 50);
    assert.equal(col('id').mean, 25.5);
    assert.ok(col('notes').null_fraction > 0 && col('notes').null_fraction < 1);
    assert.ok(col('name').avg_length > 5);
    assert.ok(Array.isArray(col('city').top_values) && col('city').top_values.length > 0);
    assert.ok(col('email').distinct_approx >= 40);
    // The files: raw, processed, index folder; no temp left.
    assert.ok(existsSync(join(srv.dir, `${dsId}.parquet`)));
    assert.ok(existsSync(join(srv.dir, 'datasets', `${dsId}.processed.parquet`)));
    assert.ok(existsSync(join(srv.dir, 'datasets', dsId, 'chunks.db')));
    assert.ok(existsSync(join(srv.dir, 'datasets', dsId, 'vectors.f32')));
    assert.deepEqual(filesOf(dsId).filter((f) => f.endsWith('.tmp')), []);
  });

  test('"pipeline": false stops after the raw file', async () => {
    const r = await call('POST', `/api/v1/db/connections/${pgId}/extract`,
      { tables: [{ table: 'orders', row_limit: 20 }], pipeline: false });
    assert.equal(r.status, 202, r.text);
    const d = r.json.datasets[0];
    const { job, ds, phases } = await follow(d.job_id, d.dataset_id);
    assert.equal(job.state, 'succeeded', job.error);
    assert.deepEqual(phases.filter((p) => p !== 'extracting'), []);
    assert.equal(ds.status, 'ready');
    assert.equal(ds.chunk_count, null);
    assert.equal(ds.profile, null);
    assert.equal(ds.indexed, false);
    assert.ok(existsSync(join(srv.dir, `${d.dataset_id}.parquet`)));
    assert.ok(!existsSync(join(srv.dir, 'datasets', d.dataset_id)));
    assert.ok(!existsSync(join(srv.dir, 'datasets', `${d.dataset_id}.processed.parquet`)));
    // Bad values of the pipeline fields are refused.
    for (const body of [{ tables: [{ table: 'orders' }], pipeline: 'no' },
      { tables: [{ table: 'orders' }], embed_provider: 'cloud' }]) {
      const bad = await call('POST', `/api/v1/db/connections/${pgId}/extract`, body);
      assert.equal(bad.status, 400, bad.text);
    }
    // Reprocess builds the index for it, here keyword-only.
    const rp = await call('POST', `/api/v1/datasets/${d.dataset_id}/reprocess`, { embed_provider: 'keyword' });
    assert.equal(rp.status, 202, rp.text);
    const f = await follow(rp.json.job_id, d.dataset_id);
    assert.equal(f.job.state, 'succeeded', f.job.error);
    assert.equal(f.job.kind, 'pipeline');
    assert.equal(f.ds.status, 'ready');
    assert.equal(f.ds.embed_provider, 'keyword');
    assert.equal(f.ds.embed_dim, 0);
    assert.equal(f.ds.embed_model, null);
    assert.equal(f.ds.chunk_count, 20);
    assert.equal(f.ds.last_job_id, rp.json.job_id);
    assert.ok(existsSync(join(srv.dir, 'datasets', d.dataset_id, 'chunks.db')));
  });

  test('reprocess reruns the pipeline; 409 while a job runs; 404 for unknown ids', async () => {
    const before = (await call('GET', `/api/v1/datasets/${dsId}`)).json;
    const rp = await call('POST', `/api/v1/datasets/${dsId}/reprocess`);
    assert.equal(rp.status, 202, rp.text);
    assert.equal(rp.json.dataset_id, dsId);
    const again = await call('POST', `/api/v1/datasets/${dsId}/reprocess`);
    assert.equal(again.status, 409, again.text);
    assert.equal(again.json.error.code, 'conflict');
    const { job, ds, phases } = await follow(rp.json.job_id, dsId);
    assert.equal(job.state, 'succeeded', job.error);
    assertInOrder(phases);
    assert.ok(!phases.includes('extracting'));
    assert.equal(ds.status, 'ready');
    assert.equal(ds.chunk_count, before.chunk_count);
    assert.equal(ds.embed_model, 'all-MiniLM-L6-v2');
    const unknown = await call('POST', '/api/v1/datasets/00000000-0000-4000-8000-000000000000/reprocess');
    assert.equal(unknown.status, 404);
    const badBody = await call('POST', `/api/v1/datasets/${dsId}/reprocess`, { bogus: 1 });
    assert.equal(badBody.status, 400);
  });

  test('cancel during the pipeline keeps the earlier index', async () => {
    const rp = await call('POST', `/api/v1/datasets/${dsId}/reprocess`);
    assert.equal(rp.status, 202, rp.text);
    const c = await call('POST', `/api/v1/jobs/${rp.json.job_id}/cancel`);
    assert.ok([202, 409].includes(c.status), c.text); // 409: it had already finished
    const { job, ds } = await follow(rp.json.job_id, dsId);
    // A 50-row run may finish before the cancel lands; either way the
    // dataset is ready and indexed with nothing half-made on disk.
    assert.ok(['cancelled', 'succeeded'].includes(job.state), job.state);
    assert.equal(ds.status, 'ready');
    if (job.state === 'cancelled') assert.match(ds.error_message, /earlier index is kept/);
    assert.ok(existsSync(join(srv.dir, 'datasets', dsId, 'chunks.db')));
    assert.deepEqual(filesOf(dsId).filter((f) => f.endsWith('.tmp')), []);
  });

  test('reprocess of a dataset without a raw file is a 409', async () => {
    const r = await call('POST', `/api/v1/db/connections/${pgId}/extract`,
      { custom_sql: 'SELECT 1 AS one', dataset_name: 'gone', pipeline: false });
    const d = r.json.datasets[0];
    assert.equal((await follow(d.job_id, d.dataset_id)).job.state, 'succeeded');
    // Simulate a lost raw file (e.g. removed by hand).
    const { unlinkSync } = await import('node:fs');
    unlinkSync(join(srv.dir, `${d.dataset_id}.parquet`));
    const rp = await call('POST', `/api/v1/datasets/${d.dataset_id}/reprocess`);
    assert.equal(rp.status, 409, rp.text);
  });

  test('delete removes every file of the dataset', async () => {
    assert.ok(filesOf(dsId).length >= 3);
    const del = await call('DELETE', `/api/v1/datasets/${dsId}`);
    assert.equal(del.status, 200, del.text);
    assert.deepEqual(filesOf(dsId), []);
    assert.equal((await call('GET', `/api/v1/datasets/${dsId}`)).status, 404);
  });
});
