// The schema browser of one connection: schema picker, tables and views with
// their columns (source type, Parquet type, PK, skipped), checkboxes to pick
// tables and leave columns out, the extract confirmation (a dry run) and the
// Advanced custom-SQL extraction.
import { get, post } from './api.js';
import { state, picksFor, navigate } from './state.js';
import {
  h, clear, replace, loading, empty, errorBox, badge, toast, openDialog, field, fmtInt, fmtCompact,
  fmtBytes, nextId, plural,
} from './ui.js';
import { sqlEditor } from './sqleditor.js';

const BIG_TABLE = 1000000; // rows above which a row limit is suggested (spec §8)
const drafts = new Map();  // connId -> {sql, name, limit}: kept across tab switches

export function mountSchema(box, conn) {
  let alive = true;
  let data = null;   // last GET …/schema
  let picks = null;  // Map(table -> {selected, excluded:Set})

  const pickerId = nextId('schema');
  const picker = h('select', { id: pickerId, disabled: true }, h('option', 'loading…'));
  const filter = h('input', { type: 'search', id: nextId('filter'), placeholder: 'Filter tables', autocomplete: 'off' });
  const refresh = h('button.btn.btn-small.btn-ghost', { type: 'button', title: 'Read the schema again' }, '↻ Refresh');
  const listBox = h('div.table-list', loading('Reading the schema…'));
  const countEl = h('span.extract-count', 'No tables selected');
  const extractBtn = h('button.btn.btn-primary', { type: 'button', disabled: true }, 'Extract selected');
  const clearBtn = h('button.btn.btn-ghost.btn-small', { type: 'button', hidden: true }, 'Clear selection');
  const bar = h('div.extract-bar', countEl, h('div.btn-row', clearBtn, extractBtn));

  box.append(h('section.schema', { 'aria-labelledby': `${pickerId}-title` },
    h('div.schema-head',
      h('h3.section-title', { id: `${pickerId}-title` }, 'Tables'),
      h('nav.crumbs', { 'aria-label': 'Schema path' },
        h('span.crumb', conn.name), h('span.crumb-sep', { 'aria-hidden': 'true' }, '›'),
        h('label.visually-hidden', { for: pickerId }, 'Schema'), picker)),
    h('div.schema-tools',
      h('label.visually-hidden', { for: filter.id }, 'Filter tables by name'), filter, refresh),
    listBox, bar),
  customSql(conn));

  const selectedTables = () => (data ? data.tables.filter((t) => picks.get(t.name) && picks.get(t.name).selected) : []);
  const updateBar = () => {
    const sel = selectedTables();
    const excluded = sel.reduce((n, t) => n + picks.get(t.name).excluded.size, 0);
    countEl.textContent = sel.length
      ? `${plural(sel.length, 'table')} selected${excluded ? ` · ${plural(excluded, 'column')} left out` : ''}`
      : 'No tables selected';
    extractBtn.disabled = !sel.length;
    extractBtn.textContent = sel.length > 1 ? `Extract ${sel.length} tables` : 'Extract selected';
    clearBtn.hidden = !sel.length;
  };

  const renderTables = () => {
    clear(listBox);
    if (!data.tables.length) {
      listBox.append(empty('No tables or views in this schema', 'Pick another schema above, or check that this user may see its tables.'));
      return;
    }
    const q = filter.value.trim().toLowerCase();
    const shown = data.tables.filter((t) => !q || t.name.toLowerCase().includes(q));
    const all = h('input', { type: 'checkbox', id: nextId('all') });
    const setAll = () => {
      const n = shown.filter((t) => picks.get(t.name) && picks.get(t.name).selected).length;
      all.checked = shown.length > 0 && n === shown.length;
      all.indeterminate = n > 0 && n < shown.length;
    };
    all.addEventListener('change', () => {
      for (const t of shown) pick(t).selected = all.checked;
      for (const cb of listBox.querySelectorAll('.tbl-check')) cb.checked = all.checked;
      updateBar();
    });
    listBox.append(h('div.table-list-head',
      h('span.check-cell', all, h('label', { for: all.id }, q ? `All ${shown.length} shown` : `All ${data.tables.length}`)),
      h('span.muted.small', `${plural(data.tables.length, 'table')} and views in ${data.schema}`)));
    if (!shown.length) {
      listBox.append(empty(`Nothing matches “${filter.value}”`));
      return;
    }
    listBox.append(h('ul.tables', shown.map((t) => tableRow(t, () => { setAll(); updateBar(); }))));
    setAll();
  };

  const pick = (t) => {
    if (!picks.has(t.name)) picks.set(t.name, { selected: false, excluded: new Set() });
    return picks.get(t.name);
  };

  const tableRow = (t, changed) => {
    const p = pick(t);
    const cbId = nextId('tbl');
    const colsId = nextId('cols');
    const cb = h('input.tbl-check', { type: 'checkbox', id: cbId, checked: p.selected });
    cb.addEventListener('change', () => { p.selected = cb.checked; changed(); });
    const toggle = h('button.tbl-toggle', { type: 'button', 'aria-expanded': 'false', 'aria-controls': colsId },
      h('span.caret', { 'aria-hidden': 'true' }), h('span.tbl-name', t.name),
      t.kind && t.kind !== 'table' ? badge(t.kind, 'muted') : null);
    const kept = t.columns.filter((c) => !c.skipped).length;
    const meta = h('span.tbl-meta');
    const paintMeta = () => {
      const ex = p.excluded.size;
      replace(meta,
        h('span', plural(t.columns.length, 'column')),
        h('span', t.estimated_rows === null || t.estimated_rows === undefined ? 'rows unknown' : `~${fmtCompact(t.estimated_rows)} rows`),
        h('span', fmtBytes(t.estimated_bytes)),
        ex ? h('span.meta-warn', `${ex} left out`) : null,
        t.columns.length - kept ? h('span.meta-warn', `${t.columns.length - kept} skipped`) : null);
    };
    paintMeta();
    const cols = h('div.tbl-cols', { id: colsId, hidden: true });
    toggle.addEventListener('click', () => {
      const open = cols.hidden;
      cols.hidden = !open;
      toggle.setAttribute('aria-expanded', String(open));
      if (open && !cols.childElementCount) cols.append(columnsTable(t, p, () => { paintMeta(); changed(); }));
    });
    return h('li.tbl', { dataset: { table: t.name } },
      h('div.tbl-row',
        h('span.check-cell', cb, h('label.visually-hidden', { for: cbId }, `Select ${t.name}`)),
        toggle, meta),
      cols);
  };

  const load = async (schema) => {
    clear(listBox).append(loading('Reading the schema…'));
    picker.disabled = true;
    extractBtn.disabled = true;
    try {
      const q = schema ? `?schema=${encodeURIComponent(schema)}` : '';
      data = await get(`/db/connections/${conn.id}/schema${q}`);
    } catch (e) {
      if (!alive) return;
      clear(listBox).append(errorBox(e, () => load(schema)));
      return;
    }
    if (!alive) return;
    state.schemaOf.set(conn.id, data.schema);
    picks = picksFor(conn.id, data.schema);
    const schemas = data.schemas && data.schemas.length ? data.schemas : [data.schema];
    clear(picker).append(...schemas.map((s) => h('option', { value: s }, s)));
    picker.value = data.schema;
    picker.disabled = false;
    renderTables();
    updateBar();
  };

  picker.addEventListener('change', () => load(picker.value));
  filter.addEventListener('input', () => { if (data) renderTables(); });
  refresh.addEventListener('click', () => load(data ? data.schema : state.schemaOf.get(conn.id)));
  clearBtn.addEventListener('click', () => {
    for (const p of picks.values()) { p.selected = false; }
    renderTables();
    updateBar();
  });
  extractBtn.addEventListener('click', () => {
    const sel = selectedTables();
    if (sel.length) extractDialog(conn, data.schema, sel.map((t) => ({ t, p: picks.get(t.name) })));
  });

  load(state.schemaOf.get(conn.id));
  return () => { alive = false; };
}

