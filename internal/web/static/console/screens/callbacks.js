// The callback queue (dialer): open requests, oldest first; claim one, then
// stamp the call with its request id (the stamp form is filled in).
import { h, table, fmtTime } from '/assets/dom.js';
import { Code, query, seg } from '/assets/api.js';
import { reasons, label, errorBox, showError, Pager } from '/console/screens/common.js';
import { prefillStamp } from '/console/screens/dialer.js';

export default {
  id: 'callbacks',
  title: 'Callback queue',
  roles: ['dialer'],
  render,
};

function render(root, { api, notify }) {
  const err = errorBox();
  const list = h('div', { id: 'callbacks-list' });
  const pager = new Pager(async (token) => {
    err.textContent = '';
    try {
      const r = await api.get('/v1/callbacks' + query({ pageSize: 50, pageToken: token }));
      const rows = r.callbacks || [];
      list.replaceChildren(rows.length ? table('Open callback requests, oldest first', ['Customer', 'Reason', 'Order', 'Language', 'Asked', 'Window', 'Claim'],
        rows.map((c) => [c.calleeNumber, label(reasons, c.reason), c.orderRef || '', c.language || '', fmtTime(c.createTime),
          c.preferredWindow ? fmtTime(c.preferredWindow.startTime) + ' – ' + fmtTime(c.preferredWindow.endTime) : '',
          h('button', { type: 'button', text: 'Claim', 'aria-label': 'Claim the request of ' + c.calleeNumber, onclick: () => claim(c) })]))
        : h('p', { text: 'The queue is empty.' }));
      return r.nextPageToken;
    } catch (e) {
      if (e.code === Code.UNIMPLEMENTED) {
        list.replaceChildren(h('p', { class: 'notice', text: 'This server does not run the callback queue yet. When it does, open requests show here.' }));
      } else {
        showError(err, e);
      }
      return '';
    }
  });
  async function claim(c) {
    err.textContent = '';
    try {
      const got = await api.post('/v1/callbacks/' + seg(c.requestId) + ':claim', {});
      prefillStamp({ callee: got.calleeNumber, requestId: got.requestId, reason: got.reason, orderRef: got.orderRef });
      notify('Claimed: stamp the call now.');
      location.hash = '#dialer';
    } catch (e) { showError(err, e); }
  }
  root.append(h('p', { text: 'Customers who asked to be called back. Claim one (nobody else gets it), then stamp the call: the customer\'s app says it is the callback they asked for.' }),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', text: 'Refresh', onclick: () => pager.reset() })), err, list, pager.el);
  pager.reset();
}
