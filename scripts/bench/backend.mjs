// The benchmark backend: `/` answers 13 bytes, `/big` 10 MiB, both keep-alive.
import http from 'node:http';

const small = Buffer.from('Hello, world!');
const big = Buffer.alloc(10 * 1024 * 1024, 'b');
const server = http.createServer((req, res) => {
  const body = req.url === '/big' ? big : small;
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