function columnsTable(t, p, changed) {
  const pk = new Set(t.primary_key || []);
  return h('div.table-scroll',
    h('table.cols',
      h('caption.visually-hidden', `Columns of ${t.name}`),
      h('thead', h('tr',
        h('th', { scope: 'col' }, 'Extract'), h('th', { scope: 'col' }, 'Column'),
        h('th', { scope: 'col' }, 'Source type'), h('th', { scope: 'col' }, 'Parquet type'))),
      h('tbody', t.columns.map((c) => {
        const id = nextId('col');
        const cb = h('input', { type: 'checkbox', id, checked: !c.skipped && !p.excluded.has(c.name), disabled: !!c.skipped });
        cb.addEventListener('change', () => {
          if (cb.checked) p.excluded.delete(c.name);
          else p.excluded.add(c.name);
          changed();
        });
        return h('tr', { class: c.skipped ? 'col-skipped' : null },
          h('td.col-check', cb, h('label.visually-hidden', { for: id }, `Extract column ${c.name} of ${t.name}`)),
          h('td',
            h('span.col-name', c.name),
            pk.has(c.name) ? badge('PK', 'pk') : null,
            c.warning ? h('span.col-warn.small', c.warning) : null),
          h('td.mono.small', c.source_type),
          h('td', c.skipped ? badge('skipped', 'warn') : h('span.mono.small', c.parquet_type || '—')));
      }))));
}

