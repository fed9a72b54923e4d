// Search / Ask over the datasets (hybrid vector + keyword search, and RAG).
//   POST /api/v1/search {query, dataset_ids?, k, mode}
//     -> {results:[{dataset_id, dataset_name, source_table, row_id, text, score, highlights}]}
//   POST /api/v1/ask {question, dataset_ids?, k}
//     -> {answer, citations, results, note}
// A server without the search pipeline answers 404: the page then says so
// instead of showing an error.
import { get, post } from './api.js';
import { state } from './state.js';
import { h, clear, loading, empty, errorBox, openDialog, nextId, fmtInt } from './ui.js';

const last = { mode: 'search', query: '', k: 10, searchMode: 'hybrid', ids: new Set() };

export function mount(main) {
  let alive = true;
  const qId = nextId('q');
  const input = h('textarea.search-input', { id: qId, rows: '2', placeholder: 'e.g. customers in Lyon who ordered twice', autocomplete: 'off' });
  input.value = last.query;
  const modeSearch = h('input', { type: 'radio', name: 'sa-mode', id: nextId('m'), value: 'search', checked: last.mode === 'search' });
  const modeAsk = h('input', { type: 'radio', name: 'sa-mode', id: nextId('m'), value: 'ask', checked: last.mode === 'ask' });
  const kSel = h('select', { id: nextId('k') }, [5, 10, 20, 50].map((n) => h('option', { value: n }, String(n))));
  kSel.value = String(last.k);
  const how = h('select', { id: nextId('how') },
    h('option', { value: 'hybrid' }, 'Hybrid (meaning + words)'),
    h('option', { value: 'vector' }, 'Meaning only'),
    h('option', { value: 'keyword' }, 'Exact words only'));
  how.value = last.searchMode;
  const howField = h('div.field.field-inline', h('label', { for: how.id }, 'Match'), how);
  const dsBox = h('fieldset.ds-pick', h('legend', 'Datasets'), loading('Loading datasets…'));
  const submit = h('button.btn.btn-primary', { type: 'submit' }, last.mode === 'ask' ? 'Ask' : 'Search');
  const label = h('label', { for: qId }, last.mode === 'ask' ? 'Your question' : 'Search your datasets');
  const out = h('section.search-out', { 'aria-live': 'polite', 'aria-label': 'Results' });

  const syncMode = () => {
    last.mode = modeAsk.checked ? 'ask' : 'search';
    submit.textContent = last.mode === 'ask' ? 'Ask' : 'Search';
    label.textContent = last.mode === 'ask' ? 'Your question' : 'Search your datasets';
    howField.hidden = last.mode === 'ask';
  };
  modeSearch.addEventListener('change', syncMode);
  modeAsk.addEventListener('change', syncMode);

  const form = h('form.search-form', { novalidate: true },
    h('fieldset.segmented', h('legend.visually-hidden', 'Mode'),
      modeSearch, h('label', { for: modeSearch.id }, 'Search'),
      modeAsk, h('label', { for: modeAsk.id }, 'Ask')),
    h('div.field', label, input),
    h('div.search-options',
      howField,
      h('div.field.field-inline', h('label', { for: kSel.id }, 'Results'), kSel),
      submit),
    dsBox);
  // Enter submits, Shift+Enter adds a line.
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });

  main.append(
    h('header.page-header', h('div',
      h('h1', 'Search'),
      h('p.muted', 'Find rows by meaning or by words across your datasets, or ask a question and get an answer with the rows it is based on.'))),
    form, out);
  if (state.searchAvailable === false) out.append(unavailable());
  syncMode();

  // Dataset filter: all by default, or the ones ticked.
  (async () => {
    try {
      const r = await get('/datasets');
      if (!alive) return;
      const ready = (r.datasets || []).filter((d) => d.status === 'ready');
      clear(dsBox).append(h('legend', 'Datasets'));
      if (!ready.length) {
        dsBox.append(h('p.small.muted', 'No ready datasets yet: extract some in the Database tab.'));
        return;
      }
      dsBox.append(h('p.small.muted', last.ids.size ? '' : 'All datasets are searched unless you tick some.'),
        h('div.ds-checks', ready.map((d) => {
          const id = nextId('ds');
          const cb = h('input', { type: 'checkbox', id, value: d.id, checked: last.ids.has(d.id) });
          cb.addEventListener('change', () => { if (cb.checked) last.ids.add(d.id); else last.ids.delete(d.id); });
          return h('span.ds-check', cb, h('label', { for: id }, d.name));
        })));
    } catch (e) {
      if (alive) clear(dsBox).append(h('legend', 'Datasets'), h('p.small.inline-error', e.message));
    }
  })();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const q = input.value.trim();
    last.query = input.value;
    last.k = Number(kSel.value);
    last.searchMode = how.value;
    if (!q) {
      clear(out).append(h('p.inline-error', { role: 'alert' }, last.mode === 'ask' ? 'Type a question first.' : 'Type something to search for.'));
      input.focus();
      return;
    }
    const ids = [...last.ids];
    submit.disabled = true;
    clear(out).append(loading(last.mode === 'ask' ? 'Thinking…' : 'Searching…'));
    try {
      let r;
      if (last.mode === 'ask') {
        r = await post('/ask', { question: q, k: last.k, ...(ids.length ? { dataset_ids: ids } : {}) });
      } else {
        r = await post('/search', { query: q, k: last.k, mode: last.searchMode, ...(ids.length ? { dataset_ids: ids } : {}) });
      }
      state.searchAvailable = true;
      if (!alive) return;
      clear(out).append(last.mode === 'ask' ? answerView(r, q) : resultsView(r.results || [], q));
    } catch (ex) {
      if (!alive) return;
      if (ex.status === 404 && (!ids.length || /no such endpoint/.test(ex.message))) {
        state.searchAvailable = false;
        clear(out).append(unavailable(ex.message));
      } else {
        clear(out).append(errorBox(ex));
      }
    } finally {
      submit.disabled = false;
    }
  });
  return () => { alive = false; };
}

