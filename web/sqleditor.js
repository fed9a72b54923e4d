// A SQL textarea with syntax highlighting: the real <textarea> (what the
// user types in, what screen readers and forms see) sits exactly over a
// <pre> that shows the same text coloured by highlight.js. The textarea's
// own text is transparent; its caret and selection stay visible.
import hljs from './hljs-core.min.js';
import sql from './hljs-sql.min.js';
import { h } from './ui.js';

hljs.registerLanguage('sql', sql);

export function sqlEditor({ id, value = '', placeholder = '', rows = 8, describedBy, onInput } = {}) {
  const code = h('code.hljs.language-sql');
  const pre = h('pre.sql-highlight', { 'aria-hidden': 'true' }, code);
  const ta = h('textarea.sql-input', {
    id, rows, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off',
    placeholder, 'aria-describedby': describedBy, wrap: 'off',
  });
  ta.value = value;
  const wrap = h('div.sql-editor', pre, ta);

  const paint = () => {
    // highlight() escapes the text; a trailing newline needs a character
    // after it or the <pre> ends one line short of the textarea.
    code.innerHTML = `${hljs.highlight(ta.value, { language: 'sql', ignoreIllegals: true }).value}\n `;
    pre.scrollTop = ta.scrollTop;
    pre.scrollLeft = ta.scrollLeft;
  };
  ta.addEventListener('input', () => { paint(); if (onInput) onInput(ta.value); });
  ta.addEventListener('scroll', () => { pre.scrollTop = ta.scrollTop; pre.scrollLeft = ta.scrollLeft; });
  // Tab inserts two spaces; Esc then Tab (or Shift+Tab) still leaves the
  // field, so the keyboard is never trapped.
  let escaped = false;
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { escaped = true; return; }
    if (e.key === 'Tab' && !e.shiftKey && !escaped) {
      e.preventDefault();
      const { selectionStart: s, selectionEnd: en } = ta;
      ta.setRangeText('  ', s, en, 'end');
      paint();
      if (onInput) onInput(ta.value);
    }
    escaped = false;
  });
  paint();
  return {
    el: wrap,
    textarea: ta,
    get value() { return ta.value; },
    set value(v) { ta.value = v; paint(); },
    focus() { ta.focus(); },
  };
}
