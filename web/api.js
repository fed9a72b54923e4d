// The REST API under /api/v1/, over the cookie session. Every non-GET sends
// the session's CSRF token. Errors become ApiError with the server's code and
// message ({"error":{"code","message"}}), or code "network" when the server
// cannot be reached.

let csrf = null;
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export function setCsrf(token) { csrf = token || null; }
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function api(method, path, body, { signal, quiet401 = false } = {}) {
  const headers = { accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', signal };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  let res;
  try {
    res = await fetch(`/api/v1${path}`, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'Cannot reach the vectoraiz server. Is it still running?');
  }
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (res.ok) return data;
  const err = data && data.error ? data.error : {};
  const e = new ApiError(res.status, err.code || `http_${res.status}`,
    err.message || `The server answered ${res.status} ${res.statusText}`.trim(), data);
  if (res.status === 401 && !quiet401) onUnauthorized(e);
  throw e;
}

export const get = (path, opts) => api('GET', path, undefined, opts);
export const post = (path, body, opts) => api('POST', path, body === undefined ? {} : body, opts);
export const put = (path, body, opts) => api('PUT', path, body, opts);
export const del = (path, opts) => api('DELETE', path, undefined, opts);
