// Stand-in for the Vue web app's Node server: GET / (and any path without a file: the single-page app's
// fallback) -> 200 HTML on PORT; /assets/app.js -> 200 JavaScript.
'use strict';
const http = require('http');

const port = Number(process.env.PORT || 3000);
const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Orchestrator AI</title>
<script type="module" src="/assets/app.js"></script></head>
<body><div id="app" data-api="${process.env.VITE_API_URL || ''}">Orchestrator AI (stand-in)</div></body></html>
`;

http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/assets/app.js') {
    res.writeHead(200, { 'Content-Type': 'application/javascript; charset=utf-8' });
    res.end('document.getElementById("app").dataset.loaded = "yes";\n');
  } else if (/\.[a-z0-9]+$/i.test(path)) {
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('Not Found\n');
  } else {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(page);
  }
  console.log(`[standin-web] ${req.method} ${req.url} ${res.statusCode}`);
}).listen(port, '0.0.0.0', () => console.log(`[standin-web] listening on ${port}`));
