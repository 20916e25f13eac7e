// Dialer: stamp a call before dialling, read the code out (shown big), and
// the calls stamped in this session with their live code; end them.
import { h, field, select, fmtTime, enumText } from '/assets/dom.js';
import { Code, seg } from '/assets/api.js';
import { reasons, label, errorBox, showError } from '/console/screens/common.js';
import { forgetClaim } from '/console/screens/claims.js';

export default {
  id: 'dialer',
  title: 'My calls',
  roles: ['dialer'],
  render,
};

// The call ids this tab stamped: a dialer may read only its own calls, and
// the API has no list of them.
const KEY = 'callverify.console.mycalls';
function myCalls() {
  try { return JSON.parse(sessionStorage.getItem(KEY) || '[]'); } catch (e) { return []; }
}
function remember(id) { sessionStorage.setItem(KEY, JSON.stringify([id, ...myCalls().filter((x) => x !== id)].slice(0, 50))); }

// prefill lets the callback queue hand a claimed request to the stamp form.
export function prefillStamp(values) { sessionStorage.setItem(KEY + '.prefill', JSON.stringify(values)); }

function render(root, { api, notify }) {
  const f = {
    caller: h('input', { id: 'd-caller', required: true, autocomplete: 'off', placeholder: '400-800-8888' }),
    callee: h('input', { id: 'd-callee', required: true, autocomplete: 'off', placeholder: '138 0013 8000' }),
    reason: select(reasons, { id: 'd-reason' }),
    text: h('input', { id: 'd-text', maxlength: '64', autocomplete: 'off' }),
    order: h('input', { id: 'd-order', autocomplete: 'off' }),
    agentId: h('input', { id: 'd-agent-id', autocomplete: 'off' }),
    agentName: h('input', { id: 'd-agent-name', autocomplete: 'off' }),
    ttl: h('input', { type: 'number', min: '60', max: '3600', value: '600' }),
    callback: h('input', { id: 'd-callback', autocomplete: 'off' }),
  };
  let pre = null;
  try { pre = JSON.parse(sessionStorage.getItem(KEY + '.prefill') || 'null'); } catch (e) { pre = null; }
  sessionStorage.removeItem(KEY + '.prefill');
  if (pre) {
    f.callee.value = pre.callee || '';
    f.callback.value = pre.requestId || '';
    if (pre.reason) f.reason.value = pre.reason;
    f.order.value = pre.orderRef || '';
  }
  const answering = pre && pre.requestId ? h('p', { id: 'd-answering', class: 'notice',
    text: 'This call answers the callback request of ' + (pre.callee || '') + ' you claimed: type the official line and stamp it. ' +
      'The customer\'s app will say it is the callback they asked for.' }) : null;
  const err = errorBox('d-error');
  const stamped = h('div', { id: 'd-stamped', 'aria-live': 'polite' });
  const form = h('form', {}, answering,
    h('div', { class: 'row' }, field('Official line', f.caller), field('Customer number', f.callee), field('Reason', f.reason)),
    h('div', { class: 'row' }, field('Reason text', f.text, 'At most 64 characters, no links.'), field('Order', f.order),
      field('Agent id', f.agentId), field('Agent name', f.agentName)),
    h('div', { class: 'row' }, field('Valid for (seconds)', f.ttl), field('Callback request (optional)', f.callback, 'Set when this call answers a claimed callback.')),
    h('button', { id: 'd-stamp', type: 'submit', text: 'Stamp call' }), err);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    try {
      const r = await api.post('/v1/calls', {
        callerNumber: f.caller.value.trim(), calleeNumber: f.callee.value.trim(), reason: f.reason.value,
        reasonText: f.text.value.trim(), orderRef: f.order.value.trim(), agentId: f.agentId.value.trim(),
        agentName: f.agentName.value.trim(), ttlSeconds: Number(f.ttl.value || 600), callbackRequestId: f.callback.value.trim(),
      });
      remember(r.call.callId);
      if (r.call.callbackRequestId) forgetClaim(r.call.callbackRequestId);
      if (answering) answering.remove();
      notify('Stamped. Dial now and read out the code.');
      stamped.replaceChildren(card(r.call, r.confirmationCode, r.codeExpiresAt));
      await loadMine();
    } catch (e) {
      const id = f.callback.value.trim();
      if (id && e.code === Code.FAILED_PRECONDITION && /callback_request_id/.test(e.message)) {
        // The claim lapsed (it holds a request for a while only), went to
        // another dialer, or is for another number: stamping cannot fix it.
        forgetClaim(id);
        err.textContent = 'Not stamped: you no longer hold a claim on this callback request for ' + (f.callee.value.trim() || 'this number') +
          '. A claim holds a request for a while only, then it goes back to the queue, where another dialer may take it. ' +
          'Open the callback queue and claim a request again, or clear the callback request field to stamp an ordinary call.';
      } else {
        showError(err, e);
      }
    }
  });

  const mine = h('div', { class: 'mycalls' });
  const mineErr = errorBox();
  function card(c, code, until) {
    const codeEl = h('p', { class: 'code-big', 'aria-label': 'Code to read out: ' + (code || '').split('').join(' '), text: code || '——' });
    const endBtn = h('button', { type: 'button', class: 'secondary', text: 'End call', onclick: async () => {
      try {
        await api.post('/v1/calls/' + seg(c.callId) + ':end', {});
        notify('Call ended.');
        const shown = stamped.firstElementChild;
        if (shown && shown.dataset.call === c.callId) stamped.replaceChildren();
        await loadMine();
      } catch (e) { showError(mineErr, e); }
    } });
    return h('article', { class: 'card' + (c.state === 'CALL_STATE_ACTIVE' ? ' ok' : ' neutral'), 'data-call': c.callId, 'aria-label': 'Call to ' + c.calleeNumber },
      h('h3', { text: 'To ' + c.calleeNumber }),
      c.state === 'CALL_STATE_ACTIVE' ? [h('p', { text: 'Read out this code:' }), codeEl, h('p', { class: 'muted', text: 'valid until ' + fmtTime(until) })] : null,
      h('dl', {},
        h('dt', { text: 'From' }), h('dd', { text: c.callerNumber }),
        h('dt', { text: 'Reason' }), h('dd', { text: label(reasons, c.reason) + (c.reasonText ? ': ' + c.reasonText : '') }),
        c.callbackRequestId ? [h('dt', { text: 'Answers' }), h('dd', { text: 'the customer\'s callback request' })] : null,
        h('dt', { text: 'State' }), h('dd', { text: enumText(c.state, 'CALL_STATE_') }),
        h('dt', { text: 'Expires' }), h('dd', { text: fmtTime(c.expireTime) })),
      c.state === 'CALL_STATE_ACTIVE' ? h('div', { class: 'actions' }, endBtn) : null);
  }
  async function loadMine() {
    mineErr.textContent = '';
    const cards = [];
    for (const id of myCalls()) {
      try {
        const c = await api.get('/v1/calls/' + seg(id));
        let code = '';
        let until = '';
        if (c.state === 'CALL_STATE_ACTIVE') {
          const k = await api.get('/v1/calls/' + seg(id) + '/code');
          code = k.confirmationCode;
          until = k.codeExpiresAt;
        }
        cards.push(card(c, code, until));
      } catch (e) { /* gone (pruned or not ours): drop it from view */ }
    }
    mine.replaceChildren(...(cards.length ? cards : [h('p', { text: 'No calls stamped in this session yet.' })]));
  }
  const refresh = h('button', { type: 'button', class: 'secondary', text: 'Refresh codes', onclick: loadMine });
  root.append(
    h('section', { class: 'panel', 'aria-labelledby': 'd-stamp-title' }, h('h2', { id: 'd-stamp-title', text: 'Stamp a call before dialling' }), form, stamped),
    h('section', { class: 'panel', 'aria-labelledby': 'd-mine-title' }, h('h2', { id: 'd-mine-title', text: 'Calls stamped in this session' }),
      h('div', { class: 'actions' }, refresh), mineErr, mine));
  loadMine();
  // Codes change every so often: keep the cards' codes current while the
  // screen is open.
  const timer = setInterval(() => { if (root.isConnected) loadMine(); else clearInterval(timer); }, 20000);
}
