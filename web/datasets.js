// Datasets tab: one card per dataset with its phase, live progress (polled),
// warnings, Cancel / Re-extract / Download / Delete, and a preview of the
// first rows once it is ready.
import { get, post, del } from './api.js';
import { state, loadConnections } from './state.js';
import {
  h, clear, loading, empty, errorBox, toast, confirmDialog, fmtInt, fmtBytes, fmtAgo, plural,
} from './ui.js';

const ACTIVE = new Set(['queued', 'extracting', 'processing', 'chunking', 'embedding', 'indexing']);
const STEPS = [
  ['extracting', 'Extract'], ['processing', 'Process'], ['embedding', 'Embed'], ['ready', 'Ready'],
];
const STEP_OF = { queued: 0, extracting: 0, processing: 1, chunking: 1, embedding: 2, indexing: 2, ready: 4 };
const FAST_MS = 500;
const SLOW_MS = 5000;
const PREVIEW_ROWS = 5;

export const isActive = (d) => ACTIVE.has(d.status);

// The sidebar badge: how many datasets are being worked on. Polled slowly
// from anywhere in the app, and on every refresh of the Datasets tab.
export function setActiveBadge(n) {
  const b = document.getElementById('active-badge');
  if (!b) return;
  b.hidden = !n;
  b.textContent = n ? String(n) : '';
  b.setAttribute('aria-label', n ? `${n} in progress` : '');
}

export function mount(main) {
  const grid = h('div.cards', { 'aria-live': 'off' });
  const slot = h('div', loading('Loading datasets…'));
  main.append(
    h('header.page-header',
      h('div',
        h('h1', 'Datasets'),
        h('p.muted', 'Each extracted table or query is one dataset: extracting → processing → embedding → ready.')),
      h('a.btn', { href: '#/database' }, '+ Extract more')),
    slot);
  const cards = new Map();
  let alive = true;
  let timer = null;
  let failures = 0;

  const tick = async () => {
    timer = null;
    let list;
    try {
      [list] = await Promise.all([get('/datasets'), state.connections ? null : loadConnections().catch(() => null)]);
      list = list.datasets || [];
      failures = 0;
    } catch (e) {
      if (!alive) return;
      failures++;
      if (!cards.size) clear(slot).append(errorBox(e, () => { clear(slot).append(loading('Loading datasets…')); tick(); }));
      else toast(`Live updates paused: ${e.message}`, 'error');
      if (failures < 5) timer = setTimeout(tick, SLOW_MS);
      return;
    }
    if (!alive) return;
    list.sort((a, b) => (b.created_at || '').localeCompare(a.created_at || ''));
    // Progress lives on the job; only active datasets need it.
    const jobs = await Promise.all(list.map((d) => (isActive(d) && d.last_job_id
      ? get(`/jobs/${d.last_job_id}`).catch(() => null) : null)));
    if (!alive) return;
    if (!list.length) {
      cards.clear();
      clear(slot).append(empty('No datasets yet', 'Pick tables in the Database tab and extract them; each becomes a dataset here.',
        h('a.btn.btn-primary', { href: '#/database' }, 'Go to Database')));
    } else {
      if (!slot.contains(grid)) clear(slot).append(grid);
      const seen = new Set();
      list.forEach((d, i) => {
        seen.add(d.id);
        let c = cards.get(d.id);
        if (!c) {
          c = new Card(refreshSoon);
          cards.set(d.id, c);
        }
        c.update(d, jobs[i]);
        if (grid.children[i] !== c.el) grid.insertBefore(c.el, grid.children[i] || null);
      });
      for (const [id, c] of cards) if (!seen.has(id)) { c.el.remove(); cards.delete(id); }
    }
    const active = list.filter(isActive).length;
    setActiveBadge(active);
    timer = setTimeout(tick, active ? FAST_MS : SLOW_MS);
  };
  const refreshSoon = () => {
    if (!alive) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, 100);
  };
  tick();
  return () => { alive = false; if (timer) clearTimeout(timer); };
}

