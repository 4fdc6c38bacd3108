// The runtime's floor for the guard benchmark (npm run bench:guard): what one Durable
// Object round trip costs in `wrangler dev` on this machine, with nothing of edgerag in it.
//   GET /none   answers at once (no Durable Object)
//   GET /rpc    one no-op RPC to a SQLite-backed Durable Object
//   GET /write  one RPC that increments a counter in the object's SQLite storage; the
//               reply waits for the write to be durable (output gate), as the guard's admit does
// The guard's added latency is compared against these: DESIGN §5 asks for one RPC per
// request, so the /rpc and /write rows are the least any exact per-request guard can add.
import { DurableObject } from 'cloudflare:workers';

export class FloorObject extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS counter (k TEXT PRIMARY KEY, n INTEGER NOT NULL)');
  }

  ping() {
    return 1;
  }

  increment() {
    return this.ctx.storage.sql
      .exec("INSERT INTO counter (k, n) VALUES ('requests', 1) ON CONFLICT (k) DO UPDATE SET n = n + 1 RETURNING n")
      .one().n;
  }
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === '/none') return Response.json({ ok: true });
    const stub = env.FLOOR.get(env.FLOOR.idFromName('bench'));
    if (pathname === '/rpc') return Response.json({ ok: (await stub.ping()) === 1 });
    if (pathname === '/write') return Response.json({ ok: (await stub.increment()) > 0 });
    return new Response('Not found', { status: 404 });
  },
};
