// The server starts, answers health, gives JSON errors for bad requests,
// and stops cleanly on SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, api } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer(); });
after(async () => { if (srv) await srv.stop(); });

function assertErrorShape(r, status, code) {
  assert.equal(r.status, status, r.text);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  assert.equal(typeof r.json.error, 'object');
  assert.equal(r.json.error.code, code);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
}

// Send raw bytes and return whatever the server answers.
function rawRequest(url, bytes) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname, () => s.write(bytes));
    let out = '';
    s.on('data', (d) => { out += d; });
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(5000, () => { s.destroy(); resolve(out); });
  });
}

test('health reports status, version and store schema version', async () => {
  const r = await api(srv.url, 'GET', '/api/v1/health');
  assert.equal(r.status, 200);
  assert.equal(r.json.status, 'ok');
  assert.match(r.json.version, /^\d+\.\d+\.\d+$/);
  assert.ok(Number.isInteger(r.json.schema_version) && r.json.schema_version >= 1);
});

test('first start creates the key file with mode 0600 and the store', () => {
  const key = join(srv.dir, 'secret.key');
  assert.ok(existsSync(key));
  assert.equal(statSync(key).mode & 0o777, 0o600);
  assert.ok(existsSync(join(srv.dir, 'vectoraiz.db')));
  assert.match(srv.stderr, /losing it loses/);
});

test('unknown route is a JSON 404', async () => {
  assertErrorShape(await api(srv.url, 'GET', '/api/v1/no/such/thing'), 404, 'not_found');
});

test('wrong method is a JSON 405 with Allow', async () => {
  const r = await api(srv.url, 'DELETE', '/api/v1/health');
  assertErrorShape(r, 405, 'method_not_allowed');
  assert.equal(r.headers.get('allow'), 'GET');
});

test('too-large body is a JSON 413', async () => {
  const r = await api(srv.url, 'POST', '/api/v1/health', {
    raw: 'x'.repeat(2 * 1024 * 1024), headers: { 'content-type': 'application/json' },
  });
  assertErrorShape(r, 413, 'payload_too_large');
});

test('malformed HTTP request gets a 400 and the server keeps serving', async () => {
  const out = await rawRequest(srv.url, 'THIS IS NOT HTTP\r\n\r\n');
  assert.match(out, /^HTTP\/1\.[01] 400/);
  const r = await api(srv.url, 'GET', '/api/v1/health');
  assert.equal(r.status, 200);
});

test('SIGTERM stops the server with exit 0 within 2 s', async () => {
  const s2 = await startServer();
  const r = await s2.stop();
  assert.equal(r.signal, null);
  assert.equal(r.code, 0);
  assert.ok(r.ms < 2000, `took ${r.ms} ms`);
  assert.match(s2.stderr, /stopped/);
});

test('a second start on the same data directory reuses key and store', async () => {
  const s2 = await startServer();
  const dir = s2.dir;
  await s2.stop({ keepDir: true });
  const s3 = await startServer({ dataDir: dir });
  assert.doesNotMatch(s3.stderr, /generated credentials key/);
  assert.doesNotMatch(s3.stderr, /applied migration/);
  const r = await api(s3.url, 'GET', '/api/v1/health');
  assert.equal(r.status, 200);
  await s3.stop();
});

test('a second server on a port in use fails clearly instead of sharing it', async () => {
  const { spawnSync } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { BIN } = await import('./lib/server.mjs');
  const port = new URL(srv.url).port;
  const dir = mkdtempSync(join(tmpdir(), 'vz-e2e-'));
  const r = spawnSync(BIN, ['--data-dir', dir, '--listen', `127.0.0.1:${port}`, 'serve'],
    { timeout: 10000, encoding: 'utf8' });
  rmSync(dir, { recursive: true, force: true });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /cannot listen on 127\.0\.0\.1:\d+/);
  assert.equal((await api(srv.url, 'GET', '/api/v1/health')).status, 200);
});
