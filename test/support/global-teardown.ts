/** Jest globalTeardown of the `integration` project: stops the servers global-setup.ts started. */
import type {} from './global-setup'; // declares the `__TEST_SERVERS__` global

export default async function globalTeardown(): Promise<void> {
  const servers = globalThis.__TEST_SERVERS__;
  globalThis.__TEST_SERVERS__ = undefined;
  if (servers === undefined) return;
  await Promise.all([servers.kafka?.stop(), servers.postgres?.stop()]);
}
