// The compiled-in web UI over plain HTTP: security headers, caching with
// ETag/304, exact-name lookup that no path trick can turn into a file read,
// and GET /api/v1/system (spec M5's container detection).
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, api } from './lib/server.mjs';

let srv;
before(async () => {
  srv = await startServer();
  // Something worth stealing next to the database, by name.
  writeFileSync(join(srv.dir, 'x'), 'SECRET-FILE-CONTENT');
});
after(async () => { if (srv) await srv.stop(); });

// One raw request with the path exactly as written: fetch() and curl would
// normalise "/assets/../x" before sending it.
function rawGet(path, headers = {}) {
  const { hostname, port } = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname, () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n${extra}\r\n`);
    });
    const chunks = [];
    s.on('data', (d) => chunks.push(d));
    s.on('end', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      const status = Number(head.split(' ')[1]);
      resolve({ status, head, body: rest.join('\r\n\r\n') });
    });
    s.on('error', reject);
    s.setTimeout(5000, () => { s.destroy(); reject(new Error(`no answer for ${path}`)); });
  });
}

const CSP_RE = /default-src 'self'/;

describe('index and assets', () => {
  test('GET / is the UI with a strict CSP and the other security headers', async () => {
    const r = await api(srv.url, 'GET', '/');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/html; charset=utf-8/);
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, CSP_RE);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(r.headers.get('x-frame-options'), 'DENY');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('cache-control'), 'no-cache');
    assert.match(r.headers.get('etag'), /^"[0-9a-f]{32}"$/, 'a strong ETag');
    assert.match(r.text, /<script type="module" src="\/assets\/app.js"><\/script>/);
  });

  test('the page has no inline script or style for the CSP to block', async () => {
    const html = (await api(srv.url, 'GET', '/')).text;
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'inline <script>');
    assert.doesNotMatch(html, /<style/);
    assert.doesNotMatch(html, /\sstyle=/);
    assert.doesNotMatch(html, /\son[a-z]+=/, 'inline event handler');
  });

  test('every asset the page and its modules load is served with the right type', async () => {
    const seen = new Set();
    const queue = ['/'];
    const types = { js: /^text\/javascript/, css: /^text\/css/, svg: /^image\/svg\+xml/, html: /^text\/html/ };
    while (queue.length) {
      const path = queue.shift();
      if (seen.has(path)) continue;
      seen.add(path);
      const r = await api(srv.url, 'GET', path);
      assert.equal(r.status, 200, path);
      const ext = path === '/' ? 'html' : path.split('.').pop();
      assert.match(r.headers.get('content-type'), types[ext], path);
      assert.match(r.headers.get('content-security-policy'), CSP_RE, path);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
      // Links in the page and static imports in the modules, all same-origin.
      for (const m of r.text.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) queue.push(m[1]);
      for (const m of r.text.matchAll(/\bfrom\s*['"]\.\/([\w.-]+)['"]/g)) queue.push(`/assets/${m[1]}`);
      // Our own files load nothing from elsewhere (the vendored highlighter
      // only mentions its project's URLs in messages).
      if (!path.includes('hljs-')) assert.doesNotMatch(r.text, /https?:\/\/(?!www\.w3\.org)/, `${path} names another origin`);
    }
    for (const must of ['/assets/app.js', '/assets/style.css', '/assets/hljs-core.min.js', '/assets/hljs-sql.min.js']) {
      assert.ok(seen.has(must), `${must} is loaded`);
    }
  });

  test('ETag revalidation: If-None-Match gets a 304 without a body', async () => {
    const first = await api(srv.url, 'GET', '/assets/app.js');
    const etag = first.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    assert.equal(first.headers.get('cache-control'), 'no-cache');
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, '*']) {
      const again = await api(srv.url, 'GET', '/assets/app.js', { headers: { 'if-none-match': inm } });
      assert.equal(again.status, 304, inm);
      assert.equal(again.text, '');
      assert.equal(again.headers.get('etag'), etag);
    }
    const other = await api(srv.url, 'GET', '/assets/app.js', { headers: { 'if-none-match': '"0000"' } });
    assert.equal(other.status, 200);
    assert.equal(other.text, first.text);
    // Each asset has its own tag.
    const css = await api(srv.url, 'GET', '/assets/style.css');
    assert.notEqual(css.headers.get('etag'), etag);
    const idx = await api(srv.url, 'GET', '/', { headers: { 'if-none-match': (await api(srv.url, 'GET', '/')).headers.get('etag') } });
    assert.equal(idx.status, 304);
  });

  test('HEAD answers like GET, without the body', async () => {
    const r = await fetch(`${srv.url}/assets/style.css`, { method: 'HEAD' });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/css/);
    assert.equal(await r.text(), '');
  });

  test('unknown assets and other methods are clean JSON errors', async () => {
    const r = await api(srv.url, 'GET', '/assets/nope.js');
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'not_found');
    const p = await api(srv.url, 'POST', '/assets/app.js', { body: {} });
    assert.equal(p.status, 405);
    const d = await api(srv.url, 'DELETE', '/');
    assert.equal(d.status, 405);
  });

  test('API replies keep Cache-Control: no-store', async () => {
    const r = await api(srv.url, 'GET', '/api/v1/health');
    assert.equal(r.headers.get('cache-control'), 'no-store');
  });
});

describe('path traversal never reaches the filesystem', () => {
  const attempts = [
    '/assets/../vectoraiz.db',
    '/assets/../x',
    '/assets/%2e%2e/x',
    '/assets/%2E%2E/vectoraiz.db',
    '/assets/..%2fx',
    '/assets/..%2Fvectoraiz.db',
    '/assets/%2e%2e%2fx',
    '/assets/.%2e/x',
    '/assets/..%5cx',
    '/assets/..\\x',
    '/assets/%252e%252e%252fx',
    '/assets/..',
    '/assets/.',
    '/assets/',
    '/assets//x',
    '/assets/x',
    '/assets/app.js/../../x',
    '/assets/%2fetc%2fpasswd',
    '/assets//etc/passwd',
    '/../x',
    '/%2e%2e/x',
    '/secret.key',
    '/vectoraiz.db',
  ];
  for (const path of attempts) {
    test(`GET ${path} -> 404`, async () => {
      const r = await rawGet(path);
      assert.equal(r.status, 404, `${path}: ${r.head.split('\r\n')[0]}`);
      assert.doesNotMatch(r.body, /SECRET-FILE-CONTENT|SQLite format|root:/);
    });
  }
});

test('a NUL byte ends the name: /assets/app.js%00.txt is app.js and nothing else', async () => {
  // libmicrohttpd decodes %00 into the path, which ends the C string there;
  // the lookup is still an exact table match, so it can only be app.js.
  const r = await rawGet('/assets/app.js%00.txt');
  const app = await api(srv.url, 'GET', '/assets/app.js');
  assert.equal(r.status, 200);
  assert.equal(r.body, Buffer.from(app.text, 'utf8').toString('latin1'));
  assert.match(r.head, /content-type: text\/javascript/i);
});

describe('GET /api/v1/system', () => {
  test('needs authentication', async () => {
    const r = await api(srv.url, 'GET', '/api/v1/system');
    assert.equal(r.status, 401);
  });

  test('says whether vectoraiz runs in a container, as this machine shows it', async () => {
    const r = await api(srv.url, 'GET', '/api/v1/system', { token: srv.token });
    assert.equal(r.status, 200, r.text);
    const health = (await api(srv.url, 'GET', '/api/v1/health')).json;
    assert.equal(r.json.version, health.version);
    let cgroup = '';
    try { cgroup = readFileSync('/proc/1/cgroup', 'utf8'); } catch { /* not Linux-like */ }
    const expected = existsSync('/.dockerenv') || existsSync('/run/.containerenv')
      || /kubepods|docker|containerd|libpod|lxc/.test(cgroup);
    assert.equal(r.json.in_container, expected);
    if (expected) assert.equal(typeof r.json.container_hint, 'string');
    else assert.equal(r.json.container_hint, null);
  });
});
