// What several console screens share.
import { h } from '/assets/dom.js';
import { Code } from '/assets/api.js';

export const categories = [
  ['CATEGORY_IMPERSONATION', 'Impersonation'], ['CATEGORY_SCAM', 'Scam'], ['CATEGORY_SPAM', 'Spam'],
  ['CATEGORY_ROBOCALL', 'Robocall'], ['CATEGORY_OTHER', 'Other'],
];
export const sources = [['SOURCE_ANALYST', 'Analyst'], ['SOURCE_CUSTOMER_REPORTS', 'Customer reports'], ['SOURCE_IMPORT', 'Import']];
export const reasons = [
  ['CALL_REASON_FOLLOW_UP', 'Follow-up (回访)'], ['CALL_REASON_AFTER_SALES', 'After-sales (售后)'],
  ['CALL_REASON_REFUND', 'Refund'], ['CALL_REASON_DELIVERY', 'Delivery'],
  ['CALL_REASON_ACCOUNT_SECURITY', 'Account security'], ['CALL_REASON_MARKETING', 'Marketing'], ['CALL_REASON_OTHER', 'Other'],
];

export function label(pairs, v) {
  const p = pairs.find(([k]) => k === v);
  return p ? p[1] : (v || '');
}

// errorBox is a live region that shows an API error in words.
export function errorBox(id) {
  return h('p', { id, class: 'error', role: 'alert' });
}

export function showError(box, err) {
  box.textContent = explain(err);
}

// explain turns an API error into what the user should know.
export function explain(err) {
  const m = err && err.message ? err.message : String(err);
  switch (err && err.code) {
    case Code.FAILED_PRECONDITION:
      if (/official number/.test(m)) {
        return 'Refused: ' + m + '. A blocklist entry must never cover one of the platform\'s own official numbers: ' +
          'customers would be told that genuine calls from it are fraud. Narrow the pattern so that it leaves the ' +
          'official number out, or, if the platform no longer owns that line, have an admin delete the official number first.';
      }
      return 'Refused: ' + m;
    case Code.ALREADY_EXISTS:
      return m + ' Search for it and edit it instead.';
    case Code.PERMISSION_DENIED:
      return 'Your role may not do this: ' + m;
    case Code.UNIMPLEMENTED:
      return 'This server does not offer this yet (' + m + ').';
    default:
      return m;
  }
}

// Pager keeps the page tokens seen, so that Previous goes back.
export class Pager {
  constructor(load) {
    this.load = load;
    this.tokens = [''];
    this.next = '';
    this.prevBtn = h('button', { type: 'button', class: 'secondary', text: 'Previous page', onclick: () => this.go(-1) });
    this.nextBtn = h('button', { type: 'button', class: 'secondary', text: 'Next page', onclick: () => this.go(1) });
    this.info = h('span', { class: 'muted', 'aria-live': 'polite' });
    this.el = h('div', { class: 'pager' }, this.prevBtn, this.nextBtn, this.info);
  }

  reset() { this.tokens = ['']; return this.go(0); }

  async go(step) {
    if (step === 1) this.tokens.push(this.next);
    if (step === -1 && this.tokens.length > 1) this.tokens.pop();
    const page = this.tokens.length;
    this.next = (await this.load(this.tokens[this.tokens.length - 1])) || '';
    this.prevBtn.disabled = page <= 1;
    this.nextBtn.disabled = !this.next;
    this.info.textContent = 'Page ' + page;
  }
}

// toRFC3339 turns a datetime-local value into an RFC 3339 time, '' when empty.
export function toRFC3339(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export function toLocalInput(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
}
