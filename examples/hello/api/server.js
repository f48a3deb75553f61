// The API of examples/hello: answers JSON naming its env and the public URL of its neighbour,
// which the prevu overlay passes in as PREVU_URL_WEB.
import { createServer } from 'node:http';

const port = Number(process.env.PORT || 3000);
const server = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return;
  }
  console.log(`api: ${req.method} ${req.url}`);
  const body = JSON.stringify({ hello: 'from the api', env: process.env.PREVU_ENV_ID ?? null, web: process.env.PREVU_URL_WEB ?? null });
  res.writeHead(200, { 'content-type': 'application/json' }).end(`${body}\n`);
});
server.listen(port, () => console.log(`api: listening on port ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
