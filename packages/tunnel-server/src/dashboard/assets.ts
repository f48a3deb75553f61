// The dashboard's only script and style, served from its own origin (the CSP allows 'self' and
// nothing inline). The script upgrades the env page: live events over a WebSocket, log tails
// fetched every few seconds. Kept as strings so the server's one-file bundle carries them.

export const SCRIPT = `'use strict';
(() => {
  const list = document.getElementById('events');
  if (list && list.dataset.live) {
    const url = new URL(list.dataset.live, location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(url);
    ws.onopen = () => list.replaceChildren();
    ws.onmessage = (message) => {
      const event = JSON.parse(message.data);
      const item = document.createElement('li');
      item.dataset.type = event.type;
      if (event.service) item.dataset.service = event.service;
      item.textContent = event.time + '  ' + event.type + (event.service ? ' ' + event.service : '');
      list.prepend(item);
      while (list.children.length > 200) list.lastElementChild.remove();
    };
  }
  const tails = document.querySelector('[data-tails]');
  if (tails) {
    const base = tails.dataset.tails;
    const poll = async () => {
      for (const pre of tails.querySelectorAll('pre[data-logs]')) {
        const res = await fetch(base + encodeURIComponent(pre.dataset.logs) + '?format=text', { credentials: 'same-origin' }).catch(() => undefined);
        if (res && res.ok) pre.textContent = await res.text();
      }
      setTimeout(poll, 3000);
    };
    void poll();
  }
})();
`;

export const STYLE = `body{font:15px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24}
header{display:flex;justify-content:space-between;align-items:center;padding:.6rem 1rem;background:#1b1f24}
header a{color:#fff;font-weight:600;text-decoration:none}
main{padding:1rem;max-width:72rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border-bottom:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}
ul{margin:0;padding-left:1rem}
small{color:#57606a}
pre{background:#f6f8fa;padding:.5rem;max-height:16rem;overflow:auto;white-space:pre-wrap}
#events{font-family:ui-monospace,monospace;font-size:13px;max-height:16rem;overflow:auto}
.error{color:#cf222e}
.spark polyline{fill:none;stroke-width:1.5}
.spark.requests polyline{stroke:#0969da}
.spark.errors polyline{stroke:#cf222e}
`;
