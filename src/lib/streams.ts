/**
 * Reads a byte stream whole, but never more than `max` bytes: past the cap it cancels
 * the stream and throws `tooLarge()`, so an oversized body is never buffered whole.
 * With `signal`, an abort cancels the stream and throws the signal's reason (a body that
 * trickles in cannot outlast a deadline, even from a stream that ignores the signal).
 */
export async function readCapped(
  stream: ReadableStream<Uint8Array> | null,
  max: number,
  tooLarge: () => Error,
  signal?: AbortSignal,
): Promise<Uint8Array<ArrayBuffer>> {
  if (!stream) return new Uint8Array();
  signal?.throwIfAborted();
  const reader = stream.getReader();
  // Cancelling settles a pending read() as done: the check after each read tells that apart from the real end.
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  const parts: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      signal?.throwIfAborted();
      if (done) break;
      total += value.byteLength;
      if (total > max) {
        await reader.cancel();
        throw tooLarge();
      }
      parts.push(value);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
