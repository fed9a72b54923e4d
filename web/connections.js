// Database tab: the connections list, one connection's page (test, edit,
// delete, schema browser) and the connection form.
import { get, post, put, del } from './api.js';
import { state, loadConnections, loadSystem, navigate } from './state.js';
import {
  h, append, clear, loading, empty, errorBox, badge, toast, confirmDialog, copyButton, field, fmtAgo,
  fmtInt, nextId,
} from './ui.js';
import { mountSchema } from './schema.js';

const TYPES = {
  postgresql: {
    label: 'PostgreSQL', port: 5432, ssl: ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'],
    sslDefault: 'prefer',
  },
  mysql: {
    label: 'MySQL / MariaDB', port: 3306, ssl: ['disable', 'preferred', 'required', 'verify_ca', 'verify_identity'],
    sslDefault: 'preferred',
  },
};
// The same intent in the other database's words, for the type switch.
const SSL_EQUIV = {
  prefer: 'preferred', preferred: 'prefer', require: 'required', required: 'require', allow: 'preferred',
  'verify-ca': 'verify_ca', verify_ca: 'verify-ca', 'verify-full': 'verify_identity', verify_identity: 'verify-full',
  disable: 'disable',
};
const STATUS_TEXT = { configured: 'not tested yet', connected: 'connected', error: 'error' };
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '[::1]', '0.0.0.0']);

const capitalize = (s) => s.charAt(0).toUpperCase() + s.slice(1);
const typeLabel = (t) => (TYPES[t] ? TYPES[t].label : t);

function statusDot(status) {
  const s = STATUS_TEXT[status] ? status : 'configured';
  return h('span.status', h(`span.dot.dot-${s}`, { 'aria-hidden': 'true' }), h('span.status-text', STATUS_TEXT[s]));
}

function pageHeader() {
  return h('header.page-header',
    h('div',
      h('h1', 'Database'),
      h('p.muted', 'Connect read-only to PostgreSQL or MySQL, pick tables, extract them to datasets.')),
    h('a.btn.btn-primary', { href: '#/database/new' }, '+ New connection'));
}

function connList(list, currentId) {
  if (!list.length) {
    return empty('No connections yet', 'Add one to browse its schema and extract tables.',
      h('a.btn.btn-primary', { href: '#/database/new' }, 'Add a connection'));
  }
  return h('ul.conn-list', list.map((c) => h('li',
    h('a.conn-item', { href: `#/database/${c.id}`, 'aria-current': c.id === currentId ? 'true' : null, dataset: { id: c.id } },
      h('span.conn-line', h('strong.conn-name', c.name), statusDot(c.status)),
      h('span.conn-sub', `${typeLabel(c.db_type)} · ${c.host}:${c.port}/${c.database}`),
      h('span.conn-meta.small.muted',
        c.last_connected_at ? `connected ${fmtAgo(c.last_connected_at)}` : 'never connected',
        c.table_count !== null && c.table_count !== undefined ? ` · ${fmtInt(c.table_count)} tables` : '')))));
}

// ---- the connection page ----

export function mount(main, id) {
  const listBox = h('section.conn-list-box', { 'aria-label': 'Connections' }, loading('Loading connections…'));
  const detail = h('section.conn-detail', { 'aria-live': 'polite' });
  const layout = h('div.db-layout', listBox, detail);
  main.append(pageHeader(), layout);
  let alive = true;
  let cleanupSchema = null;

  const load = async () => {
    clear(listBox).append(loading('Loading connections…'));
    let list;
    try {
      list = await loadConnections();
    } catch (e) {
      if (!alive) return;
      clear(listBox).append(errorBox(e, load));
      return;
    }
    if (!alive) return;
    clear(listBox).append(h('h2.section-title', 'Connections'), connList(list, id));
    clear(detail);
    detail.hidden = !list.length && !id;
    layout.classList.toggle('db-layout-empty', detail.hidden);
    if (!id) {
      if (list.length) detail.append(empty('Pick a connection', 'Choose one on the left to test it and browse its tables.'));
      return;
    }
    const c = list.find((x) => x.id === id);
    if (!c) {
      detail.append(empty('No such connection', 'It may have been deleted.', h('a.btn', { href: '#/database' }, 'Back to connections')));
      return;
    }
    cleanupSchema = renderDetail(detail, c, load);
  };
  load();
  return () => { alive = false; if (cleanupSchema) cleanupSchema(); };
}

