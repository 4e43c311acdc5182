/** The thread of PacedTagsThread (paced-tags.ts): runs PacedTags, posting outcomes as they come. */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { PacedTags, PacedTagsOptions, WorkerMessage } from './paced-tags';

const port = parentPort;
if (port === null) throw new Error('paced-tags.worker.ts runs as a worker thread');
const client = new PacedTags(workerData as PacedTagsOptions);
let posted = 0;
const post = (): void => {
  const outcomes = client.outcomes.slice(posted);
  posted += outcomes.length;
  if (outcomes.length > 0) port.postMessage({ kind: 'outcomes', outcomes } satisfies WorkerMessage);
};
const timer = setInterval(post, 100);
const loop = monitorEventLoopDelay({ resolution: 20 });
loop.enable();

port.on('message', (m: 'start' | 'stop') => {
  if (m === 'start') client.start();
  else
    void client.stop().then(() => {
      clearInterval(timer);
      post();
      loop.disable();
      port.postMessage({ kind: 'stopped', sent: client.sent, loopMaxMs: loop.max / 1e6 } satisfies WorkerMessage);
      port.close();
    });
});
