// A tiny HTTP service: answers every request with a greeting and the Node.js version.
const http = require('http');
const port = Number(process.env.PORT || 8080);
http
  .createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('bit4bit hello ' + process.version + '\n');
  })
  .listen(port, () => console.log('listening on ' + port));
