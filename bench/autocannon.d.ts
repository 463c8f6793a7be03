// The part of autocannon's programmatic API that bench/run.ts uses (the package ships no types).
declare module 'autocannon' {
  namespace autocannon {
    interface Options {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      pipelining?: number;
      /** Seconds before a request times out. */
      timeout?: number;
      headers?: Record<string, string>;
      method?: string;
      body?: string;
      /** Called once per connection: per-connection headers and body (e.g. one account per connection). */
      setupClient?: (client: Client) => void;
      /**
       * The sequence each connection loops over; a request with `setupRequest` is rebuilt before every
       * send (e.g. a distinct body per request). Unset fields fall back to the options above.
       */
      requests?: RequestTemplate[];
    }

    interface RequestData {
      method: string;
      path: string;
      headers: Record<string, string>;
      body?: string | Buffer;
    }

    interface RequestTemplate extends Partial<RequestData> {
      /** Returns the request to send (falsy: start over from the first request of the sequence). */
      setupRequest?: (request: RequestData, context: Record<string, unknown>) => RequestData | null;
    }

    interface Client {
      setHeaders(headers: Record<string, string> | undefined): void;
      setBody(body: string | Buffer | undefined): void;
    }

    interface Histogram {
      average: number;
      mean: number;
      stddev: number;
      min: number;
      max: number;
      total: number;
      p50: number;
      p90: number;
      p99: number;
    }

    interface Result {
      url: string;
      requests: Histogram & { sent: number };
      /** Milliseconds (1 ms resolution). */
      latency: Histogram;
      throughput: Histogram;
      errors: number;
      timeouts: number;
      non2xx: number;
      resets: number;
      /** Seconds. */
      duration: number;
      connections: number;
    }

    interface Instance extends PromiseLike<Result> {
      stop(): void;
      /** Every response: its status, size in bytes and latency in milliseconds (sub-millisecond precision). */
      on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, latencyMs: number) => void): this;
    }
  }

  function autocannon(options: autocannon.Options): autocannon.Instance;
  export = autocannon;
}
