// Search and ask on the real binary: extract a table with the pipeline,
// then find rows by a word in them and by a paraphrase, citing the primary
// key; bad input is a clear 4xx.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, api } from './lib/server.mjs';

const E = process.env;
if (!E.VZ_PG_PORT) throw new Error("run through 'make test' or eval \"$(scripts/testdb.sh start)\"");

let srv;
let call;
let dsId;

async function waitJob(jobId, ms = 120000) {
  const t0 = Date.now();
  for (;;) {
    const r = await call('GET', `/api/v1/jobs/${jobId}`);
    if (!['queued', 'running'].includes(r.json.state)) return r.json;
    if (Date.now() - t0 > ms) throw new Error(`job ${jobId} still ${r.json.state}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

before(async () => {
  srv = await startServer();
  call = (m, p, b) => api(srv.url, m, p, { body: b, token: srv.token });
  const conn = (await call('POST', '/api/v1/db/connections', {
    name: 'pg', db_type: 'postgresql', host: '127.0.0.1', port: Number(E.VZ_PG_PORT),
    database: E.VZ_PG_DB, username: E.VZ_PG_RO_USER, password: E.VZ_PG_RO_PASSWORD, ssl_mode: 'disable',
  })).json;
  const r = await call('POST', `/api/v1/db/connections/${conn.id}/extract`, { tables: [{ table: 'customers' }] });
  assert.equal(r.status, 202, r.text);
  dsId = r.json.datasets[0].dataset_id;
  const j = await waitJob(r.json.datasets[0].job_id);
  assert.equal(j.state, 'succeeded', j.error);
});
after(async () => { if (srv) await srv.stop(); });

const rowIds = (res) => res.json.results.map((x) => x.row_id);

test('keyword search finds the rows that contain the word, citing the primary key', async () => {
  const r = await call('POST', '/api/v1/search', { query: 'refund', mode: 'keyword', k: 5 });
  assert.equal(r.status, 200, r.text);
  const ids = rowIds(r);
  // customers 3, 11 and 20 mention a refund (tests/fixtures/pg.sql).
  for (const id of ['3', '11', '20']) assert.ok(ids.includes(id), `row ${id} in ${ids}`);
  const hit = r.json.results[0];
  assert.equal(hit.dataset_id, dsId);
  assert.equal(hit.source_table, 'public.customers');
  assert.match(hit.text, /refund/i);
  assert.deepEqual(hit.highlights.map((h) => h.toLowerCase()), ['refund']);
  assert.ok(hit.ranks.keyword >= 1);
});

test('vector search finds a paraphrase', async () => {
  const r = await call('POST', '/api/v1/search', { query: 'customer asked to get their money back', mode: 'vector', k: 5 });
  assert.equal(r.status, 200, r.text);
  const ids = rowIds(r);
  assert.ok(['3', '11', '20'].some((id) => ids.slice(0, 3).includes(id)), `refund rows not on top: ${ids}`);
  assert.ok(r.json.results[0].ranks.vector === 1);
});

test('hybrid fuses both lists and is the default', async () => {
  const r = await call('POST', '/api/v1/search', { query: 'late delivery', k: 10 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.mode, 'hybrid');
  const top = r.json.results.slice(0, 4).map((x) => x.text);
  assert.ok(top.every((t) => /late|deliver/i.test(t)), top.join('\n'));
  assert.ok(r.json.results.some((x) => x.ranks.vector && x.ranks.keyword));
  for (let i = 1; i < r.json.results.length; i++) {
    assert.ok(r.json.results[i - 1].score >= r.json.results[i].score);
  }
});

test('ask without a chat model returns the rows and a note', async () => {
  const r = await call('POST', '/api/v1/ask', { question: 'Who wanted a refund?' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.answer, null);
  assert.match(r.json.note, /no chat model/);
  assert.ok(r.json.results.length > 0 && r.json.results.length <= 5);
});

test('bad input is a clear 4xx', async () => {
  const cases = [
    [{ query: '' }, 400], [{ query: '   ' }, 400], [{}, 400], [{ query: 'x', k: 0 }, 400],
    [{ query: 'x', k: 101 }, 400], [{ query: 'x', mode: 'fuzzy' }, 400],
    [{ query: 'x', dataset_ids: ['nope'] }, 400],
    [{ query: 'x', dataset_ids: ['00000000-0000-4000-8000-000000000000'] }, 404],
  ];
  for (const [body, status] of cases) {
    const r = await call('POST', '/api/v1/search', body);
    assert.equal(r.status, status, `${JSON.stringify(body)}: ${r.text}`);
    assert.ok(r.json.error.message.length > 0);
  }
  assert.equal((await api(srv.url, 'POST', '/api/v1/search', { body: { query: 'x' } })).status, 401);
  assert.equal((await call('POST', '/api/v1/ask', { question: '' })).status, 400);
});
