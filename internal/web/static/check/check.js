// The customer's check page: what a platform app shows. Chinese by default,
// English on request; every server sentence comes in the chosen language.
import { h } from '/assets/dom.js';
import { Client, Code, devAvailable, devToken, seg } from '/assets/api.js';
import { Session } from '/assets/session.js';
import { strings, reasonNames } from '/check/i18n.js';
import { watch } from '/check/watch.js';

const $ = (id) => document.getElementById(id);
const session = new Session('callverify.check.token');
let lang = sessionStorage.getItem('callverify.check.lang') === 'en' ? 'en' : 'zh-CN';
const t = (k, n) => String(strings[lang][k]).replace('{n}', n === undefined ? '' : String(n));
const api = new Client(() => session.token, () => signOut());
let stopWatch = null;
let languageChosen = false; // the callback's language follows the page's until picked
let lastCheck = null; // the last CheckCaller answer, re-rendered on a language switch
const cards = new Map(); // call id -> MyCall

function fmt(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString(lang, { dateStyle: 'short', timeStyle: 'short' });
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.title = t('brand');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  const b = $('lang');
  b.textContent = t('switchTo');
  b.setAttribute('lang', lang === 'en' ? 'zh-CN' : 'en');
  const sel = $('callback-reason');
  const cur = sel.value;
  sel.replaceChildren(...Object.entries(reasonNames[lang]).filter(([k]) => k !== 'CALL_REASON_MARKETING')
    .map(([k, v]) => h('option', { value: k, text: v })));
  if (cur) sel.value = cur;
  if (!languageChosen) $('callback-language').value = lang;
  const c = session.claims();
  $('who').textContent = c ? t('signedInAs') + (c.phone || c.sub) : '';
}

function signedIn() {
  const c = session.claims();
  return !!c && c.role === 'customer';
}

function show() {
  const on = signedIn();
  $('signin').hidden = on;
  $('app').hidden = !on;
  applyLanguage();
  if (on) {
    loadCalls();
    loadCallbacks();
    startWatch();
  }
}

function signOut() {
  if (stopWatch) stopWatch();
  stopWatch = null;
  session.clear();
  cards.clear();
  $('verdict').replaceChildren();
  $('calls').replaceChildren();
  $('my-callbacks').replaceChildren();
  $('callback-result').textContent = '';
  show();
}

// --- the verdict card

function codeBlock(code, until) {
  return [
    h('p', { text: t('codeSays') }),
    h('p', { class: 'code-big', 'data-testid': 'code', text: code }),
    until ? h('p', { class: 'muted', text: t('validUntil') + ' ' + fmt(until) }) : null,
  ];
}

function callFacts(call) {
  const reason = (reasonNames[lang][call.reason] || '') + (call.reasonText ? ' · ' + call.reasonText : '');
  return h('dl', {},
    h('dt', { text: t('agent') }), h('dd', { text: (call.agentName || '') + (call.agentId ? ' (' + call.agentId + ')' : '') }),
    h('dt', { text: t('reason') }), h('dd', { text: reason }),
    call.orderRef ? [h('dt', { text: t('order') }), h('dd', { text: call.orderRef })] : null);
}

function confirmForm(callId) {
  const input = h('input', { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6', pattern: '[0-9]{6}', required: true });
  input.id = 'code-' + callId;
  const out = h('p', { role: 'status' });
  const form = h('form', { class: 'confirm' },
    h('div', { class: 'field' }, h('label', { for: input.id, text: t('typeCode') }), input),
    h('button', { type: 'submit', text: t('confirm') }), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const r = await api.post('/v1/me/calls/' + seg(callId) + ':confirm', { code: input.value.trim() });
      if (r.match) out.textContent = t('codeMatch');
      else if (Number(r.attemptsRemaining || 0) > 0) out.textContent = t('codeWrong', r.attemptsRemaining);
      else out.textContent = t('codeLocked');
    } catch (e) {
      out.textContent = e.code === Code.NOT_FOUND || e.code === Code.FAILED_PRECONDITION ? t('codeLocked') : e.message;
    }
  });
  return form;
}

function reportForm(number) {
  const note = h('textarea', { rows: '2', maxlength: '500' });
  note.id = 'report-note';
  const out = h('p', { role: 'status' });
  const form = h('form', { class: 'report' },
    h('div', { class: 'field' }, h('label', { for: note.id, text: t('reportNote') }), note),
    h('button', { type: 'submit', class: 'secondary', text: t('reportSend') }), out);
  form.hidden = true;
  const open = h('button', { type: 'button', class: 'secondary', text: t('report'), 'aria-expanded': 'false' });
  open.addEventListener('click', () => {
    form.hidden = !form.hidden;
    open.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) note.focus();
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api.post('/v1/reports', { callerNumber: number, note: note.value.trim() });
      out.textContent = t('reported');
    } catch (e) { out.textContent = e.message; }
  });
  return h('div', {}, open, form);
}

