// The REST API, with the bearer token of the session. Errors carry the
// gRPC code and the server's sentence.

export const Code = {
  INVALID_ARGUMENT: 3, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, UNIMPLEMENTED: 12, UNAVAILABLE: 14, UNAUTHENTICATED: 16,
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function errorOf(status, text) {
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  // Streams answer {"error": {...}}; unary calls the status itself.
  if (data && data.error && typeof data.error === 'object') data = data.error;
  const code = data && typeof data.code === 'number' ? data.code : 0;
  const msg = data && typeof data.message === 'string' && data.message ? data.message : 'The server answered HTTP ' + status + '.';
  return new ApiError(status, code, msg);
}

// query builds ?a=1&b=2 from the set values of an object.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// seg escapes one path segment ('+' of a number becomes %2B).
export const seg = (s) => encodeURIComponent(s);

export class Client {
  // token() returns the bearer token or ''; onAuthFail is called on 401.
  constructor(token, onAuthFail) {
    this.token = token;
    this.onAuthFail = onAuthFail || (() => {});
  }

  headers(extra) {
    const h = Object.assign({ Accept: 'application/json' }, extra || {});
    const t = this.token();
    if (t) h.Authorization = 'Bearer ' + t;
    return h;
  }

  async request(method, path, body) {
    const init = { method, headers: this.headers(), credentials: 'omit', cache: 'no-store' };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, Code.UNAVAILABLE, 'The server could not be reached. Check the connection and try again.');
    }
    const text = await r.text();
    if (!r.ok) {
      const err = errorOf(r.status, text);
      if (r.status === 401) this.onAuthFail(err);
      throw err;
    }
    return text ? JSON.parse(text) : {};
  }

  get(path) { return this.request('GET', path); }
  post(path, body) { return this.request('POST', path, body === undefined ? {} : body); }
  patch(path, body) { return this.request('PATCH', path, body); }
  del(path) { return this.request('DELETE', path); }

  // blob fetches a download whole.
  async blob(path) {
    const r = await fetch(path, { headers: this.headers({ Accept: '*/*' }), credentials: 'omit', cache: 'no-store' });
    if (!r.ok) throw errorOf(r.status, await r.text());
    return r.blob();
  }

  // upload sends a body with XMLHttpRequest, whose upload events give the
  // bytes sent (fetch has none); onProgress(sent, total).
  upload(path, body, contentType, onProgress) {
    return new Promise((resolve, reject) => {
      const x = new XMLHttpRequest();
      x.open('POST', path);
      for (const [k, v] of Object.entries(this.headers({ 'Content-Type': contentType }))) x.setRequestHeader(k, v);
      x.upload.addEventListener('progress', (ev) => onProgress(ev.loaded, ev.lengthComputable ? ev.total : body.size || 0));
      x.upload.addEventListener('load', () => onProgress(body.size || 0, body.size || 0, true));
      x.addEventListener('load', () => {
        if (x.status >= 200 && x.status < 300) {
          try { resolve(JSON.parse(x.responseText)); } catch (e) { reject(new ApiError(x.status, 0, 'The server answered with something that is not JSON.')); }
        } else {
          reject(errorOf(x.status, x.responseText));
        }
      });
      x.addEventListener('error', () => reject(new ApiError(0, Code.UNAVAILABLE, 'The upload broke off. Rows before the break may have been imported; import the file again to finish.')));
      x.send(body);
    });
  }
}

// devAvailable says whether the server runs with --dev (it then mints
// development tokens).
export async function devAvailable() {
  try {
    const r = await fetch('/dev/token', { credentials: 'omit', cache: 'no-store' });
    return r.ok;
  } catch (e) {
    return false;
  }
}

export async function devToken(role, phoneNumber) {
  const r = await fetch('/dev/token', {
    method: 'POST', credentials: 'omit', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ role, phoneNumber: phoneNumber || '' }),
  });
  const text = await r.text();
  if (!r.ok) throw errorOf(r.status, text);
  return JSON.parse(text);
}