class Card {
  constructor(refresh) {
    this.refresh = refresh;
    this.title = h('h3.card-title');
    this.status = h('span.badge');
    this.source = h('p.card-sub.small.muted');
    this.steps = h('ol.steps', STEPS.map(([, label]) => h('li', label)));
    this.bar = h('progress.bar', { max: '100' });
    this.progressText = h('p.progress-text.small');
    this.progress = h('div.progress', this.bar, this.progressText);
    this.message = h('p.card-msg', { hidden: true });
    this.warnings = h('details.warnings', { hidden: true });
    this.cancelBtn = h('button.btn.btn-small', { type: 'button', hidden: true }, 'Cancel');
    this.reBtn = h('button.btn.btn-small', { type: 'button', hidden: true }, 'Re-extract');
    this.download = h('a.btn.btn-small', { hidden: true, download: '' }, 'Download Parquet');
    this.delBtn = h('button.btn.btn-small.btn-danger-ghost', { type: 'button', hidden: true }, 'Delete');
    this.preview = h('div.preview', { hidden: true });
    this.el = h('article.card.dataset-card',
      h('header.card-head', this.title, this.status),
      this.source, this.steps, this.progress, this.message, this.warnings,
      h('div.btn-row.card-actions', this.cancelBtn, this.reBtn, this.download, this.delBtn),
      this.preview);
    this.cancelBtn.addEventListener('click', () => this.cancel());
    this.reBtn.addEventListener('click', () => this.reextract());
    this.delBtn.addEventListener('click', () => this.remove());
    this.d = null;
    this.previewKey = null;
    this.cancelling = false;
  }

  update(d, job) {
    const key = JSON.stringify([d, job, state.connections && state.connections.length]);
    if (key === this.key) return;
    this.key = key;
    this.d = d;
    this.job = job;
    const active = isActive(d);
    if (!active) this.cancelling = false;
    this.el.dataset.id = d.id;
    this.el.dataset.status = d.status;
    this.el.setAttribute('aria-label', `Dataset ${d.name}, ${d.status}`);
    this.title.textContent = d.name;
    this.status.className = `badge badge-status badge-${d.status}`;
    this.status.textContent = this.cancelling ? 'cancelling…' : d.status;

    const conn = (state.connections || []).find((c) => c.id === d.source_connection_id);
    const from = d.orphaned || !d.source_connection_id ? 'connection deleted' : (conn ? conn.name : 'connection');
    const what = d.source_table === 'custom_query' ? 'custom query' : d.source_table;
    this.source.textContent = [from, what && what !== d.name ? what : null, `updated ${fmtAgo(d.updated_at)}`]
      .filter(Boolean).join(' · ');

    // Steps: done up to the current one; failed/cancelled mark where it stopped.
    const at = STEP_OF[d.status] ?? (job && STEP_OF[job.phase]) ?? 0;
    [...this.steps.children].forEach((li, i) => {
      li.className = i < at ? 'done' : i === at && active ? 'current' : (i === at && !active && d.status !== 'ready' ? 'stopped' : '');
      if (i === at && active) li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
    });

    // Progress: live numbers from the job while active, totals after.
    this.progress.hidden = false;
    if (active && job) {
      const total = job.rows_total;
      if (total && total > 0) {
        this.bar.max = total;
        this.bar.value = Math.min(job.rows_done, total);
      } else {
        this.bar.removeAttribute('value');
      }
      this.bar.hidden = false;
      this.progressText.textContent = [
        total ? `${fmtInt(job.rows_done)} of ~${fmtInt(total)} rows` : `${fmtInt(job.rows_done)} rows`,
        job.rate ? `${fmtInt(Math.round(job.rate))} rows/s` : null,
        job.bytes ? fmtBytes(job.bytes) : null,
        job.state === 'queued' ? 'waiting for a worker' : null,
      ].filter(Boolean).join(' · ');
      this.bar.setAttribute('aria-label', `Progress of ${d.name}`);
    } else if (active) {
      this.bar.hidden = false;
      this.bar.removeAttribute('value');
      this.progressText.textContent = d.status === 'queued' ? 'Queued' : 'Working…';
    } else if (d.row_count !== null && d.row_count !== undefined) {
      this.bar.hidden = true;
      this.progressText.textContent = [
        plural(d.row_count, 'row'), fmtBytes(d.byte_size),
        d.extract_seconds !== null && d.extract_seconds !== undefined ? `extracted in ${d.extract_seconds.toFixed(1)} s` : null,
      ].filter(Boolean).join(' · ');
    } else {
      this.progress.hidden = true;
    }

    const msg = d.error_message || (job && job.error);
    this.message.hidden = !msg;
    this.message.className = `card-msg ${d.status === 'failed' ? 'inline-error' : 'note'}`;
    this.message.textContent = msg || '';

    const w = d.warnings || [];
    this.warnings.hidden = !w.length;
    if (w.length) {
      const open = this.warnings.open;
      this.warnings.replaceChildren(h('summary', plural(w.length, 'warning')), h('ul', w.map((x) => h('li', x))));
      this.warnings.open = open;
    }

    const jobId = d.last_job_id;
    this.cancelBtn.hidden = !active || !jobId;
    this.cancelBtn.disabled = this.cancelling;
    this.reBtn.hidden = active || !d.source_connection_id || d.orphaned;
    this.delBtn.hidden = active;
    const hasFile = d.row_count !== null && d.row_count !== undefined && !active;
    this.download.hidden = !hasFile;
    this.download.href = `/api/v1/datasets/${d.id}/download`;
    this.download.setAttribute('aria-label', `Download ${d.name} as Parquet`);
    this.cancelBtn.setAttribute('aria-label', `Cancel extraction of ${d.name}`);
    this.reBtn.setAttribute('aria-label', `Re-extract ${d.name}`);
    this.delBtn.setAttribute('aria-label', `Delete ${d.name}`);

    if (d.status === 'ready' && hasFile) this.loadPreview(`${d.id}|${d.updated_at}`);
    else { this.preview.hidden = true; this.previewKey = null; }
  }

