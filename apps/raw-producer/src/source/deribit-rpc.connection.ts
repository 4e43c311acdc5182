import { DeribitRpcErrorBody, parseDeribitFrame, RpcId } from '@lib/domain';
import WebSocket from 'ws';

/** The server answered a request with a JSON-RPC error. */
export class DeribitRpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly rpcMessage: string,
    readonly data?: unknown,
  ) {
    super(`${method} failed: JSON-RPC error ${code} ${rpcMessage}`);
    this.name = 'DeribitRpcError';
  }
}

/** The connection closed (or was never open) before the answer came. */
export class ConnectionClosedError extends Error {
  constructor(reason: string) {
    super(`connection closed: ${reason}`);
    this.name = 'ConnectionClosedError';
  }
}

export class RpcTimeoutError extends Error {
  constructor(method: string, timeoutMs: number) {
    super(`${method}: no answer within ${timeoutMs} ms`);
    this.name = 'RpcTimeoutError';
  }
}

/** Called synchronously, in frame order, for everything that is not the answer to a request. */
export interface RpcConnectionHandlers {
  onSubscription(channel: string, data: unknown): void;
  onHeartbeat(type: string): void;
  onMalformed(reason: string, sample: string): void;
  /** An error frame that answers no pending request. */
  onUnsolicitedError(error: DeribitRpcErrorBody): void;
}

interface Pending {
  readonly method: string;
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

const SAMPLE_CHARS = 200;

/**
 * One websocket connection speaking JSON-RPC 2.0: correlates answers with requests by id (each with a
 * timeout), hands every other frame to the handlers, and rejects whatever is pending when it closes.
 * It never reconnects: the source owns that policy and opens a new connection.
 */
export class DeribitRpcConnection {
  /** Epoch ms of the last frame received (of any kind), for the watchdog. */
  lastFrameAt = Date.now();
  /** Resolves with the reason once the socket is closed; never rejects. */
  readonly closed: Promise<string>;

  private readonly pending = new Map<RpcId, Pending>();
  private nextId = 1;
  private closeReason: string | undefined;
  private pausedByUs = false;
  private resolveClosed: (reason: string) => void = () => undefined;

  private constructor(
    private readonly ws: WebSocket,
    private readonly handlers: RpcConnectionHandlers,
  ) {
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    ws.on('message', (data: WebSocket.RawData, isBinary: boolean) => this.onMessage(data, isBinary));
    ws.on('close', (code: number, reason: Buffer) => {
      this.finish(
        this.closeReason ?? `closed by the server (code ${code}${reason.length > 0 ? `, ${reason.toString()}` : ''})`,
      );
    });
    // An 'error' is always followed by 'close'; remembering it gives that close a reason.
    ws.on('error', (err: Error) => {
      this.closeReason ??= `socket error: ${err.message}`;
    });
  }

  /**
   * Opens a connection; rejects if the handshake fails, takes longer than `connectTimeoutMs`, or `signal`
   * aborts first.
   */
  static open(
    url: string,
    connectTimeoutMs: number,
    handlers: RpcConnectionHandlers,
    signal?: AbortSignal,
  ): Promise<DeribitRpcConnection> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(new ConnectionClosedError('aborted'));
        return;
      }
      // ws's handshakeTimeout covers TCP connect + HTTP upgrade.
      const ws = new WebSocket(url, { handshakeTimeout: connectTimeoutMs, perMessageDeflate: false });
      const onAbort = (): void => ws.terminate();
      const onError = (err: Error): void => {
        ws.removeListener('open', onOpen);
        signal?.removeEventListener('abort', onAbort);
        ws.terminate();
        reject(signal?.aborted === true ? new ConnectionClosedError('aborted') : err);
      };
      const onOpen = (): void => {
        ws.removeListener('error', onError);
        signal?.removeEventListener('abort', onAbort);
        resolve(new DeribitRpcConnection(ws, handlers));
      };
      ws.once('error', onError);
      ws.once('open', onOpen);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  get isOpen(): boolean {
    return this.closeReason === undefined && this.ws.readyState === WebSocket.OPEN;
  }

  get isPaused(): boolean {
    return this.pausedByUs;
  }

  /** Sends a request and resolves with its `result`; rejects with DeribitRpcError, RpcTimeoutError or ConnectionClosedError. */
  request(method: string, params: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
    if (!this.isOpen) return Promise.reject(new ConnectionClosedError(this.closeReason ?? 'not open'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RpcTimeoutError(method, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { method, resolve, reject, timer });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }), (err) => {
        if (err === undefined || err === null) return;
        const p = this.pending.get(id);
        if (p === undefined) return;
        clearTimeout(p.timer);
        this.pending.delete(id);
        reject(new ConnectionClosedError(`send failed: ${err.message}`));
      });
    });
  }

  /** Stops reading from the socket (TCP backpressure reaches the server); frames already read still arrive. */
  pause(): void {
    if (this.pausedByUs || !this.isOpen) return;
    this.pausedByUs = true;
    this.ws.pause();
  }

  resume(): void {
    if (!this.pausedByUs) return;
    this.pausedByUs = false;
    // Time spent paused was our choice, not the server's silence.
    this.lastFrameAt = Date.now();
    if (this.ws.readyState === WebSocket.OPEN) this.ws.resume();
  }

  /** Closes at once (no closing handshake: used when the peer is presumed dead or misbehaving). */
  terminate(reason: string): void {
    this.closeReason ??= reason;
    this.ws.terminate();
  }

  /** Closes with the closing handshake, falling back to terminate when the peer does not answer. */
  close(reason: string): Promise<string> {
    this.closeReason ??= reason;
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      if (this.pausedByUs) this.ws.resume();
      this.ws.close(1000, 'client closing');
      const timer = setTimeout(() => this.ws.terminate(), 1_000);
      void this.closed.then(() => clearTimeout(timer));
    }
    return this.closed;
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    this.lastFrameAt = Date.now();
    const buffer = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (isBinary) {
      this.handlers.onMalformed('binary frame', `${buffer.length} bytes`);
      return;
    }
    const text = buffer.toString('utf8');
    const frame = parseDeribitFrame(text);
    switch (frame.kind) {
      case 'subscription':
        this.handlers.onSubscription(frame.channel, frame.data);
        return;
      case 'heartbeat':
        this.handlers.onHeartbeat(frame.type);
        return;
      case 'result': {
        const p = this.take(frame.id);
        if (p !== undefined) p.resolve(frame.result);
        return;
      }
      case 'error': {
        const p = frame.id === null ? undefined : this.take(frame.id);
        if (p !== undefined)
          p.reject(new DeribitRpcError(p.method, frame.error.code, frame.error.message, frame.error.data));
        else this.handlers.onUnsolicitedError(frame.error);
        return;
      }
      case 'malformed':
        this.handlers.onMalformed(frame.reason, text.slice(0, SAMPLE_CHARS));
        return;
    }
  }

  private take(id: RpcId): Pending | undefined {
    const p = this.pending.get(id);
    if (p === undefined) return undefined;
    clearTimeout(p.timer);
    this.pending.delete(id);
    return p;
  }

  private finish(reason: string): void {
    this.closeReason ??= reason;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new ConnectionClosedError(reason));
    }
    this.resolveClosed(reason);
  }
}