function unavailable(detail) {
  return h('div.state.state-unavailable', { role: 'status' },
    h('p.state-title', 'Search is not available yet'),
    h('p', 'This vectoraiz server does not have the search pipeline (processing, embedding, indexing) yet, so datasets cannot be searched or asked about. '
      + 'Extraction works: your datasets can be previewed and downloaded in the Datasets tab.'),
    detail ? h('p.small.muted', `Server said: ${detail}`) : null,
    h('a.btn', { href: '#/datasets' }, 'Go to Datasets'));
}

// Words of the query, for highlighting when the server gives no spans.
function queryTerms(q) {
  return [...new Set(q.toLowerCase().split(/[^\p{L}\p{N}_]+/u).filter((w) => w.length > 1))];
}

// Text with <mark>s: highlights may be [start, end] pairs, {start, end}
// objects or words; without them the query's words are marked.
function marked(text, highlights, q) {
  const s = String(text ?? '');
  let ranges = [];
  const hl = Array.isArray(highlights) ? highlights : [];
  for (const x of hl) {
    if (Array.isArray(x) && x.length === 2) ranges.push([x[0], x[1]]);
    else if (x && typeof x === 'object' && Number.isInteger(x.start)) ranges.push([x.start, x.end ?? x.start + (x.length || 0)]);
  }
  const words = hl.filter((x) => typeof x === 'string');
  const terms = ranges.length ? [] : (words.length ? words : queryTerms(q));
  if (terms.length) {
    const lower = s.toLowerCase();
    for (const t of terms) {
      const w = t.toLowerCase();
      if (!w) continue;
      for (let i = lower.indexOf(w); i >= 0; i = lower.indexOf(w, i + w.length)) ranges.push([i, i + w.length]);
    }
  }
  ranges = ranges.filter(([a, b]) => a >= 0 && b > a && b <= s.length).sort((a, b) => a[0] - b[0]);
  const parts = [];
  let pos = 0;
  for (const [a, b] of ranges) {
    if (a < pos) continue;
    if (a > pos) parts.push(s.slice(pos, a));
    parts.push(h('mark', s.slice(a, b)));
    pos = b;
  }
  if (pos < s.length) parts.push(s.slice(pos));
  return parts;
}

function resultCard(r, q, n) {
  const open = h('button.btn.btn-small.btn-ghost', { type: 'button' }, 'Open');
  open.addEventListener('click', () => openDialog((close) => h('div.dialog-body',
    h('h2#dialog-title', `${r.dataset_name || r.dataset_id} · row ${r.row_id ?? '?'}`),
    h('p.small.muted', `${r.source_table || ''}${r.score !== undefined ? ` · score ${Number(r.score).toFixed(3)}` : ''}`),
    h('pre.result-full', marked(r.text, r.highlights, q)),
    h('div.dialog-actions',
      h('a.btn', { href: '#/datasets', onclick: () => close() }, 'Go to Datasets'),
      h('button.btn.btn-primary', { type: 'button', onclick: () => close(), autofocus: true }, 'Close'))), { wide: true }));
  return h('li.result',
    h('div.result-head',
      n !== undefined ? h('span.result-n', `[${n}]`) : null,
      h('strong', r.dataset_name || r.dataset_id),
      h('span.muted.small', ` · ${r.source_table || ''}`),
      r.row_id !== undefined && r.row_id !== null ? h('span.badge.badge-pk', `PK ${r.row_id}`) : null,
      r.score !== undefined ? h('span.small.muted.result-score', Number(r.score).toFixed(3)) : null,
      open),
    h('p.result-text', marked(r.text, r.highlights, q)));
}

function resultsView(results, q) {
  if (!results.length) return empty('No matching rows', 'Try other words, or search all datasets.');
  return h('div',
    h('p.small.muted', `${fmtInt(results.length)} ${results.length === 1 ? 'row' : 'rows'}`),
    h('ol.results', results.map((r) => resultCard(r, q))));
}

function answerView(r, q) {
  const results = r.results || [];
  const cites = Array.isArray(r.citations) ? r.citations : [];
  // A citation may be an index into results or a {dataset_id, row_id}.
  const citedIdx = new Set(cites.map((c) => (Number.isInteger(c) ? c : results.findIndex(
    (x) => x.dataset_id === (c && c.dataset_id) && String(x.row_id) === String(c && c.row_id))))
    .filter((i) => i >= 0 && i < results.length));
  return h('div',
    r.answer
      ? h('div.answer', h('h2.section-title', 'Answer'), h('p.answer-text', r.answer))
      : null,
    r.note ? h('p.note', r.note) : null,
    results.length
      ? h('div', h('h2.section-title', r.answer ? 'Cited rows' : 'Retrieved rows'),
        h('ol.results', results.map((x, i) => (r.answer && citedIdx.size && !citedIdx.has(i) ? null : resultCard(x, q, i + 1)))))
      : empty('No rows found for this question'));
}
