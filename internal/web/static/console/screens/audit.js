// The audit log, newest first, filtered by actor and action.
import { h, field, table, fmtTime } from '/assets/dom.js';
import { query } from '/assets/api.js';
import { errorBox, showError, Pager } from '/console/screens/common.js';

export default {
  id: 'audit',
  title: 'Audit log',
  roles: ['analyst', 'admin'],
  render,
};

function details(ev) {
  const parts = [];
  for (const [name, v] of [['Before', ev.before], ['After', ev.after]]) {
    if (v && Object.keys(v).length) parts.push(h('details', {}, h('summary', { text: name }), h('pre', { text: JSON.stringify(v, null, 2) })));
  }
  return parts;
}

function render(root, { api }) {
  const actor = h('input', { type: 'search', autocomplete: 'off' });
  const action = h('input', { type: 'search', autocomplete: 'off', placeholder: 'entry.create' });
  const err = errorBox();
  const list = h('div', { id: 'audit-table' });
  const pager = new Pager(async (token) => {
    err.textContent = '';
    try {
      const r = await api.get('/v1/audit-events' + query({ actor: actor.value.trim(), action: action.value.trim(), pageSize: 50, pageToken: token }));
      const events = r.events || [];
      list.replaceChildren(events.length ? table('Audit events, newest first', ['Time', 'Actor', 'Role', 'Action', 'Target', 'Details'],
        events.map((ev) => [fmtTime(ev.time), ev.actor || '', ev.role || '', ev.action || '', ev.target || '', details(ev)]))
        : h('p', { text: 'No events match.' }));
      return r.nextPageToken;
    } catch (e) {
      showError(err, e);
      return '';
    }
  });
  const form = h('form', { class: 'row' },
    field('Actor', actor), field('Action', action, 'e.g. entry.create, entry.import, reported_number.block'),
    h('button', { type: 'submit', text: 'Filter' }));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); pager.reset(); });
  root.append(form, err, list, pager.el);
  pager.reset();
}