function verdictCard(r) {
  const advice = (r.advice || []).length ? h('ul', {}, r.advice.map((a) => h('li', { text: a }))) : null;
  switch (r.verdict) {
    case 'VERDICT_VERIFIED':
      return h('article', { class: 'card ok', 'data-verdict': r.verdict, 'aria-labelledby': 'verdict-title' },
        h('h3', { id: 'verdict-title', text: '✓ ' + t('verified') }),
        h('p', { text: r.message || '' }),
        r.callback ? h('p', { class: 'notice', text: t('callbackYours') }) : null,
        callFacts(r.call || {}), codeBlock(r.confirmationCode || '', r.codeExpiresAt),
        r.call && r.call.callId ? confirmForm(r.call.callId) : null);
    case 'VERDICT_SPOOFED_HOTLINE':
    case 'VERDICT_KNOWN_FRAUD':
    case 'VERDICT_OFFICIAL_NOT_CALLING':
      return h('article', { class: 'card bad', 'data-verdict': r.verdict, 'aria-labelledby': 'verdict-title' },
        h('h3', { id: 'verdict-title', text: '✗ ' + t('fraud') }),
        h('p', { text: r.message || '' }),
        h('h4', { text: t('whatNow') }),
        advice || h('ul', {}, strings[lang].fraudSteps.map((s) => h('li', { text: s }))),
        reportForm(r.callerNumber));
    default:
      return h('article', { class: 'card neutral', 'data-verdict': r.verdict || 'VERDICT_UNKNOWN', 'aria-labelledby': 'verdict-title' },
        h('h3', { id: 'verdict-title', text: t('unknown') }),
        h('p', { text: r.message || '' }), advice, reportForm(r.callerNumber));
  }
}

async function check(number) {
  $('check-error').textContent = '';
  try {
    lastCheck = await api.post('/v1/verify/caller', { callerNumber: number, language: lang });
    $('verdict').replaceChildren(verdictCard(lastCheck));
  } catch (e) {
    $('verdict').replaceChildren();
    $('check-error').textContent = e.message;
  }
}

// --- the call cards

function callCard(mc) {
  const c = mc.call || {};
  const active = c.state === 'CALL_STATE_ACTIVE';
  return h('article', { class: 'card ' + (active ? 'ok' : 'neutral'), 'data-call': c.callId, 'aria-label': c.callerNumber },
    h('h3', { text: c.callerNumber }),
    h('p', { text: mc.message || '' }),
    mc.callback ? h('p', { class: 'notice', text: t('callbackYours') }) : null,
    callFacts(c),
    active && mc.confirmationCode ? codeBlock(mc.confirmationCode, mc.codeExpiresAt) : null);
}

function renderCards() {
  const list = [...cards.values()].filter((mc) => mc.call && mc.call.state === 'CALL_STATE_ACTIVE');
  $('calls').replaceChildren(...(list.length ? list.map(callCard) : [h('p', { text: t('noCalls') })]));
}

async function loadCalls() {
  $('calls-error').textContent = '';
  try {
    const r = await api.get('/v1/me/calls?language=' + encodeURIComponent(lang));
    cards.clear();
    for (const mc of r.calls || []) cards.set(mc.call.callId, mc);
    renderCards();
  } catch (e) { $('calls-error').textContent = e.message; }
}

// --- the customer's callback requests

function stateText(r) {
  switch (r.state) {
    case 'CALLBACK_STATE_OPEN': return r.queuePosition ? t('stateOpen', r.queuePosition) : t('stateOpenNoPlace');
    case 'CALLBACK_STATE_CLAIMED': return t('stateClaimed');
    case 'CALLBACK_STATE_CALLED': return t('stateCalled');
    case 'CALLBACK_STATE_CANCELLED': return t('stateCancelled');
    case 'CALLBACK_STATE_EXPIRED': return t('stateExpired');
    default: return '';
  }
}

function requestItem(r) {
  const waiting = r.state === 'CALLBACK_STATE_OPEN' || r.state === 'CALLBACK_STATE_CLAIMED';
  const w = r.preferredWindow;
  const title = (reasonNames[lang][r.reason] || '') + (r.orderRef ? ' · ' + r.orderRef : '');
  return h('li', { class: 'request', 'data-request': r.requestId, 'data-state': r.state },
    h('p', {}, h('strong', { text: title })),
    h('p', { class: 'state', text: stateText(r) }),
    h('p', { class: 'muted', text: t('askedAt') + ' ' + fmt(r.createTime) + ' · ' + t('preferred') + ' ' +
      (w ? fmt(w.startTime) + ' – ' + fmt(w.endTime) : t('anyTime')) }),
    waiting ? h('button', { type: 'button', class: 'secondary', text: t('cancel'), 'aria-label': t('cancelNamed', fmt(r.createTime)),
      onclick: () => cancelCallback(r) }) : null);
}

