// Live calls of a line (admin): list them, end them all at once.
import { h, field, table, fmtTime, enumText, confirmButton } from '/assets/dom.js';
import { query } from '/assets/api.js';
import { reasons, label, errorBox, showError, Pager } from '/console/screens/common.js';

export default {
  id: 'calls',
  title: 'Live calls',
  roles: ['admin'],
  render,
};

function render(root, { api, notify }) {
  const line = h('input', { id: 'calls-line', required: true, autocomplete: 'off', placeholder: '400-800-8888' });
  const err = errorBox();
  const list = h('div', { id: 'calls-table' });
  let current = '';
  const pager = new Pager(async (token) => {
    err.textContent = '';
    if (!current) return '';
    try {
      const r = await api.get('/v1/calls' + query({ callerNumber: current, pageSize: 100, pageToken: token }));
      const calls = r.calls || [];
      list.replaceChildren(calls.length ? table('Live calls of ' + current, ['Call', 'To', 'Reason', 'Agent', 'Order', 'State', 'Stamped', 'Expires'],
        calls.map((c) => [h('code', { text: c.callId }), c.calleeNumber, label(reasons, c.reason) + (c.reasonText ? ': ' + c.reasonText : ''),
          (c.agentName || '') + (c.agentId ? ' (' + c.agentId + ')' : ''), c.orderRef || '', enumText(c.state, 'CALL_STATE_'),
          fmtTime(c.createTime), fmtTime(c.expireTime)]))
        : h('p', { text: 'No live calls from ' + current + '.' }));
      return r.nextPageToken;
    } catch (e) {
      showError(err, e);
      return '';
    }
  });
  const form = h('form', { class: 'row' }, field('Official line', line), h('button', { id: 'calls-list', type: 'submit', text: 'List live calls' }));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); current = line.value.trim(); pager.reset(); });
  const endAll = confirmButton('End every live call of this line', 'Really end them all?', async () => {
    if (!line.value.trim()) { err.textContent = 'Type the official line first.'; return; }
    try {
      const r = await api.post('/v1/calls:endByCaller', { callerNumber: line.value.trim() });
      notify('Ended ' + (r.endedCount || 0) + ' calls.');
      current = line.value.trim();
      await pager.reset();
    } catch (e) { showError(err, e); }
  });
  root.append(h('p', { text: 'The calls an official line is placing now. Ending them makes customers\' checks stop saying "verified" at once, e.g. when a line is compromised.' }),
    form, h('div', { class: 'actions' }, endAll), err, list, pager.el);
}
