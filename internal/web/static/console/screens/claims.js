// The callback requests this tab claimed and has not yet stamped a call
// for: a dialer may not list claimed requests (the API has none), and the
// customer's full number comes only with the claim.
const KEY = 'callverify.console.claims';

export function myClaims() {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEY) || '[]');
    return Array.isArray(v) ? v : [];
  } catch (e) { return []; }
}

export function rememberClaim(r) {
  sessionStorage.setItem(KEY, JSON.stringify([r, ...myClaims().filter((x) => x.requestId !== r.requestId)].slice(0, 20)));
}

export function forgetClaim(id) {
  sessionStorage.setItem(KEY, JSON.stringify(myClaims().filter((x) => x.requestId !== id)));
}