function renderDetail(box, c, reload) {
  const result = h('div.test-slot', { 'aria-live': 'polite' });
  const testBtn = h('button.btn.btn-primary', { type: 'button' }, 'Test connection');
  testBtn.addEventListener('click', async () => {
    await runTest(c.id, testBtn, result);
    try {
      const list = await loadConnections();
      const fresh = list.find((x) => x.id === c.id);
      const item = document.querySelector(`.conn-item[data-id="${c.id}"] .status`);
      if (fresh && item) item.replaceWith(statusDot(fresh.status));
      const head = box.querySelector('.detail-status');
      if (fresh && head) head.replaceChildren(statusDot(fresh.status));
    } catch { /* the list refreshes on the next visit */ }
  });
  const delBtn = h('button.btn.btn-danger-ghost', { type: 'button' }, 'Delete');
  delBtn.addEventListener('click', async () => {
    const ok = await confirmDialog({
      title: `Delete connection “${c.name}”?`,
      body: 'Its encrypted credentials are removed. Datasets already extracted from it stay, marked as orphaned.',
      confirm: 'Delete connection', danger: true,
    });
    if (!ok) return;
    try {
      await del(`/db/connections/${c.id}`);
      toast(`Connection “${c.name}” deleted`, 'success');
      navigate('#/database');
    } catch (e) {
      toast(e.message, 'error');
    }
  });

  const schemaBox = h('div.schema-slot');
  append(box, [
    h('div.detail-head',
      h('div',
        h('h2.detail-title', c.name, ' ', badge(typeLabel(c.db_type))),
        h('p.muted.detail-sub', `${c.username}@${c.host}:${c.port}/${c.database} · SSL ${c.ssl_mode}`),
        h('div.detail-status', statusDot(c.status))),
      h('div.btn-row', testBtn, h('a.btn', { href: `#/database/${c.id}/edit` }, 'Edit'), delBtn)),
    c.status === 'error' && c.error_message
      ? h('p.inline-error', { role: 'alert' }, `Last error: ${c.error_message}`) : null,
    result,
    schemaBox]);
  void reload;
  return mountSchema(schemaBox, c);
}

// POST …/test and show what came back in slot.
export async function runTest(id, btn, slot) {
  const label = btn.textContent;
  btn.disabled = true;
  btn.textContent = 'Testing…';
  clear(slot).append(loading('Connecting (gives up after 10 s)…'));
  try {
    const r = await post(`/db/connections/${id}/test`);
    clear(slot).append(testResult(id, r));
    return r;
  } catch (e) {
    clear(slot).append(h('div.test-result.test-fail', { role: 'alert' },
      h('strong', '✗ Test failed'), h('span', e.message)));
    return null;
  } finally {
    btn.disabled = false;
    btn.textContent = label;
  }
}

