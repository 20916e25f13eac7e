// Reported numbers: busiest first, with the customers' notes; resolve each
// to a block or a dismissal.
import { h, field, select, table, fmtTime, enumText } from '/assets/dom.js';
import { query, seg } from '/assets/api.js';
import { categories, errorBox, showError, Pager } from '/console/screens/common.js';

export default {
  id: 'reports',
  title: 'Reported numbers',
  roles: ['analyst', 'admin'],
  render,
};

function render(root, { api, notify }) {
  const err = errorBox();
  const list = h('div', { id: 'reports-table' });
  const pager = new Pager(async (token) => {
    err.textContent = '';
    try {
      const r = await api.get('/v1/reported-numbers' + query({ pageSize: 50, pageToken: token }));
      const rows = r.reportedNumbers || [];
      list.replaceChildren(rows.length ? table('Reported numbers, busiest first',
        ['Number', 'Reports', 'Reporters', 'First', 'Last', 'Status', 'Notes', 'Resolve'],
        rows.map((n) => [
          n.callerNumber, String(n.reportCount || 0), String(n.distinctReporters || 0),
          fmtTime(n.firstReportTime), fmtTime(n.lastReportTime), enumText(n.status, 'REPORT_STATUS_'),
          h('ul', {}, (n.notes || []).map((t) => h('li', { text: t }))),
          n.status === 'REPORT_STATUS_OPEN' ? resolveForm(n) : '',
        ])) : h('p', { text: 'No reported numbers.' }));
      return r.nextPageToken;
    } catch (e) {
      showError(err, e);
      return '';
    }
  });

  function resolveForm(n) {
    const cat = select(categories, { 'aria-label': 'Category for ' + n.callerNumber });
    const reason = h('input', { autocomplete: 'off', 'aria-label': 'Reason for ' + n.callerNumber, value: (n.reportCount || 0) + ' customer reports' });
    const act = async (action) => {
      err.textContent = '';
      try {
        await api.post('/v1/reported-numbers/' + seg(n.callerNumber) + ':resolve', { action, category: cat.value, reason: reason.value.trim() });
        notify((action === 'RESOLVE_ACTION_BLOCK' ? 'Blocked ' : 'Dismissed ') + n.callerNumber + '.');
        await pager.reset();
      } catch (e) { showError(err, e); }
    };
    return h('div', { class: 'actions' }, cat, reason,
      h('button', { type: 'button', text: 'Block', 'aria-label': 'Block ' + n.callerNumber, onclick: () => act('RESOLVE_ACTION_BLOCK') }),
      h('button', { type: 'button', class: 'secondary', text: 'Dismiss', 'aria-label': 'Dismiss ' + n.callerNumber, onclick: () => act('RESOLVE_ACTION_DISMISS') }));
  }

  root.append(h('p', { text: 'Numbers customers reported, grouped by number, the most reported first. Block one to add it to the blocklist, or dismiss it.' }),
    err, list, pager.el);
  pager.reset();
}