async function loadCallbacks() {
  $('my-callbacks-error').textContent = '';
  try {
    const r = await api.get('/v1/me/callbacks');
    const list = r.callbacks || [];
    $('my-callbacks').replaceChildren(...(list.length ? list.map(requestItem) : [h('li', { text: t('noCallbacks') })]));
  } catch (e) {
    $('my-callbacks').replaceChildren();
    if (e.code !== Code.UNIMPLEMENTED) $('my-callbacks-error').textContent = e.message;
  }
}

async function cancelCallback(r) {
  let problem = '';
  try {
    await api.post('/v1/me/callbacks/' + seg(r.requestId) + ':cancel', {});
    $('callback-result').textContent = t('cancelled');
  } catch (e) {
    problem = e.code === Code.NOT_FOUND ? t('cancelTooLate') : e.message;
  }
  await loadCallbacks();
  // After the list, which clears its own error line.
  if (problem) $('my-callbacks-error').textContent = problem;
}

// localTime turns a datetime-local value into RFC 3339, '' when empty.
function localTime(v) {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

function startWatch() {
  if (stopWatch) stopWatch();
  stopWatch = watch(api, lang, (ev) => {
    if (ev.type === 'CALL_EVENT_TYPE_RESET') { loadCalls(); return; }
    if (ev.card && ev.card.call) {
      cards.set(ev.card.call.callId, ev.card);
      renderCards();
      // The call answers one of the customer's requests: its state changed.
      if (ev.card.callback) loadCallbacks();
    }
  }, (live) => {
    $('live').textContent = live ? t('liveOn') : t('liveOff');
    watching = live;
  });
}

// Without the stream, the cards (and their codes, which change) are read
// again every 20 seconds while signed in.
let watching = false;
setInterval(() => { if (!watching && signedIn() && !document.hidden) loadCalls(); }, 20000);

// --- wiring

$('lang').addEventListener('click', () => {
  lang = lang === 'en' ? 'zh-CN' : 'en';
  sessionStorage.setItem('callverify.check.lang', lang);
  applyLanguage();
  if (signedIn()) {
    // Server sentences come in the language asked for: ask again.
    if (lastCheck) check(lastCheck.callerNumber);
    loadCalls();
    loadCallbacks();
    startWatch();
  }
});

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const tok = $('token').value.trim();
  const probe = new Session('callverify.check.probe');
  probe.set(tok);
  const c = probe.claims();
  probe.clear();
  if (!c || c.role !== 'customer') { $('signin-error').textContent = t('notToken'); return; }
  session.set(tok);
  $('token').value = '';
  $('signin-error').textContent = '';
  show();
});

$('dev-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const r = await devToken('customer', $('dev-phone').value.trim());
    session.set(r.token);
    $('signin-error').textContent = '';
    show();
  } catch (e) { $('signin-error').textContent = e.message; }
});

$('check-form').addEventListener('submit', (ev) => { ev.preventDefault(); check($('caller').value.trim()); });
$('refresh').addEventListener('click', () => { $('callback-result').textContent = ''; loadCalls(); loadCallbacks(); });
$('callback-language').addEventListener('change', () => { languageChosen = true; });
$('signout').addEventListener('click', signOut);

$('callback-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const out = $('callback-result');
  const from = localTime($('callback-from').value);
  const until = localTime($('callback-until').value);
  if (!from !== !until) { out.textContent = t('windowBoth'); return; }
  const body = { reason: $('callback-reason').value, orderRef: $('callback-order').value.trim(), language: $('callback-language').value };
  if (from) body.preferredWindow = { startTime: from, endTime: until };
  try {
    const r = await api.post('/v1/me/callbacks', body);
    out.textContent = t('callbackSent', r.queuePosition || 1);
    $('callback-order').value = '';
  } catch (e) {
    // The server's sentences are English: the ones a customer can meet
    // here come in the page's language.
    if (e.code === Code.UNIMPLEMENTED) out.textContent = t('callbackUnavailable');
    else if (e.code === Code.RESOURCE_EXHAUSTED) out.textContent = t('tooMany');
    else if (e.code === Code.INVALID_ARGUMENT && /preferred_window/.test(e.message)) out.textContent = t('windowBad');
    else out.textContent = e.message;
  }
  await loadCallbacks();
});

devAvailable().then((yes) => { $('dev-form').hidden = !yes; });
show();
