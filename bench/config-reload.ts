/**
 * Benchmark 6: a config file lands → the change is applied.
 *
 * The clock starts right after the save (an editor's atomic save: temp file
 * + rename, or a write in place) and stops when a client following the
 * daemon's `config` log stream receives the load's record, which hived
 * writes after every part has applied its slice. So it covers chokidar's
 * event, the quiet time (`config.debounceMs`, 50 ms), reading, parsing and
 * validating the files, every part's apply, and the record's trip to a
 * client. Two kinds of change: a queue setting (`queue.defaultPriority`),
 * and a bot kind's `instances` (the apply starts or stops a bot; the new
 * bot's start is not waited for, its `ready` is measured separately).
 */
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchConfig, type Daemon, type Summary, sleep, summarize } from './lib.ts';

export interface ConfigReloadResult {
  samples: number;
  /** Save → record of the load, a queue setting changed. */
  queueKeyMs: Summary;
  /** Save → record of the load, a kind's instances changed (4 ↔ 5 echo bots). */
  scaleMs: Summary;
  /** Save (scale up) → the new bot `ready`. */
  scaleToReadyMs: Summary;
  /** The daemon's own time for each load (read, validate, apply), from the records. */
  loadMs: Summary;
  debounceMs: number;
}

interface Line {
  message?: string;
  outcome?: string;
  durationMs?: number;
  diff?: { key: string }[];
}

export async function benchConfigReload(
  daemon: Daemon,
  options: { samples: number },
): Promise<ConfigReloadResult> {
  const file = join(daemon.stateDir, 'config', 'hive.yaml');
  const connection = await daemon.connect();
  const waiting: ((line: Line) => void)[] = [];
  const follow = connection.request(
    'logs.tail',
    { part: 'config', lines: 0, follow: true },
    { onEvent: (event) => waiting.shift()?.(event as Line) },
  );
  follow.catch(() => {});
  await sleep(100);
  const nextRecord = () => new Promise<Line>((resolve) => waiting.push(resolve));

  let priority = 5;
  let instances = 4;
  const save = (inPlace: boolean) => {
    const text = JSON.stringify(
      benchConfig({ instances, extra: { queue: { defaultPriority: priority } } }),
    );
    if (inPlace) writeFileSync(file, text);
    else {
      writeFileSync(`${file}.tmp`, text);
      renameSync(`${file}.tmp`, file);
    }
  };
  const measure = async (change: () => void, inPlace: boolean) => {
    change();
    const record = nextRecord();
    const start = performance.now();
    save(inPlace);
    const line = await record;
    const ms = performance.now() - start;
    if (line.outcome !== 'applied') throw new Error(`load not applied: ${JSON.stringify(line)}`);
    return { ms, loadMs: line.durationMs ?? Number.NaN };
  };

  const queueKey: number[] = [];
  const scale: number[] = [];
  const toReady: number[] = [];
  const load: number[] = [];
  for (let i = 0; i < options.samples; i++) {
    const a = await measure(
      () => {
        priority = priority === 5 ? 6 : 5;
      },
      i % 2 === 1,
    );
    queueKey.push(a.ms);
    load.push(a.loadMs);
    // Apart from the next save by more than the quiet time: one load each.
    await sleep(120 + Math.random() * 60);

    const up = instances === 4;
    const readyStart = performance.now();
    const b = await measure(
      () => {
        instances = up ? 5 : 4;
      },
      i % 2 === 0,
    );
    scale.push(b.ms);
    load.push(b.loadMs);
    if (up) {
      for (;;) {
        const s = await daemon.status();
        if (s.bots.filter((bot) => bot.state === 'ready').length >= 5) break;
        await sleep(1);
      }
      toReady.push(performance.now() - readyStart);
    } else {
      for (;;) {
        const s = await daemon.status();
        if (s.bots.length === 4) break;
        await sleep(5);
      }
    }
    await sleep(120 + Math.random() * 60);
  }
  connection.cancel();
  connection.close();
  return {
    samples: options.samples,
    queueKeyMs: summarize(queueKey),
    scaleMs: summarize(scale),
    scaleToReadyMs: summarize(toReady),
    loadMs: summarize(load),
    debounceMs: 50,
  };
}
