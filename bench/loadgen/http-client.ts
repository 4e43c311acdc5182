/**
 * A minimal HTTP/1.1 client with persistent connections, one request at a time per connection.
 *
 * Why not fetch or node:http: measured on the 2-core machines against a trivial server in another
 * process (32 requests in flight, keep-alive; bench/README.md), the client CPU per request was ~750-900 µs
 * with the global fetch, ~60-75 µs with node:http and an Agent, and ~15-20 µs with this client. At 5,000
 * req/s, with the system under test on the same two cores, that
 * difference is most of a core. It speaks only what the loadgen needs: requests with a JSON body or
 * none, responses framed by Content-Length or chunked encoding, keep-alive unless the server closes.
 */
import { Socket, connect } from 'node:net';

export type HttpResult =
  { kind: 'response'; status: number; body: string } | { kind: 'timeout' } | { kind: 'network'; message: string };

interface Pending {
  head: string;
  body: Buffer | undefined;
  timeoutMs: number;
  resolve: (r: HttpResult) => void;
}

const CRLF2 = Buffer.from('\r\n\r\n');

class Connection {
  private readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private current: Pending | undefined;
  private timer: NodeJS.Timeout | undefined;
  closed = false;

  constructor(
    host: string,
    port: number,
    private readonly onIdle: (c: Connection) => void,
    private readonly onClosed: (c: Connection) => void,
  ) {
    this.socket = connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err) => this.fail({ kind: 'network', message: err.message }));
    this.socket.on('close', () => this.fail({ kind: 'network', message: 'connection closed' }));
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  send(p: Pending): void {
    this.current = p;
    this.timer = setTimeout(() => this.fail({ kind: 'timeout' }), p.timeoutMs);
    // One write for head and body: two would cost two syscalls and, without cork, two TCP segments.
    this.socket.write(p.body === undefined ? p.head : Buffer.concat([Buffer.from(p.head, 'latin1'), p.body]));
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf(CRLF2);
    if (end < 0 || this.current === undefined) return;
    const head = this.buffer.toString('latin1', 0, end);
    const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (statusMatch === null) {
      this.fail({ kind: 'network', message: `malformed response: ${head.slice(0, 60)}` });
      return;
    }
    const status = Number(statusMatch[1]);
    const lower = head.toLowerCase();
    const start = end + 4;
    let body: string;
    let consumed: number;
    const length = /\r\ncontent-length: *(\d+)/.exec(lower);
    if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      body = '';
      consumed = start;
    } else if (length !== null) {
      const n = Number(length[1]);
      if (this.buffer.length < start + n) return;
      body = this.buffer.toString('utf8', start, start + n);
      consumed = start + n;
    } else if (/\r\ntransfer-encoding: *chunked/.test(lower)) {
      const parsed = dechunk(this.buffer, start);
      if (parsed === undefined) return;
      body = parsed.body;
      consumed = parsed.end;
    } else {
      this.fail({ kind: 'network', message: 'response without length (read-until-close is not supported)' });
      return;
    }
    this.buffer = this.buffer.subarray(consumed);
    const keepAlive = !/\r\nconnection: *close/.test(lower);
    const p = this.current;
    this.current = undefined;
    clearTimeout(this.timer);
    p.resolve({ kind: 'response', status, body });
    if (keepAlive) this.onIdle(this);
    else this.destroy();
  }

  /** Ends the request in flight (if any) with `r` and discards the connection: its state is unknown. */
  private fail(r: HttpResult): void {
    const p = this.current;
    this.current = undefined;
    clearTimeout(this.timer);
    this.destroy();
    p?.resolve(r);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    this.onClosed(this);
  }
}

/** Body of a chunked response starting at `start`, or undefined if it is not complete yet. */
function dechunk(buffer: Buffer, start: number): { body: string; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = start;
  for (;;) {
    const lineEnd = buffer.indexOf('\r\n', at, 'latin1');
    if (lineEnd < 0) return undefined;
    const size = parseInt(buffer.toString('latin1', at, lineEnd), 16);
    if (!Number.isFinite(size)) throw new Error('bad chunk size');
    const dataStart = lineEnd + 2;
    if (size === 0) {
      // No trailers expected: the last chunk is followed by an empty line.
      if (buffer.length < dataStart + 2) return undefined;
      return { body: Buffer.concat(parts).toString('utf8'), end: dataStart + 2 };
    }
    if (buffer.length < dataStart + size + 2) return undefined;
    parts.push(buffer.subarray(dataStart, dataStart + size));
    at = dataStart + size + 2;
  }
}

export class HttpClient {
  private readonly host: string;
  private readonly port: number;
  private readonly hostHeader: string;
  private readonly basePath: string;
  private readonly idle: Connection[] = [];
  private readonly queue: Pending[] = [];
  private open = 0;
  private closing = false;

  /** @param maxConnections most requests in flight at once; more wait in a queue (their time counts). */
  constructor(
    baseUrl: string,
    private readonly maxConnections: number,
  ) {
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:') throw new Error(`only http:// URLs are supported, got ${baseUrl}`);
    this.host = url.hostname;
    this.port = Number(url.port || 80);
    this.hostHeader = url.host;
    this.basePath = url.pathname.replace(/\/$/, '');
  }

  post(path: string, json: string, timeoutMs: number): Promise<HttpResult> {
    const body = Buffer.from(json, 'utf8');
    const head =
      `POST ${this.basePath}${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    return this.enqueue(head, body, timeoutMs);
  }

  /** POST without a body (and so without a content type), as a client that is not in debug mode sends queries. */
  postEmpty(path: string, timeoutMs: number): Promise<HttpResult> {
    return this.enqueue(
      `POST ${this.basePath}${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\nContent-Length: 0\r\n\r\n`,
      undefined,
      timeoutMs,
    );
  }

  get(path: string, timeoutMs: number): Promise<HttpResult> {
    return this.enqueue(
      `GET ${this.basePath}${path} HTTP/1.1\r\nHost: ${this.hostHeader}\r\n\r\n`,
      undefined,
      timeoutMs,
    );
  }

  private enqueue(head: string, body: Buffer | undefined, timeoutMs: number): Promise<HttpResult> {
    if (this.closing) return Promise.resolve({ kind: 'network', message: 'client closed' });
    return new Promise((resolve) => {
      this.queue.push({ head, body, timeoutMs, resolve });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let c = this.idle.pop();
      while (c !== undefined && c.closed) c = this.idle.pop();
      if (c === undefined) {
        if (this.open >= this.maxConnections) return;
        this.open++;
        c = new Connection(
          this.host,
          this.port,
          (conn) => {
            // A request in flight when the client closed comes back to a closed client: let it go.
            if (this.closing) return conn.destroy();
            this.idle.push(conn);
            this.pump();
          },
          () => {
            this.open--;
            this.pump();
          },
        );
      }
      c.send(this.queue.shift() as Pending);
    }
  }

  close(): void {
    this.closing = true;
    for (const p of this.queue.splice(0)) p.resolve({ kind: 'network', message: 'client closed' });
    for (const c of this.idle.splice(0)) c.destroy();
  }
}
