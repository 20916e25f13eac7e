// DOM helpers. Every value reaches the page as text (textContent or an
// attribute set with setAttribute), never as HTML.

// h builds an element. attrs: attributes, except `text` (the text content),
// `on<event>` functions (listeners) and `props` (element properties such as
// value or checked). children: nodes, strings, numbers, arrays, null.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'text') {
      el.textContent = String(v);
    } else if (k === 'props') {
      Object.assign(el, v);
    } else if (k.startsWith('on')) {
      if (typeof v !== 'function') throw new Error('listener ' + k + ' must be a function');
      el.addEventListener(k.slice(2), v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// uid returns a page-unique id for label/input pairs.
let next = 0;
export function uid(prefix) {
  next += 1;
  return (prefix || 'f') + '-' + next;
}

// field is a labelled control: a label, the control, and an optional hint
// the control is described by.
export function field(label, control, hint) {
  const id = control.id || uid('f');
  control.id = id;
  const parts = [h('label', { for: id, text: label }), control];
  if (hint) {
    const hid = id + '-hint';
    control.setAttribute('aria-describedby', hid);
    parts.push(h('span', { class: 'hint', id: hid, text: hint }));
  }
  return h('div', { class: 'field' }, parts);
}

// select builds a <select> of [value, label] pairs.
export function select(options, attrs) {
  return h('select', attrs, options.map(([v, l]) => h('option', { value: v, text: l })));
}

export function fmtTime(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleString(document.documentElement.lang || undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

// enumText turns CATEGORY_IMPERSONATION into "impersonation".
export function enumText(v, prefix) {
  if (!v) return '';
  return String(v).replace(prefix, '').toLowerCase().replaceAll('_', ' ');
}

// table builds a table with a caption, header cells and rows of cells.
export function table(caption, heads, rows) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { text: caption }),
      h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col', text: t })))),
      h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, c)))))));
}

// confirmButton asks for a second click before it acts, instead of a modal
// dialog (which a keyboard or screen-reader user might not expect).
export function confirmButton(label, confirmLabel, action, attrs) {
  let armed = false;
  let timer = 0;
  const b = h('button', Object.assign({ type: 'button', text: label }, attrs || {}));
  b.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      b.textContent = confirmLabel;
      b.classList.add('danger');
      timer = setTimeout(() => { armed = false; b.textContent = label; b.classList.remove('danger'); }, 6000);
      return;
    }
    clearTimeout(timer);
    armed = false;
    b.disabled = true;
    try {
      await action();
    } finally {
      b.disabled = false;
      b.textContent = label;
      b.classList.remove('danger');
    }
  });
  return b;
}

// download saves a Blob as a file.
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, class: 'visually-hidden', text: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
