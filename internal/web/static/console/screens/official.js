// Official numbers (admin): the platform's own lines; add and delete.
import { h, field, select, table, fmtTime, confirmButton, enumText } from '/assets/dom.js';
import { query, seg } from '/assets/api.js';
import { errorBox, showError, Pager } from '/console/screens/common.js';

export default {
  id: 'official',
  title: 'Official numbers',
  roles: ['admin'],
  render,
};

const directions = [['DIRECTION_OUTBOUND', 'Outbound (places calls)'], ['DIRECTION_INBOUND_ONLY', 'Inbound only (a hotline that never calls)'], ['DIRECTION_BOTH', 'Both']];

function render(root, { api, notify }) {
  const err = errorBox();
  const list = h('div', { id: 'on-list-table' });
  const pager = new Pager(async (token) => {
    err.textContent = '';
    try {
      const r = await api.get('/v1/official-numbers' + query({ pageSize: 100, pageToken: token }));
      const rows = r.officialNumbers || [];
      list.replaceChildren(rows.length ? table('Official numbers', ['Number', 'Name', 'Direction', 'Description', 'Created', 'Actions'],
        rows.map((n) => [n.number, n.displayName || '', enumText(n.direction, 'DIRECTION_'), n.description || '', fmtTime(n.createTime),
          confirmButton('Delete', 'Really delete? Its live calls end', async () => {
            try {
              await api.del('/v1/official-numbers/' + seg(n.number));
              notify('Deleted ' + n.number + '.');
              await pager.reset();
            } catch (e) { showError(err, e); }
          }, { 'aria-label': 'Delete ' + n.number })]))
        : h('p', { text: 'No official numbers yet.' }));
      return r.nextPageToken;
    } catch (e) {
      showError(err, e);
      return '';
    }
  });

  const number = h('input', { id: 'on-number', required: true, autocomplete: 'off', placeholder: '400-800-8888' });
  const name = h('input', { id: 'on-name', autocomplete: 'off', placeholder: 'Customer service' });
  const dir = select(directions, { id: 'on-direction' });
  const desc = h('input', { autocomplete: 'off' });
  const addErr = errorBox();
  const form = h('form', {},
    h('div', { class: 'row' }, field('Number', number), field('Display name', name), field('Direction', dir)),
    field('Description', desc), h('button', { id: 'on-submit', type: 'submit', text: 'Add official number' }), addErr);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    addErr.textContent = '';
    try {
      const n = await api.post('/v1/official-numbers', { number: number.value.trim(), displayName: name.value.trim(), direction: dir.value, description: desc.value.trim() });
      notify('Registered ' + n.number + '.');
      number.value = ''; name.value = ''; desc.value = '';
      await pager.reset();
    } catch (e) { showError(addErr, e); }
  });

  root.append(
    h('section', { class: 'panel', 'aria-labelledby': 'on-add' }, h('h2', { id: 'on-add', text: 'Register a number' }), form),
    h('section', { class: 'panel', 'aria-labelledby': 'on-list' }, h('h2', { id: 'on-list', text: 'Registered numbers' }), err, list, pager.el));
  pager.reset();
}
