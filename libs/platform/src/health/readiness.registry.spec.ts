import { ReadinessRegistry } from './readiness.registry';

const run = async (registry: ReadinessRegistry) =>
  Promise.all(
    registry.entries().map(async ([name, check]) => {
      try {
        await check();
        return [name, 'up'];
      } catch (err) {
        return [name, (err as Error).message];
      }
    }),
  );

describe('ReadinessRegistry', () => {
  it('lists a name registered by several modules once, up only when all of its checks pass', async () => {
    const registry = new ReadinessRegistry();
    let pipelineDb = true;
    registry.register('postgres', () => undefined);
    registry.register('kafka', async () => undefined);
    registry.register('postgres', () => {
      if (!pipelineDb) throw new Error('pipeline database down');
    });
    expect(await run(registry)).toEqual([
      ['postgres', 'up'],
      ['kafka', 'up'],
    ]);
    pipelineDb = false;
    expect(await run(registry)).toEqual([
      ['postgres', 'pipeline database down'],
      ['kafka', 'up'],
    ]);
  });

  it('drains on shutdown', () => {
    const registry = new ReadinessRegistry();
    expect(registry.isDraining).toBe(false);
    registry.beforeApplicationShutdown();
    expect(registry.isDraining).toBe(true);
  });
});
