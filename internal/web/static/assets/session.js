// The bearer token lives in this tab's sessionStorage only: gone when the
// tab closes, never in a cookie or localStorage.

export class Session {
  constructor(key) { this.key = key; }

  get token() {
    try { return sessionStorage.getItem(this.key) || ''; } catch (e) { return ''; }
  }

  set(token) { sessionStorage.setItem(this.key, token.trim()); }

  clear() { sessionStorage.removeItem(this.key); }

  // claims decodes the token's payload for display; the server checks it.
  claims() {
    const parts = this.token.split('.');
    if (parts.length !== 3) return null;
    try {
      const b64 = parts[1].replaceAll('-', '+').replaceAll('_', '/');
      const json = decodeURIComponent(Array.from(atob(b64), (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join(''));
      const c = JSON.parse(json);
      return { role: String(c.role || ''), sub: String(c.sub || ''), phone: String(c.phone_number || ''), exp: Number(c.exp || 0) };
    } catch (e) {
      return null;
    }
  }
}
