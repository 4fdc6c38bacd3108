/**
 * guardClient fails closed: whatever goes wrong between the Worker and the object
 * (a stub that throws, a namespace that cannot make stubs, an overloaded object),
 * callers get UPSTREAM_UNAVAILABLE (503) and never an admit. The namespaces here are
 * deliberately broken stand-ins: there is no way to make the real binding unreachable.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PLANS } from '../../src/env';
import { guardClient, secondsToMonthEnd } from '../../src/objects/guard-client';
import type { TenantGuard } from '../../src/objects/tenant-guard';

type Ns = DurableObjectNamespace<TenantGuard>;

/** A namespace whose stubs answer every RPC with `behaviour(method, attempt)`. */
function fakeNamespace(behaviour: (method: string, attempt: number) => Promise<unknown>) {
  const calls: string[] = [];
  const stub = new Proxy(
    {},
    {
      get: (_t, method: string) => () => {
        calls.push(method);
        return behaviour(method, calls.filter((c) => c === method).length);
      },
    },
  );
  const ns = { idFromName: (name: string) => ({ name }), get: () => stub } as unknown as Ns;
  return { ns, calls };
}

const limits = DEFAULT_PLANS.free;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const unavailable = { code: 'UPSTREAM_UNAVAILABLE', status: 503 };

describe('guardClient', () => {
  it('turns a throwing guard into UPSTREAM_UNAVAILABLE for every operation', async () => {
    const { ns } = fakeNamespace(() => Promise.reject(new Error('network connection lost')));
    const g = guardClient(ns, 't1', silent);
    await expect(g.admit({ limits })).rejects.toMatchObject(unavailable);
    await expect(g.ensureQuota(limits, 'asks', 1)).rejects.toMatchObject(unavailable);
    await expect(g.consume(limits, 'documents', 1)).rejects.toMatchObject(unavailable);
    await expect(g.record({ asks: 1 })).rejects.toMatchObject(unavailable);
    await expect(g.usage()).rejects.toMatchObject(unavailable);
  });

  it('fails closed when the namespace cannot even make a stub', async () => {
    const ns = {
      idFromName: () => {
        throw new Error('binding misconfigured');
      },
      get: () => null,
    } as unknown as Ns;
    await expect(guardClient(ns, 't1', silent).admit({ limits })).rejects.toMatchObject(unavailable);
  });

  it('retries a read once on a retryable error, but never retries admit/record (they may have counted)', async () => {
    const retryable = () => Promise.reject(Object.assign(new Error('transient'), { retryable: true }));
    const { ns, calls } = fakeNamespace((method, attempt) =>
      attempt === 1 ? retryable() : Promise.resolve(method === 'usage' ? { period: '2026-01', requests: 1 } : { allowed: true }),
    );
    const g = guardClient(ns, 't1', silent);
    expect(await g.usage()).toMatchObject({ requests: 1 });
    await expect(g.admit({ limits })).rejects.toMatchObject(unavailable);
    await expect(g.record({ asks: 1 })).rejects.toMatchObject(unavailable);
    expect(calls).toEqual(['usage', 'usage', 'admit', 'record']);
  });

  it('does not retry an overloaded object', async () => {
    const { ns, calls } = fakeNamespace(() => Promise.reject(Object.assign(new Error('overloaded'), { retryable: true, overloaded: true })));
    await expect(guardClient(ns, 't1', silent).usage()).rejects.toMatchObject(unavailable);
    expect(calls).toEqual(['usage']);
  });

  it('reports a caller bug (non-finite amount) as a plain error, not an outage', async () => {
    const { ns, calls } = fakeNamespace(() => Promise.resolve({ ok: true }));
    const g = guardClient(ns, 't1', silent);
    await expect(g.ensureQuota(limits, 'asks', Number.NaN)).rejects.toBeInstanceOf(TypeError);
    await expect(g.record({ completionTokens: Number.NaN })).rejects.toBeInstanceOf(TypeError);
    expect(calls).toEqual([]);
  });
});

describe('secondsToMonthEnd', () => {
  it('counts to the start of the next UTC month', () => {
    expect(secondsToMonthEnd(Date.UTC(2026, 11, 31, 23, 59, 0))).toBe(60);
    expect(secondsToMonthEnd(Date.UTC(2026, 1, 1))).toBe(28 * 86_400);
  });
});
