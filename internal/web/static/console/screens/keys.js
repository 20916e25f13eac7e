// Signing keys (admin): rotate, and see which keys stay published in the
// JWKS that verifiers fetch.
import { h, table, fmtTime, enumText, confirmButton } from '/assets/dom.js';
import { errorBox, showError } from '/console/screens/common.js';

export default {
  id: 'keys',
  title: 'Signing keys',
  roles: ['admin'],
  render,
};

function render(root, { api, notify }) {
  const err = errorBox();
  const list = h('div', { id: 'keys-table' });
  async function load() {
    err.textContent = '';
    try {
      const [r, jwks] = await Promise.all([api.get('/v1/signing-keys'), fetch('/.well-known/jwks.json', { cache: 'no-store' }).then((x) => x.json())]);
      const published = new Set((jwks.keys || []).map((k) => k.kid));
      const keys = r.signingKeys || [];
      list.replaceChildren(
        table('Signing keys', ['Key id (kid)', 'Algorithm', 'State', 'Created', 'Retired', 'Published until', 'In /.well-known/jwks.json now'],
          keys.map((k) => [h('code', { text: k.kid }), k.algorithm || '', enumText(k.state, 'SIGNING_KEY_STATE_'), fmtTime(k.createTime),
            fmtTime(k.retireTime), fmtTime(k.publishUntil), published.has(k.kid) ? 'yes' : 'no'])),
        h('p', { class: 'muted', text: published.size + ' keys are published: the current one and every retired key a live call token may still carry.' }));
    } catch (e) { showError(err, e); }
  }
  const rotate = confirmButton('Rotate signing key', 'Really rotate? New tokens get a new key', async () => {
    try {
      const k = await api.post('/v1/signing-keys:rotate', {});
      notify('New current key ' + k.kid + '.');
      await load();
    } catch (e) { showError(err, e); }
  }, { id: 'keys-rotate' });
  root.append(h('p', { text: 'Rotating makes a new key sign new call tokens at once. The old key stays published until every token it signed has expired, so verifiers keep accepting them.' }),
    h('div', { class: 'actions' }, rotate), err, list);
  load();
}