// ---- extract: confirm from a dry run ----

function tablesBody(schema, items, limits) {
  return {
    tables: items.map(({ t, p }) => {
      const e = { table: t.name, schema };
      if (p.excluded.size) e.exclude_columns = [...p.excluded];
      const lim = limits.get(t.name);
      if (lim) e.row_limit = lim;
      return e;
    }),
  };
}

function extractDialog(conn, schema, items) {
  const limits = new Map();
  openDialog((close) => {
    const status = h('div.dry-status', { 'aria-live': 'polite' }, loading('Checking estimates with the database…'));
    const refusal = h('div.refusal', { role: 'alert', hidden: true });
    const cap = h('p.small.muted');
    const primary = h('button.btn.btn-primary', { type: 'submit', disabled: true }, 'Extract');
    // Focus starts on Cancel (the safe choice) and moves to Extract once the
    // estimates are in.
    const cancelBtn = h('button.btn', { type: 'button', autofocus: true, onclick: () => close(false) }, 'Cancel');
    let dirty = false;
    let busy = false;
    const rows = new Map();

    const tbody = h('tbody', items.map(({ t, p }) => {
      const id = nextId('lim');
      const input = h('input.limit-input', { type: 'number', min: '1', step: '1', id, placeholder: 'no limit', inputmode: 'numeric' });
      input.addEventListener('input', () => {
        const v = Number(input.value);
        if (input.value && Number.isInteger(v) && v > 0) limits.set(t.name, v);
        else limits.delete(t.name);
        dirty = true;
        paintPrimary();
      });
      const r = {
        rowsCell: h('td.num', t.estimated_rows === null || t.estimated_rows === undefined ? '—' : `~${fmtInt(t.estimated_rows)}`),
        sizeCell: h('td.num', fmtBytes(t.estimated_bytes)),
        colsCell: h('td.num', `${t.columns.filter((c) => !c.skipped && !p.excluded.has(c.name)).length} of ${t.columns.length}`),
        notes: h('div.dry-notes'),
        input,
      };
      rows.set(t.name, r);
      if (t.estimated_rows > BIG_TABLE) r.notes.append(h('p.hint-warn', `About ${fmtInt(t.estimated_rows)} rows: consider a row limit.`));
      r.rowsCell.dataset.label = 'Est. rows';
      r.sizeCell.dataset.label = 'Est. size';
      r.colsCell.dataset.label = 'Columns';
      return [
        h('tr',
          h('th', { scope: 'row' }, h('span.mono', `${schema}.${t.name}`), r.notes),
          r.rowsCell, r.sizeCell, r.colsCell,
          h('td.limit-cell', { dataset: { label: 'Row limit' } },
            h('label.visually-hidden', { for: id }, `Row limit for ${t.name}`), input)),
      ];
    }));

    const paintPrimary = () => {
      if (busy) return;
      primary.disabled = false;
      primary.textContent = dirty ? 'Check again' : `Extract ${plural(items.length, 'table')}`;
    };

    const dryRun = async () => {
      busy = true;
      primary.disabled = true;
      refusal.hidden = true;
      clear(status).append(loading('Checking estimates with the database…'));
      try {
        const r = await post(`/db/connections/${conn.id}/extract`, { ...tablesBody(schema, items, limits), dry_run: true });
        clear(status);
        cap.textContent = `At most ${fmtInt(r.max_rows)} rows per extraction (DB_EXTRACT_MAX_ROWS).`;
        for (const d of r.tables) {
          const row = rows.get(d.table);
          if (!row) continue;
          row.rowsCell.textContent = d.estimated_rows === null ? 'unknown' : `~${fmtInt(d.estimated_rows)}`;
          row.sizeCell.textContent = fmtBytes(d.estimated_bytes);
          if (Array.isArray(d.columns)) {
            const kept = d.columns.filter((c) => !c.skipped && !c.excluded).length;
            row.colsCell.textContent = `${kept} of ${d.columns.length}`;
          }
          clear(row.notes);
          if (d.hint) row.notes.append(h('p.hint-warn', `${d.hint}.`));
          for (const w of d.warnings || []) row.notes.append(h('p.small.muted', w));
        }
        dirty = false;
        busy = false;
        paintPrimary();
        if (document.activeElement === cancelBtn) primary.focus();
      } catch (e) {
        busy = false;
        clear(status);
        replace(refusal,
          h('strong', e.code === 'limit_exceeded' ? 'Refused: over the row cap. ' : 'Cannot extract: '),
          h('span', e.message),
          e.code === 'limit_exceeded' ? h('p.small', 'Set a row limit for the table above, then check again.') : null);
        refusal.hidden = false;
        dirty = true;
        paintPrimary();
        primary.disabled = true;
        if (e.code === 'limit_exceeded') {
          const first = [...rows.values()][0];
          if (first) first.input.focus();
        }
      }
    };

    const start = async () => {
      busy = true;
      primary.disabled = true;
      primary.textContent = 'Starting…';
      try {
        const r = await post(`/db/connections/${conn.id}/extract`, tablesBody(schema, items, limits));
        close(true);
        for (const { p } of items) p.selected = false;
        toast(`Extracting ${plural(r.datasets.length, 'dataset')}`, 'success');
        navigate('#/datasets');
      } catch (e) {
        busy = false;
        refusal.replaceChildren(h('strong', 'Cannot extract: '), h('span', e.message));
        refusal.hidden = false;
        dirty = e.code === 'limit_exceeded';
        paintPrimary();
      }
    };

    const form = h('form.dialog-body', {
      onsubmit: (e) => { e.preventDefault(); if (dirty) dryRun(); else start(); },
    },
    h('h2#dialog-title', `Extract ${plural(items.length, 'table')} from ${conn.name}`),
    h('p.muted', 'Each table becomes one dataset. Estimates come from the database’s statistics; the extraction reads inside a read-only transaction.'),
    h('div.table-scroll',
      h('table.dry',
        h('thead', h('tr',
          h('th', { scope: 'col' }, 'Table'), h('th.num', { scope: 'col' }, 'Est. rows'),
          h('th.num', { scope: 'col' }, 'Est. size'), h('th.num', { scope: 'col' }, 'Columns'),
          h('th', { scope: 'col' }, 'Row limit'))),
        tbody)),
    status, refusal, cap,
    h('div.dialog-actions', cancelBtn, primary));
    dryRun();
    return form;
  }, { wide: true });
}

