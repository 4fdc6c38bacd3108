/**
 * LocalVectorIndex: the Vectorize stand-in for `wrangler dev` and tests (Vectorize has
 * no local simulator). One Durable Object per namespace (`idFromName(namespace)`), so a
 * tenant's vectors live in their own object, exactly as a Vectorize namespace scopes a
 * query. Vectors persist in the object's SQLite storage and survive restarts; the search
 * itself runs over an in-memory matrix (src/vector/matrix.ts) rebuilt from SQLite when
 * the object starts. Development and test use only: memory grows with the namespace.
 */
import { DurableObject } from 'cloudflare:workers';
import { normalise, VectorMatrix } from '../vector/matrix';
import { VECTOR_LIMITS, VectorQueryError, type Metadata, type VectorMatch, type VectorQuery, type VectorRecord } from '../vector/types';

export class LocalVectorIndex extends DurableObject<Env> {
  private matrix: VectorMatrix | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      const sql = ctx.storage.sql;
      sql.exec('CREATE TABLE IF NOT EXISTS vectors (id TEXT PRIMARY KEY, v BLOB NOT NULL, metadata TEXT NOT NULL)');
      sql.exec('CREATE TABLE IF NOT EXISTS settings (k TEXT PRIMARY KEY, v TEXT NOT NULL)');
      const dims = sql.exec<{ v: string }>("SELECT v FROM settings WHERE k = 'dimensions'").toArray()[0]?.v;
      if (!dims) return;
      const count = sql.exec<{ n: number }>('SELECT count(*) AS n FROM vectors').one().n;
      const m = new VectorMatrix(Number(dims), count);
      for (const row of sql.exec<{ id: string; v: ArrayBuffer; metadata: string }>('SELECT id, v, metadata FROM vectors')) {
        m.set(row.id, new Float32Array(row.v.slice(0)), JSON.parse(row.metadata) as Metadata);
      }
      this.matrix = m;
    });
  }

  /** Inserts or replaces vectors; the first upsert fixes the namespace's dimensions. */
  async upsert(records: VectorRecord[]): Promise<{ count: number }> {
    if (records.length > VECTOR_LIMITS.maxUpsertBatch) throw new VectorQueryError(`at most ${VECTOR_LIMITS.maxUpsertBatch} vectors per upsert`);
    if (records.length === 0) return { count: 0 };
    const sql = this.ctx.storage.sql;
    if (!this.matrix) {
      const dims = records[0]!.values.length;
      if (dims < 1 || dims > VECTOR_LIMITS.maxDimensions) throw new VectorQueryError(`dimensions must be 1..${VECTOR_LIMITS.maxDimensions}`);
      sql.exec("INSERT OR REPLACE INTO settings (k, v) VALUES ('dimensions', ?)", String(dims));
      this.matrix = new VectorMatrix(dims);
    }
    const m = this.matrix;
    // Validate everything before writing anything: an upsert is all or nothing.
    const prepared = records.map((r) => {
      if (!r.id || new TextEncoder().encode(r.id).byteLength > VECTOR_LIMITS.maxIdBytes) {
        throw new VectorQueryError(`vector ids must be 1..${VECTOR_LIMITS.maxIdBytes} bytes`);
      }
      return { id: r.id, unit: normalise(r.values, m.dims), metadata: r.metadata ?? {} };
    });
    this.ctx.storage.transactionSync(() => {
      for (const p of prepared) {
        sql.exec('INSERT OR REPLACE INTO vectors (id, v, metadata) VALUES (?, ?, ?)', p.id, p.unit.buffer as ArrayBuffer, JSON.stringify(p.metadata));
      }
    });
    for (const p of prepared) m.set(p.id, p.unit, p.metadata);
    return { count: prepared.length };
  }

  async query(vector: number[], q: VectorQuery): Promise<VectorMatch[]> {
    if (!this.matrix) {
      // An empty namespace answers like Vectorize: no matches (after the same argument checks).
      new VectorMatrix(vector.length || 1).query(normalise(vector, vector.length), q);
      return [];
    }
    return this.matrix.query(normalise(vector, this.matrix.dims), q);
  }

  async deleteByIds(ids: string[]): Promise<{ count: number }> {
    if (!this.matrix || ids.length === 0) return { count: 0 };
    const sql = this.ctx.storage.sql;
    let count = 0;
    this.ctx.storage.transactionSync(() => {
      for (const id of ids) sql.exec('DELETE FROM vectors WHERE id = ?', id);
    });
    for (const id of ids) if (this.matrix.delete(id)) count++;
    return { count };
  }

  /** Stored vectors by id (unit length, as stored), for copying a namespace elsewhere. */
  async getByIds(ids: string[]): Promise<VectorRecord[]> {
    const sql = this.ctx.storage.sql;
    const out: VectorRecord[] = [];
    for (const id of ids) {
      const row = sql.exec<{ id: string; v: ArrayBuffer; metadata: string }>('SELECT id, v, metadata FROM vectors WHERE id = ?', id).toArray()[0];
      if (row) out.push({ id: row.id, values: Array.from(new Float32Array(row.v.slice(0))), metadata: JSON.parse(row.metadata) as Metadata });
    }
    return out;
  }

  /**
   * Drops the whole namespace (a tenant's purge): the object's storage goes with `deleteAll`,
   * orphaned vectors included (ids no chunk row names any more). Returns how many it held.
   */
  async purge(): Promise<{ count: number }> {
    const count = this.matrix?.size ?? 0;
    await this.ctx.storage.deleteAll();
    this.matrix = null;
    // Empty tables again, so a later upsert works as on a new object.
    this.ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS vectors (id TEXT PRIMARY KEY, v BLOB NOT NULL, metadata TEXT NOT NULL)');
    this.ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS settings (k TEXT PRIMARY KEY, v TEXT NOT NULL)');
    return { count };
  }

  async describe(): Promise<{ dimensions: number | null; vectorCount: number }> {
    return { dimensions: this.matrix?.dims ?? null, vectorCount: this.matrix?.size ?? 0 };
  }
}
