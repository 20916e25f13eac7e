// Import a CSV or NDJSON file into the blocklist. The REST import answers
// once, at the end, with the counts and the rejected rows; it reads the
// upload as it imports, so the bytes sent are the progress.
import { h, field, table } from '/assets/dom.js';
import { errorBox, showError } from '/console/screens/common.js';
import { csvToNDJSON } from '/console/screens/csv.js';

export default {
  id: 'import',
  title: 'Import',
  roles: ['analyst', 'admin'],
  render,
};

function mb(n) { return (n / (1024 * 1024)).toFixed(n < 1024 * 1024 ? 2 : 1) + ' MB'; }

function render(root, { api, notify }) {
  const file = h('input', { id: 'import-file', type: 'file', accept: '.csv,.ndjson,.jsonl,.json,text/csv,application/x-ndjson' });
  const go = h('button', { id: 'import-submit', type: 'submit', text: 'Import' });
  const err = errorBox();
  const bar = h('progress', { id: 'import-progress', max: '100', value: '0', 'aria-label': 'Import progress' });
  const barText = h('p', { id: 'import-progress-text', 'aria-live': 'polite' });
  const progress = h('div', { hidden: true }, bar, barText);
  const result = h('div', { id: 'import-result' });
  const form = h('form', {},
    field('File', file, 'CSV with a header (pattern,category,reason,confidence,expire_time,source; pattern and category required) or NDJSON (one entry as JSON a line, as the export writes).'),
    go);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.textContent = '';
    result.replaceChildren();
    const f = file.files && file.files[0];
    if (!f) { err.textContent = 'Choose a file first.'; return; }
    go.disabled = true;
    progress.hidden = false;
    bar.value = 0;
    barText.textContent = 'Reading ' + f.name + '…';
    try {
      let body = f;
      let lineOf = null; // NDJSON line -> the CSV line it came from
      let local = [];
      if (/\.csv$/i.test(f.name) || f.type === 'text/csv') {
        const conv = csvToNDJSON(await f.text());
        body = new Blob([conv.ndjson], { type: 'application/x-ndjson' });
        lineOf = conv.lineOf;
        local = conv.errors;
      }
      const r = await api.upload('/v1/blocklist:import', body, 'application/x-ndjson', (sent, total, done) => {
        const pct = total ? Math.min(100, Math.round((sent / total) * 100)) : 0;
        bar.value = pct;
        barText.textContent = done ? 'Sent ' + mb(total) + ': the server is committing the last rows…'
          : 'Sent ' + mb(sent) + ' of ' + mb(total) + ' (' + pct + '%)';
      });
      bar.value = 100;
      // A CSV row's error names its place in the JSON made from it: drop that.
      const rejected = (r.errors || []).map((e) => ({
        line: lineOf ? lineOf[Number(e.line) - 1] || Number(e.line) : Number(e.line),
        message: lineOf ? String(e.message).replace(/\(line \d+:\d+\): /, '') : e.message,
      }))
        .concat(local).sort((a, b) => a.line - b.line);
      const rejectedCount = Number(r.rejected || 0) + local.length;
      barText.textContent = 'Done: ' + f.name + ' imported.';
      const summary = h('p', { class: 'notice', role: 'status', text:
        Number(r.imported || 0) + ' imported, ' + Number(r.updated || 0) + ' updated, ' + rejectedCount + ' rejected.' +
        (r.interrupted ? ' The server was shutting down and stopped early: import the file again to finish (rows already imported count as updated).' : '') });
      result.append(summary);
      if (rejected.length) {
        result.append(h('div', { class: 'rejects' }, table('Rejected rows (' + rejected.length + ')', ['Line', 'Why'],
          rejected.map((e) => [String(e.line), e.message]))));
      }
      notify('Import finished.');
    } catch (e) {
      barText.textContent = 'The import failed.';
      showError(err, e);
    } finally {
      go.disabled = false;
    }
  });

  root.append(form, err, progress, result);
}
