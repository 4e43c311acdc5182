/**
 * A process that writes to a durable in-process log as fast as it can until it is killed, and says on
 * stdout what the log acknowledged:
 *
 *   node -r @swc-node/register test/embedded/support/durable-log.writer.ts <dir> <first seq>
 *
 * - `A <seq>`: a publish of `seq` (topic `events`, one of 8 keys, 8 publishers at once) resolved.
 * - `T <n>`: a transaction resolved: `n` to topic `out`, `n` to the compacted topic `state` (key
 *   `s<n % 5>`), and group `tx` committed offset `n` on events/0, all in one append.
 */
import { InMemoryBroker } from '../../../libs/in-process-log/src/in-memory.broker';
import { CRASH_LOG_OPTIONS } from './durable-log.options';

async function main(): Promise<void> {
  const [dir, firstSeq, firstTxn] = process.argv.slice(2);
  const broker = await InMemoryBroker.open({ ...CRASH_LOG_OPTIONS, dir });
  let seq = Number(firstSeq);
  let txn = Number(firstTxn);
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  say('ready');

  const publisher = async (worker: number): Promise<never> => {
    for (;;) {
      const n = seq++;
      const value = Buffer.from(String(n));
      await broker.append([{ topic: 'events', key: `k${worker}`, value, headers: { seq: String(n) } }]);
      say(`A ${n}`);
    }
  };
  const transactions = async (): Promise<never> => {
    for (;;) {
      const n = txn++;
      const value = Buffer.from(String(n));
      await broker.append(
        [
          { topic: 'out', key: 'o', value, headers: {} },
          { topic: 'state', key: `s${n % 5}`, value, headers: {} },
        ],
        [{ groupId: 'tx', topic: 'events', partition: 0, offset: n }],
      );
      say(`T ${n}`);
    }
  };
  await Promise.all([...Array.from({ length: 8 }, (_, w) => publisher(w)), transactions()]);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
