// The anchor of bench/fanout: a naive Node `ws` room broadcast server. GET /api/ws (any
// token), subscribe -> subscribed; POST /api/message/send -> the chat-message envelope,
// serialised once, to every subscribed socket. Usage: node peer.js PORT
const http = require('http'), crypto = require('crypto'), { WebSocketServer } = require('ws');
const subs = new Set(), USER = crypto.randomUUID(); let seq = 0;
const server = http.createServer((req, res) => { let body = ''; req.on('data', (d) => { body += d; }); req.on('end', () => {
  const m = JSON.parse(body), now = new Date().toISOString(), msg = { id: crypto.randomUUID(), room_id: m.room_id,
    user_id: USER, username: '', type: 'text', content: m.content, is_edited: false, is_deleted: false,
    created_at: now, updated_at: now, seq: ++seq };
  const frame = Buffer.from(JSON.stringify({ type: 'chat-message', room_id: m.room_id, user_id: USER, payload: msg, timestamp: now, seq }));
  for (const ws of subs) ws.send(frame, { binary: false });
  const out = JSON.stringify(msg); res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) }); res.end(out); }); });
new WebSocketServer({ server, path: '/api/ws' }).on('connection', (ws) => { ws.on('close', () => subs.delete(ws)); ws.on('message', (d) => {
  const m = JSON.parse(d); if (m.type === 'subscribe') { subs.add(ws); ws.send(JSON.stringify({ type: 'subscribed', room_id: m.room_id, payload: { seq } })); } }); });
server.listen(Number(process.argv[2]), '127.0.0.1');
