// Store-only rotation rate on PostgreSQL over time: windows of 5 s, 20 concurrent chains.
import { randomUUID } from 'node:crypto';
import { openSqlStore } from '../dist/stores/sql/index.js';
const schema = `rjt_rot_${process.pid}`;
const store = await openSqlStore({ url: 'postgres://postgres@127.0.0.1:5432/test', schema });
const user = await store.createUser({ username: 'u', passwordHash: 'x' });
const tok = () => ({ jti: randomUUID().replaceAll('-', ''), userId: user.id, tokenType: 'refresh', familyId: null, createdAt: new Date(), expiresAt: new Date(Date.now() + 86400e3) });
const windows = Number(process.env.WINDOWS ?? 12);
let count = 0;
const chains = Array.from({ length: 20 }, async () => {
  let cur = tok(); cur.familyId = cur.jti; await store.recordOutstanding(cur);
  const end = Date.now() + windows * 5000;
  while (Date.now() < end) {
    const next = tok();
    const r = await store.rotate(cur, next, { inheritFamily: true });
    if (r !== 'rotated') throw new Error(r);
    cur = next; count++;
  }
});
let last = 0;
const timer = setInterval(() => { console.log(`${new Date().toISOString().slice(11,19)} ${((count - last) / 5).toFixed(0)} rot/s`); last = count; }, 5000);
await Promise.all(chains);
clearInterval(timer);
await store.close();
if (process.env.KEEP !== '1') { const pg = (await import('pg')).default; const c = new pg.Client('postgres://postgres@127.0.0.1:5432/test'); await c.connect(); await c.query(`DROP SCHEMA "${schema}" CASCADE`); await c.end(); }
else console.log('kept schema', schema);