function testResult(id, r) {
  if (!r.ok) {
    return h('div.test-result.test-fail', { role: 'alert' },
      h('strong', '✗ Could not connect'), h('span.test-msg', r.error || 'unknown error'));
  }
  const box = h('div.test-result.test-ok',
    h('strong', '✓ Connected'),
    h('span', ` in ${fmtInt(r.latency_ms)} ms`),
    r.server_version ? h('span.muted', ` · ${r.server_version}`) : null);
  if (!r.can_write) return box;
  const rolePanel = h('div.role-sql', { hidden: true, id: nextId('role') });
  const showBtn = h('button.btn.btn-small', { type: 'button', 'aria-expanded': 'false', 'aria-controls': rolePanel.id },
    'Show read-only role SQL');
  showBtn.addEventListener('click', async () => {
    const open = rolePanel.hidden;
    rolePanel.hidden = !open;
    showBtn.setAttribute('aria-expanded', String(open));
    showBtn.textContent = open ? 'Hide read-only role SQL' : 'Show read-only role SQL';
    if (!open || rolePanel.dataset.loaded) return;
    clear(rolePanel).append(loading('Loading…'));
    try {
      const s = await get(`/db/connections/${id}/readonly-role`);
      rolePanel.dataset.loaded = '1';
      const pre = h('pre.code-block', { tabindex: '0', 'aria-label': 'Read-only role SQL' }, s.sql);
      clear(rolePanel).append(
        h('div.role-head', h('strong', 'Create a SELECT-only role'), copyButton(() => s.sql, 'Copy SQL')),
        pre, s.notes ? h('p.small.muted', s.notes) : null);
    } catch (e) {
      clear(rolePanel).append(errorBox(e));
    }
  });
  return h('div', box,
    h('div.warning-box', { role: 'note' },
      h('p', h('strong', '⚠ '), capitalize(r.warning || 'this user can write; vectoraiz only reads, but a SELECT-only role is the real safety boundary.')),
      showBtn, rolePanel));
}

// ---- the form ----

export function mountForm(main, id) {
  const box = h('section.form-page', loading(id ? 'Loading connection…' : 'Loading…'));
  main.append(pageHeader(), box);
  let alive = true;
  (async () => {
    try {
      const [sys, conn] = await Promise.all([loadSystem(), id ? get(`/db/connections/${id}`) : null]);
      if (!alive) return;
      clear(box).append(buildForm(conn, sys));
    } catch (e) {
      if (alive) clear(box).append(errorBox(e, () => navigate(location.hash)));
    }
  })();
  return () => { alive = false; };
}

