// CSV to the NDJSON the REST import takes, in the layout of the CLI's
// export: a header naming the columns (any order; pattern and category
// required). Cells are passed on as written, so the server judges every
// row as it judges the CLI's; only a record that is not CSV at all (an
// unterminated quote) is rejected here.

const formulaStart = /^'+[=+\-@\t\r\n]/;

// unneutralise undoes the quote an export (or a spreadsheet user) put
// before a cell that starts like a formula.
function unneutralise(cell) {
  return formulaStart.test(cell) ? cell.slice(1) : cell;
}

// records splits text into records of cells, each with the line it starts on.
function* records(text) {
  let i = 0;
  let line = 1;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  while (i < n) {
    const start = line;
    const cells = [];
    let cell = '';
    let quoted = false;
    let done = false;
    while (!done) {
      if (i >= n) {
        if (quoted) { yield { line: start, error: 'a quoted cell is not closed' }; return; }
        cells.push(cell);
        break;
      }
      const c = text[i];
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') { cell += '"'; i += 2; continue; }
          quoted = false; i += 1; continue;
        }
        if (c === '\n') line += 1;
        cell += c; i += 1; continue;
      }
      if (c === '"' && cell.trim() === '') { quoted = true; cell = ''; i += 1; continue; }
      if (c === ',') { cells.push(cell); cell = ''; i += 1; continue; }
      if (c === '\r' && text[i + 1] === '\n') { i += 1; continue; }
      if (c === '\n') { cells.push(cell); i += 1; line += 1; done = true; continue; }
      cell += c; i += 1;
    }
    if (cells.length === 1 && cells[0].trim() === '') continue; // blank line
    yield { line: start, cells };
  }
}

function enumName(prefix, v) {
  const u = v.trim().toUpperCase().replace(/[\s-]+/g, '_');
  return u.startsWith(prefix) ? u : prefix + u;
}

// csvToNDJSON returns the NDJSON text, the CSV line of each NDJSON line,
// and the records rejected here.
export function csvToNDJSON(text) {
  const it = records(text);
  const head = it.next();
  if (head.done || head.value.error) throw new Error('The file has no CSV header line.');
  const cols = {};
  head.value.cells.forEach((c, i) => { cols[c.trim().toLowerCase()] = i; });
  for (const need of ['pattern', 'category']) {
    if (!(need in cols)) throw new Error('The CSV header has no "' + need + '" column (want pattern,category,reason,confidence,expire_time).');
  }
  const lines = [];
  const lineOf = [];
  const errors = [];
  for (const rec of it) {
    if (rec.error) { errors.push({ line: rec.line, message: rec.error }); continue; }
    const get = (name) => (name in cols && cols[name] < rec.cells.length ? unneutralise(rec.cells[cols[name]].trim()) : '');
    const e = { pattern: get('pattern') };
    const cat = get('category');
    if (cat) e.category = enumName('CATEGORY_', cat);
    const reason = get('reason');
    if (reason) e.reason = reason;
    const src = get('source');
    if (src) e.source = enumName('SOURCE_', src);
    const conf = get('confidence');
    if (conf) e.confidence = /^-?\d+$/.test(conf) ? Number(conf) : conf;
    const exp = get('expire_time');
    if (exp) e.expireTime = exp;
    lines.push(JSON.stringify(e));
    lineOf.push(rec.line);
  }
  return { ndjson: lines.join('\n') + (lines.length ? '\n' : ''), lineOf, errors };
}
