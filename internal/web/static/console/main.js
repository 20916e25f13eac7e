// The console: sign-in, the screens the role may use, and a hash router.
// Each screen is a module of its own (screens/*.js) exporting
// { id, title, roles, render(container, ctx) }.
import { h } from '/assets/dom.js';
import { Client, devAvailable, devToken } from '/assets/api.js';
import { Session } from '/assets/session.js';
import blocklist from '/console/screens/blocklist.js';
import reports from '/console/screens/reports.js';
import importer from '/console/screens/import.js';
import audit from '/console/screens/audit.js';
import official from '/console/screens/official.js';
import keys from '/console/screens/keys.js';
import calls from '/console/screens/calls.js';
import dialer from '/console/screens/dialer.js';
import callbacks from '/console/screens/callbacks.js';

const screens = [blocklist, reports, importer, audit, official, keys, calls, dialer, callbacks];

const $ = (id) => document.getElementById(id);
const session = new Session('callverify.console.token');
const api = new Client(() => session.token, () => {
  notify('Your token was refused (expired or not valid): sign in again.');
  signOut();
});

let statusTimer = 0;
function notify(msg) {
  const s = $('status');
  s.textContent = msg;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => { s.textContent = ''; }, 6000);
}

function allowed() {
  const c = session.claims();
  if (!c) return [];
  return screens.filter((s) => s.roles.includes(c.role));
}

function signOut() {
  session.clear();
  render();
}

function render() {
  const c = session.claims();
  const list = allowed();
  const signedIn = c && list.length > 0;
  $('signin').hidden = !!signedIn;
  $('nav').hidden = !signedIn;
  $('signout').hidden = !signedIn;
  $('who').textContent = signedIn ? 'Signed in as ' + c.sub + ' (' + c.role + ')' : '';
  $('screen').replaceChildren();
  if (!signedIn) {
    if (c && list.length === 0) {
      $('signin-error').textContent = 'This token is for the role "' + c.role + '", which has no screens here. Customers use the check page at /check/.';
    }
    return;
  }
  $('navlist').replaceChildren(...list.map((s) => h('li', {}, h('a', { href: '#' + s.id, 'data-screen': s.id, text: s.title }))));
  route(false);
}

function route(focus) {
  const list = allowed();
  if (list.length === 0) return;
  const id = location.hash.slice(1);
  const screen = list.find((s) => s.id === id) || list[0];
  for (const a of document.querySelectorAll('#navlist a')) {
    if (a.dataset.screen === screen.id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = screen.title + ' · callverify console';
  const heading = h('h1', { tabindex: '-1', text: screen.title });
  const body = h('div', { class: 'screen-body' });
  $('screen').replaceChildren(heading, body);
  screen.render(body, { api, claims: session.claims(), notify });
  if (focus) heading.focus();
}

function signIn(token) {
  session.set(token);
  $('signin-error').textContent = '';
  $('token').value = '';
  render();
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const t = $('token').value.trim();
  if (!session.claims.call({ token: t })) {
    $('signin-error').textContent = 'That is not a bearer token (a JWT has three parts separated by dots).';
    return;
  }
  signIn(t);
});

$('dev-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const r = await devToken($('dev-role').value);
    signIn(r.token);
  } catch (e) {
    $('signin-error').textContent = e.message;
  }
});

$('signout').addEventListener('click', signOut);
window.addEventListener('hashchange', () => route(true));

devAvailable().then((yes) => { $('dev').hidden = !yes; });
render();