function buildForm(existing, sys) {
  let conn = existing; // set after the first save of a new connection
  const f = {};
  const title = h('h2', existing ? `Edit “${existing.name}”` : 'New connection');

  f.name = h('input', { name: 'name', required: true, autocomplete: 'off', value: existing ? existing.name : '' });
  f.type = h('select', { name: 'db_type' },
    Object.entries(TYPES).map(([k, t]) => h('option', { value: k }, t.label)));
  f.type.value = existing ? existing.db_type : 'postgresql';
  f.host = h('input', { name: 'host', required: true, autocomplete: 'off', spellcheck: 'false', value: existing ? existing.host : '', placeholder: 'db.example.lan' });
  f.port = h('input', { name: 'port', type: 'number', min: '1', max: '65535', inputmode: 'numeric', value: existing ? existing.port : TYPES.postgresql.port });
  f.database = h('input', { name: 'database', required: true, autocomplete: 'off', spellcheck: 'false', value: existing ? existing.database : '' });
  f.username = h('input', { name: 'username', required: true, autocomplete: 'off', spellcheck: 'false', value: existing ? existing.username : '' });
  // Never pre-filled: the server only ever returns "****".
  f.password = h('input', {
    name: 'password', type: 'password', autocomplete: 'new-password',
    placeholder: existing ? 'Leave empty to keep the stored password' : '',
  });
  f.ssl = h('select', { name: 'ssl_mode' });
  f.extra = h('textarea.mono', { name: 'extra_options', rows: '4', spellcheck: 'false', placeholder: '{"sslrootcert": "/path/ca.pem"}' });
  if (existing && existing.extra_options) f.extra.value = JSON.stringify(existing.extra_options, null, 2);

  const fillSsl = (type, want) => {
    const t = TYPES[type];
    clear(f.ssl).append(...t.ssl.map((m) => h('option', { value: m }, m + (m === t.sslDefault ? ' (default)' : ''))));
    f.ssl.value = t.ssl.includes(want) ? want : (t.ssl.includes(SSL_EQUIV[want]) ? SSL_EQUIV[want] : t.sslDefault);
  };
  fillSsl(f.type.value, existing ? existing.ssl_mode : null);
  let lastType = f.type.value;
  f.type.addEventListener('change', () => {
    const prev = TYPES[lastType];
    const next = TYPES[f.type.value];
    // Switching type moves the port along unless the user typed their own.
    if (!f.port.value || Number(f.port.value) === prev.port) f.port.value = next.port;
    fillSsl(f.type.value, f.ssl.value);
    lastType = f.type.value;
  });

  // M5: "localhost" inside a container is the container.
  const netHelp = h('div.net-help', { hidden: true, id: nextId('nethelp'), role: 'note' });
  const updateNetHelp = () => {
    const host = f.host.value.trim().toLowerCase();
    const show = !!(sys && sys.in_container) && LOCAL_HOSTS.has(host);
    netHelp.hidden = !show;
    if (show && !netHelp.childElementCount) netHelp.append(...networkHelp(sys, f.host, updateNetHelp));
  };
  f.host.addEventListener('input', updateNetHelp);

  const sslHint = 'Certificate paths go in the advanced options (PostgreSQL: sslrootcert, sslcert, sslkey; MySQL: ssl_ca, ssl_cert, ssl_key).';
  const advanced = h('details.advanced', existing && existing.extra_options ? { open: true } : {},
    h('summary', 'Advanced options'),
    field('Extra options (JSON object)', f.extra, { hint: sslHint }));

  const formError = h('div.form-error', { role: 'alert', hidden: true });
  const testSlot = h('div.test-slot', { 'aria-live': 'polite' });
  const saveBtn = h('button.btn.btn-primary', { type: 'submit', value: 'save' }, 'Save');
  const testBtn = h('button.btn', { type: 'submit', value: 'test' }, 'Save & test connection');
  const doneLink = h('a.btn.btn-ghost', { href: existing ? `#/database/${existing.id}` : '#/database' }, 'Cancel');

  const form = h('form.conn-form', { novalidate: true },
    title,
    h('div.form-grid',
      field('Name', f.name, { hint: 'How this connection is listed, e.g. “shop (read-only)”.' }),
      field('Type', f.type),
      h('div.field-host', field('Host', f.host, { extra: netHelp })),
      field('Port', f.port),
      field('Database', f.database),
      field('Username', f.username, { hint: 'Prefer a SELECT-only user; the test tells you if it can write.' }),
      field('Password', f.password, { hint: existing ? 'Stored encrypted. Type a new one only to change it.' : 'Stored encrypted; never shown again.' }),
      field('SSL mode', f.ssl)),
    advanced,
    formError,
    h('div.btn-row.form-actions', saveBtn, testBtn, doneLink),
    testSlot);
  updateNetHelp();

  const clearErrors = () => {
    formError.hidden = true;
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    for (const el of form.querySelectorAll('.field-error')) el.remove();
  };
  const fieldError = (el, msg) => {
    el.setAttribute('aria-invalid', 'true');
    const p = h('p.field-error', { id: `${el.id}-err` }, msg);
    el.closest('.field').append(p);
    el.setAttribute('aria-describedby', `${el.id}-err ${el.id}-hint`.trim());
  };

  const collect = () => {
    const body = {
      name: f.name.value.trim(), db_type: f.type.value, host: f.host.value.trim(),
      database: f.database.value.trim(), username: f.username.value.trim(), ssl_mode: f.ssl.value,
    };
    const errs = [];
    for (const k of ['name', 'host', 'database', 'username']) if (!body[k]) errs.push([f[k], 'Required.']);
    const port = Number(f.port.value);
    if (!Number.isInteger(port) || port < 1 || port > 65535) errs.push([f.port, 'A port from 1 to 65535.']);
    else body.port = port;
    if (f.password.value) body.password = f.password.value;
    else if (!conn) errs.push([f.password, 'Required.']);
    // An empty password on edit is simply left out: the server keeps the
    // stored one.
    const extra = f.extra.value.trim();
    if (extra) {
      try {
        const v = JSON.parse(extra);
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
        body.extra_options = v;
      } catch {
        errs.push([f.extra, 'Must be a JSON object, e.g. {"sslrootcert": "/etc/ssl/ca.pem"}.']);
        advanced.open = true;
      }
    } else if (conn && conn.extra_options) {
      body.extra_options = null; // cleared: the server drops the stored ones
    }
    return { body, errs };
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const action = e.submitter ? e.submitter.value : 'save';
    clearErrors();
    const { body, errs } = collect();
    if (errs.length) {
      for (const [el, msg] of errs) fieldError(el, msg);
      errs[0][0].focus();
      return;
    }
    saveBtn.disabled = true;
    testBtn.disabled = true;
    try {
      const saved = conn ? await put(`/db/connections/${conn.id}`, body) : await post('/db/connections', body);
      const created = !conn;
      conn = saved;
      f.password.value = '';
      f.password.placeholder = 'Leave empty to keep the stored password';
      const pwHint = document.getElementById(`${f.password.id}-hint`);
      if (pwHint) pwHint.textContent = 'Stored encrypted. Type a new one only to change it.';
      state.connections = null;
      if (action !== 'test') {
        toast(`Connection “${saved.name}” saved`, 'success');
        navigate(`#/database/${saved.id}`);
        return;
      }
      if (created) {
        // Stay on the form (now editing the saved connection) so a failed
        // test can be fixed in place.
        history.replaceState(null, '', `#/database/${saved.id}/edit`);
        title.textContent = `Edit “${saved.name}”`;
        doneLink.href = `#/database/${saved.id}`;
      }
      const r = await runTest(saved.id, testBtn, testSlot);
      doneLink.textContent = 'Done';
      if (r && r.ok) {
        testSlot.append(h('p', h('a.btn.btn-primary', { href: `#/database/${saved.id}` }, 'Browse tables →')));
      }
    } catch (ex) {
      const m = /field '(\w+)'/.exec(ex.message || '');
      const el = m && { name: f.name, db_type: f.type, host: f.host, port: f.port, database: f.database, username: f.username, password: f.password, ssl_mode: f.ssl, extra_options: f.extra }[m[1]];
      if (el) {
        fieldError(el, ex.message);
        el.focus();
      } else {
        formError.textContent = ex.message;
        formError.hidden = false;
      }
    } finally {
      saveBtn.disabled = false;
      testBtn.disabled = false;
    }
  });
  setTimeout(() => f.name.focus(), 0);
  return form;
}

function networkHelp(sys, hostInput, update) {
  const kind = sys.container_hint ? ` (${sys.container_hint})` : '';
  const use = h('button.btn.btn-small', { type: 'button' }, 'Use host.docker.internal');
  use.addEventListener('click', () => {
    hostInput.value = 'host.docker.internal';
    update();
    hostInput.focus();
  });
  return [
    h('p', h('strong', `vectoraiz runs in a container${kind}. `),
      'There, “localhost” is the container itself, not the machine your database runs on. Instead:'),
    h('ul',
      h('li', h('strong', 'Docker Desktop (Mac, Windows): '), 'use ', h('code', 'host.docker.internal'), '.'),
      h('li', h('strong', 'Linux: '), 'start vectoraiz with ', h('code', '--network host'), ' (then localhost works), or add ',
        h('code', 'extra_hosts: ["host.docker.internal:host-gateway"]'), ' to its compose service and use ', h('code', 'host.docker.internal'), '.'),
      h('li', h('strong', 'Same compose project: '), 'use the database’s service name, e.g. ', h('code', 'postgres'), '.'),
      h('li', h('strong', 'Database inside this same container: '), 'localhost is right.')),
    use,
  ];
}
