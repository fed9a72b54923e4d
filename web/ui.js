// Small DOM helpers shared by the views. Text always goes in as text nodes
// (never innerHTML), so nothing from the server or a database can inject
// markup; the only HTML the UI inserts is the SQL highlighter's output,
// which escapes its input.

// h('div.card#x', {attr: v, onclick: fn}, child, [children], 'text')
export function h(tag, attrs, ...children) {
  const m = /^([a-z0-9-]+)((?:[.#][\w-]+)*)$/i.exec(tag);
  const el = document.createElement(m ? m[1] : tag);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden') el[k] = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

// Append children (nodes, text, arrays; null/false skipped) to el.
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function clear(el) { el.replaceChildren(); return el; }
// Replace el's children; like append, null and false are skipped.
export function replace(el, ...children) { el.replaceChildren(); append(el, children); return el; }

let uid = 0;
export const nextId = (prefix = 'f') => `${prefix}-${++uid}`;

// ---- formatting ----

const nf = new Intl.NumberFormat('en-US');
export const fmtInt = (n) => (n === null || n === undefined ? '—' : nf.format(n));

export function fmtCompact(n) {
  if (n === null || n === undefined || n < 0) return '—';
  if (n < 1000) return String(n);
  const units = [['B', 1e9], ['M', 1e6], ['k', 1e3]];
  for (const [u, v] of units) if (n >= v) return `${(n / v).toFixed(n / v < 10 ? 1 : 0).replace(/\.0$/, '')}${u}`;
  return String(n);
}

export function fmtBytes(n) {
  if (n === null || n === undefined || n < 0) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

// "2024-05-01T10:00:00Z" (or with a space) → "3 min ago"
export function fmtAgo(iso) {
  if (!iso) return 'never';
  const t = Date.parse(iso.includes('T') ? iso : `${iso.replace(' ', 'T')}Z`);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

// ---- states ----

export function loading(text = 'Loading…') {
  return h('div.state.state-loading', { role: 'status' }, h('span.spinner', { 'aria-hidden': 'true' }), text);
}

export function empty(title, text, action) {
  return h('div.state.state-empty', h('p.state-title', title), text ? h('p.muted', text) : null, action || null);
}

export function errorBox(err, retry) {
  const msg = err && err.message ? err.message : String(err);
  return h('div.state.state-error', { role: 'alert' },
    h('p.state-title', 'Something went wrong'),
    h('p', msg),
    retry ? h('button.btn', { type: 'button', onclick: retry }, 'Try again') : null);
}

export function badge(text, kind = '') {
  return h(`span.badge${kind ? `.badge-${kind}` : ''}`, text);
}

// ---- toasts ----

export function toast(text, kind = 'info', action) {
  const box = document.getElementById('toasts');
  const t = h(`div.toast.toast-${kind}`, h('span', text), action || null,
    h('button.toast-close', { type: 'button', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
  box.append(t);
  while (box.childElementCount > 3) box.firstElementChild.remove();
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

// ---- dialogs ----

// Show the shared <dialog> with content built by build(close); resolves with
// what close() was given (undefined when dismissed with Esc).
export function openDialog(build, { wide = false } = {}) {
  const dlg = document.getElementById('dialog');
  if (dlg.open) dlg.close();
  clear(dlg);
  dlg.classList.toggle('dialog-wide', wide);
  return new Promise((resolve) => {
    let result;
    const close = (v) => { result = v; dlg.close(); };
    const onClose = () => { dlg.removeEventListener('close', onClose); clear(dlg); resolve(result); };
    dlg.addEventListener('close', onClose);
    dlg.append(build(close));
    dlg.showModal();
    const first = dlg.querySelector('[autofocus]') || dlg.querySelector('input, select, textarea, button.btn-primary, button');
    if (first) first.focus();
  });
}

export function confirmDialog({ title, body, confirm = 'OK', danger = false }) {
  return openDialog((close) => h('form.dialog-body', { method: 'dialog', onsubmit: (e) => { e.preventDefault(); close(true); } },
    h('h2#dialog-title', title),
    typeof body === 'string' ? h('p', body) : body,
    h('div.dialog-actions',
      h('button.btn', { type: 'button', onclick: () => close(false) }, 'Cancel'),
      h(`button.btn.${danger ? 'btn-danger' : 'btn-primary'}`, { type: 'submit', autofocus: true }, confirm))));
}

// Copy text to the clipboard; falls back to a hidden textarea + execCommand
// where the Clipboard API is unavailable (plain http on a LAN address).
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch { /* fall through */ }
  const ta = h('textarea.offscreen', { readonly: true, 'aria-hidden': 'true' });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  ta.remove();
  return ok;
}

export function copyButton(getText, label = 'Copy') {
  const btn = h('button.btn.btn-small', { type: 'button' }, label);
  btn.addEventListener('click', async () => {
    const ok = await copyText(getText());
    btn.textContent = ok ? 'Copied ✓' : 'Select and copy manually';
    setTimeout(() => { btn.textContent = label; }, 2000);
  });
  return btn;
}

// A labelled form field: label + control + optional hint, ids wired up.
export function field(labelText, control, { hint, id, extra } = {}) {
  const cid = id || control.id || nextId('f');
  control.id = cid;
  let hintEl = null;
  if (hint) {
    hintEl = h('p.hint', { id: `${cid}-hint` }, hint);
    control.setAttribute('aria-describedby', `${cid}-hint`);
  }
  return h('div.field', h('label', { for: cid }, labelText), control, hintEl, extra || null);
}

export const plural = (n, one, many = `${one}s`) => `${fmtInt(n)} ${n === 1 ? one : many}`;
