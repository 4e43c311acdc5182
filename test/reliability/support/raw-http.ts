/**
 * HTTP/1.1 requests exactly as given, over a fresh TCP connection each (`Connection: close`): the request
 * line's path is written byte for byte (no URL normalisation, no encoding, raw UTF-8 allowed), so the
 * server sees what a careless or hostile client sends. The response is read until the server closes.
 */
import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** As written on the request line (bytes of this string in UTF-8). */
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
}

export class RawHttpError extends Error {}

/** Bodies larger than this go after a pause in which the server may answer from the head alone. */
const EARLY_ANSWER_BYTES = 64 * 1024;
const EARLY_ANSWER_WAIT_MS = 2_000;

export function sendRaw(host: string, port: number, req: RawRequest, timeoutMs = 30_000): Promise<RawResponse> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    const chunks: Buffer[] = [];
    let settled = false;
    const timer = setTimeout(() => finish(new RawHttpError(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parse(Buffer.concat(chunks), Date.now() - started);
      // A server may answer (413, 400) before the whole body is written and then reset the connection.
      if (parsed !== undefined) resolve(parsed);
      else reject(err ?? new RawHttpError(`connection closed without a complete answer (${chunks.length} chunks)`));
    };
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const parsed = parse(Buffer.concat(chunks), 0);
      if (parsed !== undefined && complete(Buffer.concat(chunks))) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (err) => finish(err));
    const headers: Record<string, string> = { host: `${host}:${port}`, connection: 'close', ...req.headers };
    if (req.body !== undefined && headers['content-length'] === undefined) {
      headers['content-length'] = String(req.body.length);
    }
    const head =
      `${req.method} ${req.path} HTTP/1.1\r\n` +
      Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('') +
      '\r\n';
    const body = req.body ?? Buffer.alloc(0);
    if (body.length <= EARLY_ANSWER_BYTES) {
      socket.write(Buffer.concat([Buffer.from(head, 'utf8'), body]), () => undefined);
      return;
    }
    // A server refuses a body over its limit from the Content-Length alone (413) and closes; a client
    // still writing then gets a reset that discards the answer it had not read yet (EPIPE, no status).
    // So, as a careful client does, give the server a moment to answer from the head before the body.
    // (A loaded gateway can take a while: at 200 ms, 3 of 50,000 requests still lost their 413 this way.)
    socket.write(head, 'utf8');
    const early = setTimeout(() => {
      if (!settled && chunks.length === 0) socket.write(body, () => undefined);
    }, EARLY_ANSWER_WAIT_MS);
    socket.on('close', () => clearTimeout(early));
  });
}

function headEnd(buf: Buffer): number {
  return buf.indexOf('\r\n\r\n');
}

/** A response framed by Content-Length that is all there: no need to wait for the close. */
function complete(buf: Buffer): boolean {
  const end = headEnd(buf);
  if (end < 0) return false;
  const m = /\r\ncontent-length: *(\d+)/i.exec(buf.toString('latin1', 0, end));
  return m !== null && buf.length >= end + 4 + Number(m[1]);
}

function parse(buf: Buffer, ms: number): RawResponse | undefined {
  const end = headEnd(buf);
  if (end < 0) return undefined;
  const lines = buf.toString('latin1', 0, end).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (status === null) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = buf.subarray(end + 4);
  if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
  else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  return { status: Number(status[1]), headers, body: body.toString('utf8'), ms };
}

function dechunk(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const n = parseInt(buf.toString('latin1', at, lineEnd), 16);
    if (!(n > 0)) break;
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + n));
    at = lineEnd + 2 + n + 2;
  }
  return Buffer.concat(parts);
}
