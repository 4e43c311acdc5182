/**
 * A pass-through HTTP proxy in front of the gateway that holds queries (profiles, aggregates) while it is
 * closed. Tags and everything else go straight through. A suite that kills the pipeline at random moments
 * closes it for the run and opens it once the pipeline has caught up, so that the loadgen's checks run on
 * a converged system whatever the machine's speed: an answer from a pipeline still restarting is late,
 * not wrong, and this suite is about wrong.
 */
import { Agent, createServer, IncomingMessage, request, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

const QUERY = /^\/(user_profiles|aggregates)(\/|\?|$)/;

export class QueryGate {
  private open = false;
  private waiting: (() => void)[] = [];
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });
  /** Queries that arrived while closed. */
  held = 0;

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
  ) {
    server.on('request', (req, res) => this.handle(req, res));
  }

  static async start(targetUrl: string): Promise<QueryGate> {
    // Node closes a keep-alive connection idle for 5 s by default; on a loaded machine a client's next
    // request on it can cross the close (ECONNRESET, 10 tags of a CI run). Fastify, the gateway this
    // stands in for, keeps them 72 s.
    const server = createServer({ keepAlive: true, keepAliveTimeout: 72_000 });
    const gate = new QueryGate(server, new URL(targetUrl));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return gate;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Lets held and later queries through. */
  release(): void {
    this.open = true;
    for (const w of this.waiting.splice(0)) w();
  }

  async close(): Promise<void> {
    this.release();
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!this.open && QUERY.test(req.url ?? '')) {
      this.held += 1;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    const upstream = request(
      {
        host: this.target.hostname,
        port: this.target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent: this.agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`gate: ${err.message}`);
    });
    req.pipe(upstream);
  }
}
