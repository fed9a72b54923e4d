// Entry point: session check, login, the sidebar and a hash router that
// mounts one view at a time into <main>.
import { api, post, setCsrf, setUnauthorizedHandler } from './api.js';
import { state, loadSystem } from './state.js';
import { toast } from './ui.js';
import * as database from './connections.js';
import * as datasets from './datasets.js';
import * as search from './search.js';

const $ = (id) => document.getElementById(id);
let unmount = null;
let stopBadge = null;

const routes = [
  [/^#\/database\/new$/, (m) => database.mountForm(m, null)],
  [/^#\/database\/([0-9a-f-]{36})\/edit$/, (m, p) => database.mountForm(m, p[1])],
  [/^#\/database\/([0-9a-f-]{36})$/, (m, p) => database.mount(m, p[1])],
  [/^#\/database$/, (m) => database.mount(m, null)],
  [/^#\/datasets$/, (m) => datasets.mount(m)],
  [/^#\/search$/, (m) => search.mount(m)],
];

function route() {
  const hash = location.hash || '#/database';
  const main = $('main');
  let hit = routes.find(([re]) => re.test(hash));
  if (!hit) {
    location.replace('#/database');
    return;
  }
  if (unmount) { try { unmount(); } catch { /* view already gone */ } }
  unmount = null;
  main.replaceChildren();
  const tab = hash.split('/')[1];
  for (const a of document.querySelectorAll('.nav-link')) {
    if (a.dataset.tab === tab) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${tab[0].toUpperCase()}${tab.slice(1)} · vectoraiz`;
  const r = hit[1](main, hit[0].exec(hash));
  unmount = typeof r === 'function' ? r : null;
}

function showLogin(message) {
  if (unmount) { try { unmount(); } catch { /* ignore */ } unmount = null; }
  if (stopBadge) { stopBadge(); stopBadge = null; }
  setCsrf(null);
  $('boot').hidden = true;
  $('shell').hidden = true;
  $('login').hidden = false;
  const err = $('login-error');
  err.hidden = !message;
  err.textContent = message || '';
  $('login-token').value = '';
  $('login-token').focus();
}

async function showApp(csrf) {
  setCsrf(csrf);
  $('boot').hidden = true;
  $('login').hidden = true;
  $('shell').hidden = false;
  const sys = await loadSystem();
  $('version').textContent = sys.version ? `v${sys.version}` : '';
  if (!stopBadge) stopBadge = datasets.startBadgePoll();
  route();
}

async function onLogin(e) {
  e.preventDefault();
  const input = $('login-token');
  const err = $('login-error');
  const btn = e.target.querySelector('button[type=submit]');
  const token = input.value.trim();
  if (!token) {
    err.textContent = 'Enter the admin token.';
    err.hidden = false;
    input.focus();
    return;
  }
  btn.disabled = true;
  btn.textContent = 'Logging in…';
  try {
    const r = await api('POST', '/auth/login', { token }, { quiet401: true });
    input.value = '';
    await showApp(r.csrf_token);
  } catch (ex) {
    err.textContent = ex.status === 401 ? 'That token is not right. Check for missing characters.' : ex.message;
    err.hidden = false;
    input.select();
  } finally {
    btn.disabled = false;
    btn.textContent = 'Log in';
  }
}

async function onLogout() {
  try { await post('/auth/logout'); } catch { /* the session is gone either way */ }
  state.system = null;
  state.connections = null;
  showLogin('');
  $('login-error').hidden = true;
}

async function start() {
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', onLogout);
  window.addEventListener('hashchange', () => { if (!$('shell').hidden) route(); });
  setUnauthorizedHandler(() => {
    if (!$('shell').hidden) showLogin('Your session ended. Log in again.');
  });
  try {
    const s = await api('GET', '/auth/session');
    if (s && s.authenticated) await showApp(s.csrf_token);
    else showLogin('');
  } catch (e) {
    $('boot').textContent = `Cannot reach the vectoraiz server: ${e.message}`;
    toast(e.message, 'error');
  }
}

start();
