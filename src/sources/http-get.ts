/**
 * A GET on undici's low-level dispatch API, delivering body chunks to a synchronous sink.
 *
 * Why not `undici.request()` and a stream: when a response body applies backpressure the
 * HTTP/1 parser pauses, and if the server then closes the connection (`Connection: close`
 * + FIN, or a truncated body) undici 7.30 throws an uncatchable AssertionError from the
 * socket 'end' handler (nodejs/undici#5360, fixed only in undici 8, which needs Node 22).
 * Here the parser is never paused: each chunk is handed to the sink at once (the caller
 * writes it with writeSync, which throttles reading naturally by holding the event loop
 * for the duration of a local disk write), so memory stays bounded and the crash cannot
 * happen.
 */
import type { Dispatcher } from 'undici';

export interface RawResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  /**
   * Deliver the body to `sink` (synchronously, chunk by chunk). Resolves when the body
   * ended cleanly; rejects with the transport error, or with whatever `sink` threw (the
   * connection is then dropped).
   */
  pipeTo(sink: (chunk: Buffer) => void): Promise<void>;
  /** Throw the body away: read a small one to keep the connection, drop a large one. */
  discard(): Promise<void>;
}

export interface GetOptions {
  headers: Record<string, string>;
  headersTimeout: number;
  bodyTimeout: number;
  signal: AbortSignal;
}

const SMALL_BODY = 64 * 1024;

export function httpGet(dispatcher: Dispatcher, url: URL, o: GetOptions): Promise<RawResponse> {
  return new Promise<RawResponse>((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let sink: ((chunk: Buffer) => void) | undefined;
    const pending: Buffer[] = [];
    let ended = false;
    let failure: Error | undefined;
    let started = false;
    let settle: { res: () => void; rej: (e: Error) => void } | undefined;

    const onAbort = () => controller?.abort(o.signal.reason as Error);
    o.signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => o.signal.removeEventListener('abort', onAbort);

    // What the sink threw: it wins over whatever the transport reports afterwards.
    let sinkError: Error | undefined;
    const feed = (chunk: Buffer) => {
      if (sinkError) return;
      try {
        sink!(chunk);
      } catch (err) {
        sinkError = err as Error;
        controller?.abort(sinkError);
      }
    };

    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(c) {
        controller = c;
        if (o.signal.aborted) c.abort(o.signal.reason as Error);
      },
      onResponseStart(_c, statusCode, headers) {
        if (statusCode < 200) return;
        started = true;
        const response: RawResponse = {
          statusCode,
          headers: headers as Record<string, string | string[] | undefined>,
          pipeTo(s) {
            sink = s;
            for (const chunk of pending.splice(0)) feed(chunk);
            if (sinkError || failure) return Promise.reject(sinkError ?? failure);
            if (ended) return Promise.resolve();
            return new Promise<void>((res, rej) => (settle = { res, rej }));
          },
          async discard() {
            const cl = Number(headers['content-length']);
            if (!ended && !failure && !(Number.isFinite(cl) && cl <= SMALL_BODY)) {
              controller?.abort(new Error('body discarded'));
              return;
            }
            await response.pipeTo(() => {}).catch(() => {});
          },
        };
        resolve(response);
      },
      onResponseData(_c, chunk) {
        if (sink) feed(chunk);
        else pending.push(chunk);
      },
      onResponseEnd() {
        ended = true;
        cleanup();
        if (sinkError) settle?.rej(sinkError);
        else settle?.res();
      },
      onResponseError(_c, err) {
        failure = sinkError ?? err;
        cleanup();
        if (!started) reject(failure);
        else settle?.rej(failure);
      },
    };

    try {
      dispatcher.dispatch(
        {
          origin: url.origin,
          path: `${url.pathname}${url.search}`,
          method: 'GET',
          headers: o.headers,
          headersTimeout: o.headersTimeout,
          bodyTimeout: o.bodyTimeout,
        },
        handler,
      );
    } catch (err) {
      cleanup();
      reject(err as Error);
    }
  });
}
