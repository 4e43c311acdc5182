import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { loadConfig } from '@lib/config';
import { aggProducerMessaging } from '../../apps/agg-producer/src/agg-producer.module';
import { KAFKA_VERSION } from '../../scripts/servers/kafka-jars';
import { ComposeFile, durationMs, environmentOf, loadCompose, portsOf, Service } from './support/compose';
import { keyValues, readDockerfile, stageNamed } from './support/dockerfile';
import { APP_SCHEMAS, AppName, CLUSTER_APPS, controllerRoutes, DOCKER, metricsPath, ROOT } from './support/repo';

/**
 * docker/compose.yaml and the swarm stacks (docker/swarm/stateful.yaml + stateless.yaml) against the
 * apps: each app's environment is validated by its own config schema (with the image's ENV under
 * it), and what it names (brokers, database URL, Aerospike, ports, health routes, scrape targets,
 * transactional ids) must match the services and files that serve it. Variables are interpolated
 * as Docker would, from a deployer's environment.
 */

const execFileAsync = promisify(execFile);
const INFRA = ['kafka', 'postgres', 'aerospike', 'prometheus', 'grafana'];
const DATABASES = ['kafka', 'postgres', 'aerospike'];
/** Consumer groups run in these apps: their replicas split the topics' partitions. */
const CONSUMER_APPS: AppName[] = ['pipeline', 'agg-producer'];
const HEALTH_ROUTES = controllerRoutes('libs/platform/src')
  .filter((r) => r.method === 'GET')
  .map((r) => r.path);
const SWARM_ENV = { POSTGRES_PASSWORD: 'from-the-deployer', GRAFANA_ADMIN_PASSWORD: 'from-the-deployer-too' };

interface Stack {
  readonly name: 'compose' | 'swarm';
  /** Services of all its files, by name, interpolated. */
  readonly services: Record<string, Service>;
  /** The same, as written. */
  readonly raw: Record<string, Service>;
  readonly files: { path: string; resolved: ComposeFile }[];
  /** Health route the apps' checks must ask (see the comments in the files). */
  readonly appHealth: string;
}

function stack(name: 'compose' | 'swarm'): Stack {
  const paths =
    name === 'compose'
      ? [join(DOCKER, 'compose.yaml')]
      : [join(DOCKER, 'swarm', 'stateful.yaml'), join(DOCKER, 'swarm', 'stateless.yaml')];
  const env = name === 'compose' ? {} : SWARM_ENV;
  const files = paths.map((path) => ({ path, ...loadCompose(path, env) }));
  const services: Record<string, Service> = {};
  const raw: Record<string, Service> = {};
  for (const f of files) {
    for (const [k, v] of Object.entries(f.resolved.services)) {
      if (k in services) throw new Error(`${k} is defined twice in the ${name} stack`);
      services[k] = v;
      raw[k] = f.raw.services[k];
    }
  }
  return { name, services, raw, files, appHealth: name === 'compose' ? '/health/ready' : '/health/live' };
}

const stacks = { compose: stack('compose'), swarm: stack('swarm') };

/** The runtime image's ENV: what an app sees under the service's environment. */
const imageEnv: Record<string, string> = (() => {
  const df = readDockerfile(join(DOCKER, 'Dockerfile'));
  return Object.fromEntries(
    stageNamed(df, 'runtime')
      .instructions.filter((i) => i.keyword === 'ENV')
      .flatMap(keyValues)
      .map(([k, v]) => [k, v ?? '']),
  );
})();

const replicasOf = (s: Service): number => s.deploy?.replicas ?? 1;

/** Swarm fills in Go templates per task; these are the ones it knows for the environment. */
function expandTemplates(value: string, slot: number): string {
  return value.replace(/\{\{\s*\.([A-Za-z.]+)\s*\}\}/g, (whole, field: string) => {
    const known: Record<string, string> = {
      'Task.Slot': String(slot),
      'Service.Name': 'svc',
      'Node.Hostname': 'node-1',
      'Task.Name': `svc.${slot}`,
    };
    if (!(field in known)) throw new Error(`unknown swarm template ${whole}`);
    return known[field];
  });
}

function envOf(s: Stack, app: string, slot = 1): Record<string, string> {
  const env = environmentOf(s.services[app]);
  return { ...imageEnv, ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, expandTemplates(v, slot)])) };
}

