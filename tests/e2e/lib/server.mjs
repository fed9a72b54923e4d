// Start the real vectoraiz binary on a free loopback port with a fresh data
// directory, and stop it again. Shared by every end-to-end test.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN = process.env.VZ_BIN || join(repo, 'vectoraiz');

export async function startServer({ env = {}, args = [], dataDir } = {}) {
  const dir = dataDir || mkdtempSync(join(tmpdir(), 'vz-e2e-'));
  const child = spawn(BIN, ['--data-dir', dir, '--listen', '127.0.0.1:0', ...args, 'serve'], {
    env: { ...process.env, VECTORAIZ_LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stderr}`)), 10000);
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on (http:\/\/[^ ]+?)\/? /.exec(stderr);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${stderr}`));
    });
  });
  // The admin token is printed once on stdout on first start, before the
  // server listens; the two pipes may be read in either order.
  const tokenRe = /admin token[^:]*: (vzt_[0-9a-f]+)/;
  for (let i = 0; i < 10 && !dataDir && !tokenRe.test(stdout); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const tokenMatch = tokenRe.exec(stdout);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    url,
    dir,
    token: tokenMatch ? tokenMatch[1] : null,
    child,
    exited,
    get stderr() { return stderr; },
    get stdout() { return stdout; },
    // SIGTERM, wait for the exit; returns {code, signal, ms}.
    async stop({ keepDir = false } = {}) {
      const t0 = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const r = await exited;
      clearTimeout(killer);
      if (!keepDir && !dataDir) rmSync(dir, { recursive: true, force: true });
      return { ...r, ms: Date.now() - t0 };
    },
  };
}

// fetch + JSON body (or null), never throwing on HTTP errors.
export async function api(base, method, path, { body, headers = {}, raw, token } = {}) {
  const init = { method, headers: { ...headers } };
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (raw !== undefined) init.body = raw;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, json, text };
}