// ---- Advanced: one custom SELECT ----

function customSql(conn) {
  const d = drafts.get(conn.id) || { sql: '', name: '', limit: '' };
  drafts.set(conn.id, d);
  const panelId = nextId('custom');
  const toggle = h('button.advanced-toggle', { type: 'button', 'aria-expanded': 'false', 'aria-controls': panelId },
    h('span.caret', { 'aria-hidden': 'true' }), 'Advanced: extract a custom SQL query');
  const sqlId = nextId('sql');
  const feedback = h('div.sql-feedback', { 'aria-live': 'polite' });
  const editor = sqlEditor({
    id: sqlId, value: d.sql, rows: 8, describedBy: `${sqlId}-hint`,
    placeholder: conn.db_type === 'mysql'
      ? 'SELECT c.name, COUNT(o.id) AS orders\nFROM customers c JOIN orders o ON o.customer_id = c.id\nGROUP BY c.name'
      : 'SELECT c.name, count(o.id) AS orders\nFROM customers c JOIN orders o ON o.customer_id = c.id\nGROUP BY c.name',
    onInput: (v) => { d.sql = v; clear(feedback); },
  });
  const name = h('input', { value: d.name, autocomplete: 'off', placeholder: 'e.g. Orders per customer' });
  name.addEventListener('input', () => { d.name = name.value; });
  const limit = h('input', { type: 'number', min: '1', step: '1', value: d.limit, placeholder: 'no limit', inputmode: 'numeric' });
  limit.addEventListener('input', () => { d.limit = limit.value; });
  const checkBtn = h('button.btn', { type: 'button' }, 'Check query');
  const runBtn = h('button.btn.btn-primary', { type: 'submit' }, 'Extract query');

  const body = (dry) => {
    const b = { custom_sql: editor.value, dataset_name: name.value.trim() };
    if (limit.value) b.row_limit = Number(limit.value);
    if (dry) b.dry_run = true;
    return b;
  };
  const problem = () => {
    if (!editor.value.trim()) { editor.focus(); return 'Write a SELECT query first.'; }
    if (!name.value.trim()) { name.focus(); return 'Give the dataset a name.'; }
    if (limit.value && !(Number.isInteger(Number(limit.value)) && Number(limit.value) > 0)) { limit.focus(); return 'The row limit must be a positive whole number.'; }
    return null;
  };
  const showError = (msg, code) => {
    clear(feedback).append(h('div.inline-error', { role: 'alert' },
      h('strong', code === 'not_read_only' ? 'Not a read-only SELECT: ' : code === 'limit_exceeded' ? 'Over the row cap: ' : 'Error: '),
      msg));
  };
  const run = async (dry) => {
    const p = problem();
    if (p) { showError(p); return; }
    checkBtn.disabled = true;
    runBtn.disabled = true;
    clear(feedback).append(loading(dry ? 'Checking…' : 'Starting…'));
    try {
      await post(`/db/connections/${conn.id}/extract`, body(true));
      if (dry) {
        clear(feedback).append(h('p.inline-ok', '✓ One read-only SELECT; ready to extract.'));
        return;
      }
      const r = await post(`/db/connections/${conn.id}/extract`, body(false));
      clear(feedback);
      toast(`Extracting “${r.datasets[0].name}”`, 'success');
      navigate('#/datasets');
    } catch (e) {
      showError(e.message, e.code);
    } finally {
      checkBtn.disabled = false;
      runBtn.disabled = false;
    }
  };
  checkBtn.addEventListener('click', () => run(true));

  const panel = h('form.custom-sql', { id: panelId, hidden: true, novalidate: true, onsubmit: (e) => { e.preventDefault(); run(false); } },
    h('div.field',
      h('label', { for: sqlId }, 'SQL query'),
      editor.el,
      h('p.hint', { id: `${sqlId}-hint` },
        'Exactly one read-only SELECT (WITH … SELECT is fine). The server checks it before anything runs, then runs it in a read-only transaction. Tab indents; Esc then Tab leaves the editor.')),
    h('div.form-grid',
      field('Dataset name', name),
      field('Row limit (optional)', limit)),
    feedback,
    h('div.btn-row', checkBtn, runBtn));
  toggle.addEventListener('click', () => {
    const open = panel.hidden;
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open) editor.focus();
  });
  return h('section.advanced-sql', toggle, panel);
}
