// The callback queue (dialer): open requests, oldest first, the customers'
// numbers masked; claim one (its full number comes with the claim), then
// stamp the call with its request id (the stamp form is filled in).
import { h, table, select, field, fmtTime } from '/assets/dom.js';
import { Code, query, seg } from '/assets/api.js';
import { reasons, label, errorBox, showError, Pager } from '/console/screens/common.js';
import { prefillStamp } from '/console/screens/dialer.js';
import { myClaims, rememberClaim, forgetClaim } from '/console/screens/claims.js';

export default {
  id: 'callbacks',
  title: 'Callback queue',
  roles: ['dialer'],
  render,
};

const languages = { 'zh-CN': 'Chinese', en: 'English' };

function windowText(w) {
  return w ? fmtTime(w.startTime) + ' – ' + fmtTime(w.endTime) : 'any time';
}

// lostClaim says in words why a claim failed: the request left the queue
// between the list and the click, most often to another dialer.
export function lostClaim(e, masked) {
  if (e.code === Code.FAILED_PRECONDITION || e.code === Code.NOT_FOUND) {
    return 'Too late: the request of ' + masked + ' is no longer in the queue. Another dialer claimed it first, ' +
      'or the customer cancelled it, or it expired. Nobody calls a customer twice: leave it, and take the next request below.';
  }
  return '';
}

function render(root, { api, notify }) {
  const err = errorBox('cb-error');
  const list = h('div', { id: 'callbacks-list' });
  const claimed = h('div', { id: 'cb-claimed', 'aria-live': 'polite' });
  const reason = select([['', 'All reasons'], ...reasons.filter(([k]) => k !== 'CALL_REASON_MARKETING')], { id: 'cb-reason' });
  reason.addEventListener('change', () => pager.reset());

  const pager = new Pager(async (token) => {
    try {
      const r = await api.get('/v1/callbacks' + query({ reason: reason.value, pageSize: 50, pageToken: token }));
      const rows = r.callbacks || [];
      const what = reason.value ? ' for ' + label(reasons, reason.value) : '';
      list.replaceChildren(rows.length ? table('Open callback requests' + what + ', oldest first', ['Customer', 'Reason', 'Order', 'Language', 'Asked', 'Preferred time', 'Claim'],
        rows.map((c) => [c.calleeNumber, label(reasons, c.reason), c.orderRef || '', languages[c.language] || c.language || '', fmtTime(c.createTime),
          windowText(c.preferredWindow),
          h('button', { type: 'button', text: 'Claim', 'aria-label': 'Claim the request of ' + c.calleeNumber + ' (' + label(reasons, c.reason) + ', asked ' + fmtTime(c.createTime) + ')', onclick: () => claim(c) })]))
        : h('p', { text: reason.value ? 'No open request' + what + '.' : 'The queue is empty.' }));
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
      rememberClaim(got);
      showClaims();
      notify('Claimed: the request is yours. Stamp the call, then dial ' + got.calleeNumber + '.');
    } catch (e) {
      const words = lostClaim(e, c.calleeNumber);
      if (words) err.textContent = words;
      else showError(err, e);
    }
    await pager.reset();
  }

  function stamp(r) {
    prefillStamp({ callee: r.calleeNumber, requestId: r.requestId, reason: r.reason, orderRef: r.orderRef });
    location.hash = '#dialer';
  }

  function showClaims() {
    const mine = myClaims();
    claimed.replaceChildren(...(mine.length ? mine.map((r) => h('article', { class: 'card ok', 'aria-label': 'Claimed request of ' + r.calleeNumber },
      h('h3', { text: 'Call ' + r.calleeNumber }),
      h('dl', {},
        h('dt', { text: 'Reason' }), h('dd', { text: label(reasons, r.reason) }),
        r.orderRef ? [h('dt', { text: 'Order' }), h('dd', { text: r.orderRef })] : null,
        h('dt', { text: 'Language' }), h('dd', { text: languages[r.language] || r.language || '' }),
        h('dt', { text: 'Asked' }), h('dd', { text: fmtTime(r.createTime) }),
        h('dt', { text: 'Preferred time' }), h('dd', { text: windowText(r.preferredWindow) })),
      h('div', { class: 'actions' },
        h('button', { type: 'button', text: 'Stamp the call', 'aria-label': 'Stamp the call to ' + r.calleeNumber, onclick: () => stamp(r) }),
        h('button', { type: 'button', class: 'secondary', text: 'Forget', 'aria-label': 'Forget the claim on ' + r.calleeNumber,
          onclick: () => { forgetClaim(r.requestId); showClaims(); } }))))
      : [h('p', { text: 'You hold no claimed request in this session.' })]));
  }

  root.append(
    h('section', { class: 'panel', 'aria-labelledby': 'cb-claimed-title' },
      h('h2', { id: 'cb-claimed-title', text: 'Claimed by you' }),
      h('p', { class: 'muted', text: 'A claim holds the request for you alone for a while; if you do not call, it goes back to the queue.' }),
      claimed),
    h('section', { class: 'panel', 'aria-labelledby': 'cb-queue-title' },
      h('h2', { id: 'cb-queue-title', text: 'Open requests' }),
      h('p', { text: 'Customers who asked to be called back. Their numbers show in full once you claim a request (nobody else gets it); then stamp the call: the customer\'s app says it is the callback they asked for.' }),
      h('div', { class: 'row' }, field('Reason', reason),
        h('button', { type: 'button', class: 'secondary', text: 'Refresh', onclick: () => { err.textContent = ''; pager.reset(); } })),
      err, list, pager.el));
  showClaims();
  pager.reset();
}