  async loadPreview(key, limit = PREVIEW_ROWS) {
    if (this.previewKey === key && limit === this.previewLimit) return;
    this.previewKey = key;
    this.previewLimit = limit;
    this.preview.hidden = false;
    clear(this.preview).append(loading('Loading the first rows…'));
    try {
      const r = await get(`/datasets/${this.d.id}/rows?limit=${limit}`);
      if (this.previewKey !== key) return;
      clear(this.preview).append(previewTable(this.d.name, r));
      if (r.total > r.rows.length && limit < 50) {
        this.preview.append(h('button.btn.btn-small.btn-ghost', { type: 'button', onclick: () => this.loadPreview(key, 50) }, 'Show more rows'));
      }
    } catch (e) {
      if (this.previewKey !== key) return;
      clear(this.preview).append(h('p.small.inline-error', `Preview unavailable: ${e.message}`));
    }
  }

  async cancel() {
    const job = this.d.last_job_id;
    this.cancelling = true;
    this.cancelBtn.disabled = true;
    this.status.textContent = 'cancelling…';
    try {
      await post(`/jobs/${job}/cancel`);
      toast(`Cancelling “${this.d.name}”`, 'info');
    } catch (e) {
      this.cancelling = false;
      this.cancelBtn.disabled = false;
      toast(e.message, 'error');
    }
    this.key = null;
    this.refresh();
  }

  async reextract() {
    const d = this.d;
    const ok = await confirmDialog({
      title: `Re-extract “${d.name}”?`,
      body: 'The data is read again from the source. The current version stays in place until the new one is complete.',
      confirm: 'Re-extract',
    });
    if (!ok) return;
    const o = d.options || {};
    let body;
    if (o.custom_sql) {
      body = { custom_sql: o.custom_sql, dataset_name: o.dataset_name || d.name };
      if (o.row_limit) body.row_limit = o.row_limit;
    } else {
      const t = { ...o };
      if (!t.table) {
        const dot = (d.source_table || '').indexOf('.');
        t.schema = d.source_table.slice(0, dot);
        t.table = d.source_table.slice(dot + 1);
      }
      body = { tables: [t] };
    }
    try {
      await post(`/db/connections/${d.source_connection_id}/extract`, body);
      toast(`Re-extracting “${d.name}”`, 'success');
    } catch (e) {
      toast(e.message, 'error');
    }
    this.key = null;
    this.refresh();
  }

  async remove() {
    const d = this.d;
    const ok = await confirmDialog({
      title: `Delete dataset “${d.name}”?`,
      body: 'Its Parquet file is removed from this machine. The source database is not touched.',
      confirm: 'Delete dataset', danger: true,
    });
    if (!ok) return;
    try {
      await del(`/datasets/${d.id}`);
      toast(`Dataset “${d.name}” deleted`, 'success');
      this.el.remove();
    } catch (e) {
      toast(e.message, 'error');
    }
    this.refresh();
  }
}

function cellText(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function previewTable(name, r) {
  const cols = r.columns || [];
  return h('div',
    h('p.small.muted', `First ${Math.min(r.rows.length, r.total ?? r.rows.length)} of ${fmtInt(r.total)} rows`),
    h('div.table-scroll.preview-scroll', { tabindex: '0', role: 'region', 'aria-label': `First rows of ${name}` },
      h('table.preview-table',
        h('thead', h('tr', cols.map((c) => h('th', { scope: 'col', title: c.type }, c.name)))),
        h('tbody', r.rows.map((row) => h('tr', row.map((v) => {
          const t = cellText(v);
          return t === null ? h('td.null', 'NULL') : h('td', { title: t.length > 40 ? t : null }, t);
        })))))));
}

// Slow background poll for the sidebar badge while another tab is shown.
export function startBadgePoll() {
  let stopped = false;
  const run = async () => {
    if (stopped) return;
    if (!location.hash.startsWith('#/datasets')) {
      try {
        const r = await get('/datasets');
        setActiveBadge((r.datasets || []).filter(isActive).length);
      } catch { /* shown when the tab is opened */ }
    }
    setTimeout(run, SLOW_MS);
  };
  run();
  return () => { stopped = true; };
}
