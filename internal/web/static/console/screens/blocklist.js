// Blocklist: find, filter and page through entries; add, edit, delete;
// export.
import { h, field, select, table, fmtTime, confirmButton, download } from '/assets/dom.js';
import { query, seg } from '/assets/api.js';
import { categories, sources, label, errorBox, showError, Pager, toRFC3339, toLocalInput } from '/console/screens/common.js';

export default {
  id: 'blocklist',
  title: 'Blocklist',
  roles: ['analyst', 'admin'],
  render,
};

const plural = (n, one, many) => n + ' ' + (n === 1 ? one : many);

function render(root, { api, notify }) {
  // Find by number: which entry (exact or prefix) blocks it.
  const number = h('input', { id: 'bl-number', type: 'search', autocomplete: 'off', placeholder: '+86 170 1234 5678' });
  const findErr = errorBox();
  const found = h('div', { 'aria-live': 'polite' });
  const findForm = h('form', { class: 'row' },
    field('Number', number, 'Any written form; shows the entry that blocks it, exact or by prefix.'),
    h('button', { id: 'bl-check', type: 'submit', text: 'Check number' }));
  findForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    findErr.textContent = '';
    found.replaceChildren();
    try {
      const r = await api.get('/v1/blocklist:check' + query({ number: number.value.trim() }));
      if (!r.blocked) {
        found.append(h('p', { class: 'notice', text: r.number + ' is not blocked.' }));
      } else {
        found.append(h('p', { class: 'notice', text: r.number + ' is blocked by the entry ' + r.entry.pattern + '.' }),
          entryTable('Entry that blocks ' + r.number, [r.entry]));
      }
    } catch (e) { showError(findErr, e); }
  });

  // The list, filtered by pattern prefix, category and source.
  const prefix = h('input', { id: 'bl-prefix', type: 'search', autocomplete: 'off', placeholder: '+86170' });
  const cat = select([['', 'All categories'], ...categories], { id: 'bl-filter-category' });
  const src = select([['', 'All sources'], ...sources], { id: 'bl-filter-source' });
  const size = select([['25', '25'], ['100', '100'], ['500', '500']], { id: 'bl-page-size' });
  const listErr = errorBox('bl-list-error');
  const list = h('div', { id: 'bl-list-table' });
  const total = h('p', { class: 'muted', 'aria-live': 'polite' });
  const pager = new Pager(async (token) => {
    listErr.textContent = '';
    try {
      const r = await api.get('/v1/blocklist/entries' + query({
        patternPrefix: prefix.value.trim(), category: cat.value, source: src.value, pageSize: size.value, pageToken: token,
      }));
      const entries = r.entries || [];
      total.textContent = prefix.value.trim() ? plural(entries.length, 'entry', 'entries') + ' on this page (pattern starting with ' + prefix.value.trim() + ').'
        : plural(r.totalSize || 0, 'entry matches', 'entries match') + ' the filters.';
      list.replaceChildren(entries.length ? entryTable('Blocklist entries', entries) : h('p', { text: 'No entries.' }));
      return r.nextPageToken;
    } catch (e) {
      showError(listErr, e);
      return '';
    }
  });
  const filterForm = h('form', { class: 'row' },
    field('Pattern starts with', prefix, 'E.164 digits, e.g. +86170'),
    field('Category', cat), field('Source', src), field('Page size', size),
    h('button', { id: 'bl-search', type: 'submit', text: 'Search' }));
  filterForm.addEventListener('submit', (ev) => { ev.preventDefault(); pager.reset(); });

  // Add or edit.
  const f = {
    pattern: h('input', { id: 'bl-pattern', required: true, autocomplete: 'off', placeholder: '+86170*' }),
    category: select(categories, { id: 'bl-category' }),
    confidence: h('input', { id: 'bl-confidence', type: 'number', min: '0', max: '100', value: '90' }),
    reason: h('input', { id: 'bl-reason', autocomplete: 'off', maxlength: '200' }),
    expire: h('input', { id: 'bl-expire', type: 'datetime-local' }),
  };
  let editing = null;
  const formTitle = h('h2', { text: 'Add an entry' });
  const submit = h('button', { id: 'bl-submit', type: 'submit', text: 'Add entry' });
  const cancel = h('button', { type: 'button', class: 'secondary', text: 'Cancel edit', hidden: true, onclick: () => setEditing(null) });
  const editErr = errorBox('bl-edit-error');
  const editForm = h('form', {},
    h('div', { class: 'row' },
      field('Pattern', f.pattern, 'A number in E.164, or a prefix ending in * such as +86170*'),
      field('Category', f.category), field('Confidence (0-100)', f.confidence)),
    field('Reason', f.reason),
    field('Expires (optional)', f.expire, 'An expired entry no longer matches.'),
    h('div', { class: 'actions' }, submit, cancel), editErr);

  function setEditing(e) {
    editing = e;
    editErr.textContent = '';
    formTitle.textContent = e ? 'Edit ' + e.pattern : 'Add an entry';
    submit.textContent = e ? 'Save changes' : 'Add entry';
    cancel.hidden = !e;
    f.pattern.value = e ? e.pattern : '';
    f.category.value = e ? e.category : categories[0][0];
    f.confidence.value = e ? String(e.confidence || 0) : '90';
    f.reason.value = e ? (e.reason || '') : '';
    f.expire.value = e ? toLocalInput(e.expireTime) : '';
    if (e) f.pattern.focus();
  }

  editForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    editErr.textContent = '';
    const entry = {
      pattern: f.pattern.value.trim(), category: f.category.value,
      confidence: Number(f.confidence.value || 0), reason: f.reason.value.trim(),
    };
    const exp = toRFC3339(f.expire.value);
    if (exp) entry.expireTime = exp;
    try {
      let saved;
      if (editing) {
        const mask = 'pattern,category,confidence,reason,expire_time';
        saved = await api.patch('/v1/blocklist/entries/' + seg(editing.entryId) + query({ update_mask: mask }), entry);
        notify('Saved ' + saved.pattern + '.');
      } else {
        saved = await api.post('/v1/blocklist/entries', entry);
        notify('Blocked ' + saved.pattern + '.');
      }
      setEditing(null);
      await pager.reset();
    } catch (e) { showError(editErr, e); }
  });

  function entryTable(caption, entries) {
    return table(caption, ['Pattern', 'Kind', 'Category', 'Source', 'Confidence', 'Reason', 'Updated', 'Expires', 'Actions'],
      entries.map((e) => [
        h('span', { class: 'pattern', text: e.pattern }),
        e.kind === 'ENTRY_KIND_PREFIX' ? 'prefix' : 'number',
        label(categories, e.category), label(sources, e.source), String(e.confidence || 0), e.reason || '',
        fmtTime(e.updateTime), fmtTime(e.expireTime),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', text: 'Edit', 'aria-label': 'Edit ' + e.pattern, onclick: () => setEditing(e) }),
          confirmButton('Delete', 'Really delete?', async () => {
            try {
              await api.del('/v1/blocklist/entries/' + seg(e.entryId));
              notify('Deleted ' + e.pattern + '.');
              await pager.reset();
            } catch (err) { showError(listErr, err); }
          }, { 'aria-label': 'Delete ' + e.pattern })),
      ]));
  }

  // Export.
  const exportErr = errorBox();
  const exportBtn = h('button', {
    type: 'button', class: 'secondary', text: 'Download export (NDJSON)',
    onclick: async () => {
      exportErr.textContent = '';
      exportBtn.disabled = true;
      try {
        const blob = await api.blob('/v1/blocklist:export' + query({ category: cat.value, source: src.value }));
        download(blob, 'blocklist-export.ndjson');
        notify('Export downloaded.');
      } catch (e) { showError(exportErr, e); } finally { exportBtn.disabled = false; }
    },
  });

  root.append(
    h('section', { class: 'panel', 'aria-labelledby': 'bl-find' }, h('h2', { id: 'bl-find', text: 'Is a number blocked?' }), findForm, findErr, found),
    h('section', { class: 'panel', 'aria-labelledby': 'bl-edit' }, Object.assign(formTitle, { id: 'bl-edit' }), editForm),
    h('section', { class: 'panel', 'aria-labelledby': 'bl-list' }, h('h2', { id: 'bl-list', text: 'Entries' }), filterForm, total, listErr, list, pager.el),
    h('section', { class: 'panel', 'aria-labelledby': 'bl-export' }, h('h2', { id: 'bl-export', text: 'Export' }),
      h('p', { text: 'Every entry of the chosen category and source, one JSON object a line; it imports back as it is.' }), exportBtn, exportErr),
  );
  pager.reset();
}
