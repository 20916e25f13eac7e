// The customer's call cards as they change: WatchMyCalls over Server-Sent
// Events. EventSource cannot send a bearer token, so the stream is read
// with fetch. A server without the stream (UNIMPLEMENTED) or one that
// refuses it leaves the page on its Refresh button.

function parseBlock(block) {
  const ev = { id: '', data: '' };
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const name = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (name === 'id') ev.id = value;
    if (name === 'data') ev.data += (ev.data ? '\n' : '') + value;
  }
  return ev;
}

// watch calls onEvent(CallEvent) for each event and onLive(bool) when the
// stream opens or is given up; it returns a function that stops it.
export function watch(api, language, onEvent, onLive) {
  const ctl = new AbortController();
  let lastId = '';
  let failures = 0;
  async function run() {
    while (!ctl.signal.aborted) {
      let r;
      try {
        const headers = api.headers({ Accept: 'text/event-stream' });
        if (lastId) headers['Last-Event-ID'] = lastId;
        r = await fetch('/v1/me/calls:watch?language=' + encodeURIComponent(language), { headers, signal: ctl.signal, credentials: 'omit', cache: 'no-store' });
      } catch (e) {
        r = null;
      }
      if (r && !r.ok) {
        // Not there, or not for us: no point in asking again.
        onLive(false);
        return;
      }
      if (r && r.body) {
        failures = 0;
        onLive(true);
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buf += value.replaceAll('\r\n', '\n');
            let at;
            while ((at = buf.indexOf('\n\n')) >= 0) {
              const ev = parseBlock(buf.slice(0, at));
              buf = buf.slice(at + 2);
              if (!ev.data) continue;
              if (ev.id) lastId = ev.id;
              try {
                const msg = JSON.parse(ev.data);
                onEvent(msg.result || msg);
              } catch (e) { /* not JSON: skip */ }
            }
          }
        } catch (e) { /* broken off: reconnect below */ }
      }
      if (ctl.signal.aborted) return;
      failures += 1;
      if (failures > 5) { onLive(false); return; }
      await new Promise((res) => setTimeout(res, Math.min(30000, 1000 * 2 ** failures)));
    }
  }
  run();
  return () => ctl.abort();
}
