// 50 chains of refreshes against BASE for SECONDS; prints rate. One request in flight per chain.
import http from 'node:http';
const base = process.env.BASE ?? 'http://127.0.0.1:18765';
const seconds = Number(process.env.SECONDS ?? 20);
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const post = (path, body) => new Promise((resolve, reject) => {
  const req = http.request(base + path, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
    let t = ''; res.setEncoding('utf8'); res.on('data', (c) => (t += c)); res.on('end', () => resolve({ status: res.statusCode, text: t }));
  });
  req.on('error', reject); req.end(body);
});
const heads = [];
for (let i = 0; i < 50; i++) heads.push(JSON.parse((await post('/api/token/', JSON.stringify({ username: 'alice', password: 'correct horse battery staple' }))).text).refresh);
let ok = 0, bad = 0;
const end = Date.now() + seconds * 1000;
console.log('START', Date.now());
await Promise.all(heads.map(async (h) => {
  while (Date.now() < end) {
    const r = await post('/api/token/refresh/', JSON.stringify({ refresh: h }));
    if (r.status === 200) { ok++; h = JSON.parse(r.text).refresh; } else { bad++; break; }
  }
}));
console.log(`ok ${ok} bad ${bad} rate ${(ok / seconds).toFixed(0)}/s`);
agent.destroy();