function configOf(s: Stack, app: AppName, slot = 1): Record<string, unknown> {
  return loadConfig(app, APP_SCHEMAS[app], envOf(s, app, slot)) as Record<string, unknown>;
}

/** `NAME://host:port` entries of a Kafka listener list. */
function listeners(value: string | undefined): Record<string, { host: string; port: number }> {
  return Object.fromEntries(
    (value ?? '')
      .split(',')
      .filter(Boolean)
      .map((l) => {
        const m = /^([A-Z_]+):\/\/([^:]*):(\d+)$/.exec(l.trim());
        if (!m) throw new Error(`not a listener: ${l}`);
        return [m[1], { host: m[2], port: Number(m[3]) }];
      }),
  );
}

function healthScript(service: Service): { node: string; script: string; url: URL } {
  const test = service.healthcheck?.test;
  if (!Array.isArray(test) || test[0] !== 'CMD' || test[2] !== '-e')
    throw new Error(`expected ["CMD", node, "-e", script], got ${JSON.stringify(test)}`);
  const url = /fetch\('([^']+)'\)/.exec(test[3])?.[1];
  if (!url) throw new Error(`no fetch('...') in ${test[3]}`);
  return { node: test[1], script: test[3], url: new URL(url) };
}

describe.each(['compose', 'swarm'] as const)('%s', (name) => {
  const s = stacks[name];

  it('runs every app of the cluster, Kafka, PostgreSQL, Aerospike, Prometheus and Grafana', () => {
    expect(Object.keys(s.services).sort()).toEqual([...CLUSTER_APPS, ...INFRA].sort());
  });

  it('pins every server image to a version; Kafka is the version the tests run', () => {
    for (const svc of INFRA) expect(s.services[svc].image).toMatch(/^[a-z0-9./-]+:[\w][\w.-]*$/);
    for (const svc of INFRA) expect(s.services[svc].image).not.toMatch(/:latest$/);
    expect(s.services.kafka.image).toBe(`apache/kafka:${KAFKA_VERSION}`);
  });

  it('gives every service a health check', () => {
    for (const [svc, def] of Object.entries(s.services)) {
      const h = def.healthcheck;
      expect({ svc, test: Array.isArray(h?.test) && h.test.length > 1 }).toEqual({ svc, test: true });
      for (const d of [h?.interval, h?.timeout, h?.start_period]) expect(durationMs(d ?? '')).toBeGreaterThan(0);
      expect(h?.retries).toBeGreaterThan(0);
    }
  });

  describe.each(CLUSTER_APPS)('%s', (app) => {
    const service = () => s.services[app];

    it("runs the app's image, the one docker/Dockerfile builds with APP set to it", () => {
      expect(s.raw[app].image).toBe(stacks.compose.raw[app].image);
      expect(service().image).toMatch(new RegExp(`/streaming-analytics/${app}:[\\w.-]+$`));
      if (name === 'compose') {
        const build = service().build;
        const contextDir = resolve(DOCKER, build?.context ?? '');
        expect(contextDir).toBe(ROOT);
        expect(relative(ROOT, join(contextDir, build?.dockerfile ?? 'Dockerfile'))).toBe(
          posix.join('docker', 'Dockerfile'),
        );
        expect(build?.args).toEqual({ APP: app });
      } else {
        expect(service().build).toBeUndefined();
      }
    });

    it('sets only variables the app reads, with values its config accepts', () => {
      const known = Object.keys(APP_SCHEMAS[app].shape);
      expect(Object.keys(environmentOf(service())).filter((k) => !known.includes(k))).toEqual([]);
      expect(() => configOf(s, app)).not.toThrow();
    });

    it('uses Kafka, and the stores, of this stack', () => {
      const c = configOf(s, app);
      expect(c.TRANSPORT).toBe('kafka');
      const kafkaEnv = environmentOf(s.services.kafka);
      const advertised = Object.values(listeners(kafkaEnv.KAFKA_ADVERTISED_LISTENERS));
      for (const b of c.KAFKA_BROKERS as string[]) {
        const [host, port] = b.split(':');
        expect(advertised).toContainEqual({ host, port: Number(port) });
        expect(host).toBe('kafka');
      }
      if ('DATABASE_URL' in APP_SCHEMAS[app].shape) {
        // Unset would mean an embedded PGlite inside the container, per replica.
        expect(c.DATABASE_URL).toBeDefined();
        const url = new URL(c.DATABASE_URL as string);
        const pg = environmentOf(s.services.postgres);
        expect({
          host: url.hostname,
          port: url.port || '5432',
          user: url.username,
          password: decodeURIComponent(url.password),
          db: url.pathname.slice(1),
        }).toEqual({
          host: 'postgres',
          port: '5432',
          user: pg.POSTGRES_USER,
          password: pg.POSTGRES_PASSWORD,
          db: pg.POSTGRES_DB,
        });
      }
      if ('PROFILE_STORE' in APP_SCHEMAS[app].shape) {
        expect(c.PROFILE_STORE).toBe('aerospike');
        const as = environmentOf(s.services.aerospike);
        const hosts = String(c.AEROSPIKE_HOSTS).split(',');
        for (const h of hosts) expect(h).toBe(`aerospike:${as.SERVICE_PORT ?? 3000}`);
        expect(c.AEROSPIKE_NAMESPACE).toBe(as.NAMESPACE ?? 'test');
      }
    });

    it(`checks its health on its PORT, at a route the app serves`, () => {
      const c = configOf(s, app);
      const { node, url } = healthScript(service());
      // distroless nodejs: node is at /nodejs/bin/node, and there is no shell for CMD-SHELL.
      expect(node).toBe('/nodejs/bin/node');
      expect(url.hostname).toBe('127.0.0.1');
      expect(Number(url.port)).toBe(c.PORT);
      expect(HEALTH_ROUTES).toContain(url.pathname);
      expect(url.pathname).toBe(s.appHealth);
    });

    it('gives SIGTERM more time than the app takes to drain (SHUTDOWN_TIMEOUT_MS)', () => {
      const c = configOf(s, app);
      expect(durationMs(service().stop_grace_period ?? '10s')).toBeGreaterThan(c.SHUTDOWN_TIMEOUT_MS as number);
    });

    it('publishes only its own PORT', () => {
      const c = configOf(s, app);
      for (const p of portsOf(service())) expect(p.target).toBe(c.PORT);
    });
  });

  it('answers the health checks with exit 0 for 200 and 1 for 503 or no answer (run with this node)', async () => {
    const status = { code: 200 };
    const server: Server = createServer((_req, res) => {
      res.statusCode = status.code;
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const run = async (script: string): Promise<number> => {
      try {
        await execFileAsync(process.execPath, ['-e', script], { timeout: 10_000 });
        return 0;
      } catch (e) {
        return (e as { code?: number }).code ?? -1;
      }
    };
    try {
      for (const app of CLUSTER_APPS) {
        const { script, url } = healthScript(s.services[app]);
        const local = script.replace(`:${url.port}/`, `:${port}/`);
        status.code = 200;
        expect({ app, exit: await run(local) }).toEqual({ app, exit: 0 });
        status.code = 503;
        expect({ app, exit: await run(local) }).toEqual({ app, exit: 1 });
      }
    } finally {
      await new Promise((r) => server.close(r));
    }
    const { script, url } = healthScript(s.services.gateway);
    expect(await run(script.replace(`:${url.port}/`, `:${port}/`))).toBe(1);
  }, 60_000);

  it('creates topics the same way in every app: partitions >= consumer replicas, replication <= brokers', () => {
    const configs = CLUSTER_APPS.map((app) => configOf(s, app));
    const same = (key: string) => new Set(configs.map((c) => JSON.stringify(c[key])));
    for (const key of [
      'KAFKA_TOPIC_PARTITIONS',
      'KAFKA_REPLICATION_FACTOR',
      'TOPIC_USER_TAGS',
      'TOPIC_DERIBIT_TRADES',
      'TOPIC_TRADE_STATS',
    ]) {
      expect({ key, values: same(key).size }).toEqual({ key, values: 1 });
    }
    const partitions = configs[0].KAFKA_TOPIC_PARTITIONS as number;
    for (const app of CONSUMER_APPS) expect(partitions).toBeGreaterThanOrEqual(replicasOf(s.services[app]));
    const brokers = replicasOf(s.services.kafka);
    expect(configs[0].KAFKA_REPLICATION_FACTOR).toBeLessThanOrEqual(brokers);
    const kafka = environmentOf(s.services.kafka);
    for (const key of [
      'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR',
      'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR',
      'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR',
    ]) {
      expect(Number(kafka[key])).toBeLessThanOrEqual(brokers);
    }
    // The apps create every topic (and the changelog); the broker must not invent one from a typo.
    expect(kafka.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
  });

  it('runs one KRaft node whose listeners match what the apps are given', () => {
    const kafka = environmentOf(s.services.kafka);
    expect(kafka.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    const own = listeners(kafka.KAFKA_LISTENERS);
    const advertised = listeners(kafka.KAFKA_ADVERTISED_LISTENERS);
    for (const [n, l] of Object.entries(advertised)) expect(own[n]?.port).toBe(l.port);
    const controller = kafka.KAFKA_CONTROLLER_LISTENER_NAMES;
    expect(kafka.KAFKA_CONTROLLER_QUORUM_VOTERS).toBe(`${kafka.KAFKA_NODE_ID}@kafka:${own[controller].port}`);
    expect(advertised[kafka.KAFKA_INTER_BROKER_LISTENER_NAME]).toEqual({ host: 'kafka', port: 9092 });
  });

  it('gives agg-producer a distinct transactional id per replica', () => {
    const n = replicasOf(s.services['agg-producer']);
    const ids = Array.from(
      { length: n },
      (_, k) => aggProducerMessaging(configOf(s, 'agg-producer', k + 1) as never).transactionalId,
    );
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(n);
  });

  it('leaves PostgreSQL connections to spare: replicas x DATABASE_POOL_SIZE <= max_connections - 3 (reserved)', () => {
    const command = s.services.postgres.command ?? '';
    const max = Number(
      /max_connections=(\d+)/.exec(typeof command === 'string' ? command : command.join(' '))?.[1] ?? 100,
    );
    const used = CLUSTER_APPS.filter((app) => 'DATABASE_URL' in APP_SCHEMAS[app].shape).reduce(
      (sum, app) => sum + replicasOf(s.services[app]) * (configOf(s, app).DATABASE_POOL_SIZE as number),
      0,
    );
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(max - 3);
  });

  it('has Prometheus scrape every replica of every app on its PORT and metrics path, job named after the app', () => {
    const source = s.services.prometheus.configs?.find((c) => c.target === '/etc/prometheus/prometheus.yml')?.source;
    const file = s.files.find((f) => f.resolved.configs?.[source ?? '']);
    const path = resolve(dirname(file?.path ?? ''), file?.resolved.configs?.[source ?? '']?.file ?? '');
    const prom = parse(readFileSync(path, 'utf8')) as {
      scrape_configs: {
        job_name: string;
        metrics_path?: string;
        dns_sd_configs?: { names: string[]; type: string; port: number }[];
      }[];
    };
    for (const app of CLUSTER_APPS) {
      const job = prom.scrape_configs.find((j) => j.job_name === app);
      expect(job).toBeDefined();
      expect(job?.metrics_path ?? '/metrics').toBe(metricsPath());
      // compose: the service name resolves to every container; swarm: tasks.<name> to every task.
      expect(job?.dns_sd_configs).toEqual([
        { names: [name === 'compose' ? app : `tasks.${app}`], type: 'A', port: configOf(s, app).PORT },
      ]);
    }
  });

  it('provisions Grafana with the Prometheus of this stack and the dashboard directory it mounts', () => {
    const g = s.services.grafana;
    const file = s.files.find((f) => 'grafana' in f.resolved.services) as { path: string; resolved: ComposeFile };
    const configPath = (source: string) => resolve(dirname(file.path), file.resolved.configs?.[source]?.file ?? '');
    const mounts = g.configs ?? [];
    for (const m of mounts) expect(existsSync(configPath(m.source))).toBe(true);
    const ds = mounts.find((m) => m.target.startsWith('/etc/grafana/provisioning/datasources/'));
    const providers = mounts.find((m) => m.target.startsWith('/etc/grafana/provisioning/dashboards/'));
    const dashboards = mounts.filter((m) => m.target.endsWith('.json'));
    const datasource = (
      parse(readFileSync(configPath(ds?.source ?? ''), 'utf8')) as { datasources: { type: string; url: string }[] }
    ).datasources[0];
    expect(datasource.type).toBe('prometheus');
    expect(new URL(datasource.url).host).toBe('prometheus:9090');
    const provider = (
      parse(readFileSync(configPath(providers?.source ?? ''), 'utf8')) as { providers: { options: { path: string } }[] }
    ).providers[0];
    expect(dashboards.length).toBeGreaterThan(0);
    for (const d of dashboards) expect(posix.dirname(d.target)).toBe(provider.options.path);
    expect(environmentOf(g).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(dashboards[0].target);
  });
});

describe('compose only', () => {
  const s = stacks.compose;

  it.each(CLUSTER_APPS)('starts %s once the servers it uses are healthy', (app) => {
    const c = configOf(s, app);
    const needs = [
      'kafka',
      ...(c.DATABASE_URL ? ['postgres'] : []),
      ...(c.PROFILE_STORE === 'aerospike' ? ['aerospike'] : []),
    ];
    const deps = s.services[app].depends_on as Record<string, { condition?: string }>;
    expect(Object.keys(deps).sort()).toEqual(needs.sort());
    for (const d of needs) expect(deps[d].condition).toBe('service_healthy');
  });

  it('publishes the gateway on the same port of this machine', () => {
    expect(portsOf(s.services.gateway)).toContainEqual({ published: 8080, target: configOf(s, 'gateway').PORT });
  });
});

describe('swarm only', () => {
  const s = stacks.swarm;
  const [stateful, stateless] = s.files;

  it('splits stateful services (servers, monitoring) from the stateless apps', () => {
    expect(Object.keys(stateless.resolved.services).sort()).toEqual([...CLUSTER_APPS].sort());
    expect(Object.keys(stateful.resolved.services).sort()).toEqual([...INFRA].sort());
  });

  it('pins each database to the nodes of its own value of one label, so no two share a node', () => {
    const values = DATABASES.map((db) => {
      const constraints = s.services[db].deploy?.placement?.constraints ?? [];
      const m = constraints.map((c) => /^node\.labels\.db\s*==\s*(\S+)$/.exec(c)).find(Boolean);
      expect({ db, constraint: m?.[0] }).toEqual({ db, constraint: expect.any(String) });
      expect(replicasOf(s.services[db])).toBe(1);
      return m?.[1];
    });
    expect(new Set(values).size).toBe(DATABASES.length);
  });

  it('pins every service that keeps a volume to labelled nodes (volumes are local to a node)', () => {
    for (const [svc, def] of Object.entries(s.services)) {
      const named = (def.volumes ?? []).some((v) =>
        typeof v === 'string' ? !v.startsWith('/') && !v.startsWith('.') : v.type === 'volume',
      );
      if (!named) continue;
      expect({
        svc,
        pinned: (def.deploy?.placement?.constraints ?? []).some((c) => c.startsWith('node.labels.')),
      }).toEqual({ svc, pinned: true });
    }
  });

  it('runs 2 gateways behind the swarm load balancer and 2 pipelines', () => {
    expect(replicasOf(s.services.gateway)).toBe(2);
    expect(s.services.gateway.deploy?.endpoint_mode ?? 'vip').toBe('vip');
    expect(portsOf(s.services.gateway)).toContainEqual({
      published: 8080,
      target: configOf(s, 'gateway').PORT,
      mode: 'ingress',
    });
    expect(replicasOf(s.services.pipeline)).toBe(2);
  });

  it('connects the stacks through one attachable overlay network, named in both', () => {
    const own = Object.values(stateful.resolved.networks ?? {});
    const joined = Object.values(stateless.resolved.networks ?? {});
    expect(joined).toEqual([expect.objectContaining({ external: true })]);
    expect(own).toContainEqual(expect.objectContaining({ name: joined[0]?.name, driver: 'overlay', attachable: true }));
    for (const def of Object.values(s.services))
      expect(def.networks).toEqual(Object.keys(stateful.resolved.networks ?? {}));
  });

  it('leaves out what docker stack deploy ignores or rejects (build, depends_on, container_name)', () => {
    for (const [svc, def] of Object.entries(s.services)) {
      expect({
        svc,
        keys: Object.keys(def).filter((k) => ['build', 'depends_on', 'container_name', 'restart'].includes(k)),
      }).toEqual({ svc, keys: [] });
    }
  });

  it('needs the passwords from the deployer instead of a default in the file', () => {
    for (const missing of Object.keys(SWARM_ENV)) {
      const env: Record<string, string> = { ...SWARM_ENV };
      delete env[missing];
      expect(() => s.files.forEach((f) => loadCompose(f.path, env))).toThrow(`required variable ${missing}`);
    }
  });
});
