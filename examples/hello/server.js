// Berth's example app. It reads $PORT like any Railway app, answers /health for the
// health-gated switch, and finishes in-flight requests when told to stop.
const http = require('node:http');

const started = new Date().toISOString();
const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    return res.end('ok');
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>Hello from Berth</title>
<h1>Hello from Berth</h1>
<p>Service <b>${process.env.RAILWAY_SERVICE_NAME}</b> in <b>${process.env.RAILWAY_ENVIRONMENT_NAME}</b>,
deployment <code>${process.env.RAILWAY_DEPLOYMENT_ID}</code>, replica <code>${process.env.RAILWAY_REPLICA_ID}</code>,
up since ${started}.</p>`);
});

server.listen(Number(process.env.PORT) || 3000, '0.0.0.0');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
