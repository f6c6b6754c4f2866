import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { BotSupervisor, EMPTY_REGISTRY, type RegistryDoc } from '../../daemon/bots/supervisor.ts';
import { ConfigSchema } from '../../daemon/config/schema.ts';
import { Degradation, EMPTY_MODE_DOC, type ModeDoc } from '../../daemon/degradation/degradation.ts';
import {
  parseLoadAvg,
  parseMemInfo,
  parseProcStat,
  parsePsiSome,
  type Sampler,
  SystemSampler,
} from '../../daemon/degradation/sampler.ts';
import { LogHub } from '../../daemon/logs/log-hub.ts';
import { JsonDocument } from '../../daemon/store/json-document.ts';
import { TaskQueue } from '../../daemon/tasks/task-queue.ts';
import type { ModeTransition } from '../../protocol/health.ts';
import { tempDir } from '../helpers/daemon.ts';

test('readings from /proc text: PSI some avg10, meminfo, loadavg, a process stat with spaces in its name', (t) => {
  const psi =
    'some avg10=12.50 avg60=3.00 avg300=1.00 total=123\nfull avg10=1.00 avg60=0 avg300=0 total=1\n';
  t.is(parsePsiSome(psi), 0.125);
  t.is(parsePsiSome(''), undefined);
  const meminfo = 'MemTotal:       1000000 kB\nMemFree:  10 kB\nMemAvailable:    250000 kB\n';
  t.is(parseMemInfo(meminfo), 0.75);
  t.is(parseMemInfo('MemTotal: 0 kB\n'), undefined);
  t.is(parseLoadAvg('1.50 0.80 0.40 2/300 1234\n'), 1.5);
  // utime 250 + stime 50 ticks = 3 s; rss 1000 pages.
  const fields = Array.from({ length: 50 }, (_, i) => String(i));
  fields[11] = '250';
  fields[12] = '50';
  fields[21] = '1000';
  const stat = `4242 (node (my) bot) S ${fields.slice(1).join(' ')}`;
  t.deepEqual(parseProcStat(stat, 100, 4096), { cpuSeconds: 3, rssBytes: 4_096_000 });
});

test('the system sampler reads this machine: memory, disk and this process', (t) => {
  const sampler = new SystemSampler();
  t.teardown(() => sampler.close());
  const memory = sampler.memory();
  t.truthy(memory, 'Linux has PSI or /proc/meminfo');
  t.true((memory?.value ?? -1) >= 0 && (memory?.value ?? 2) <= 1);
  const disk = sampler.disk(tempDir(t));
  t.true((disk?.value ?? -1) > 0 && (disk?.value ?? 2) < 1);
  t.true((disk?.freeBytes ?? 0) > 0);
  const self = sampler.process(process.pid);
  t.true((self?.rssBytes ?? 0) > 10 * 1024 * 1024);
  t.true((self?.cpuSeconds ?? -1) >= 0);
  t.is(sampler.process(2 ** 22 + 1), undefined, 'a pid that does not exist');
});

interface Rig {
  degradation: Degradation;
  clock: { t: number; now(): number };
  transitions: ModeTransition[];
  setMemory(value: number): void;
  /** Advances the clock by a second and takes a sample. */
  tick(): void;
  logs: LogHub;
  dir: string;
}

/** A Degradation part on real (empty) bots and queue, with a scripted sampler and clock. */
async function rig(t: ExecutionContext, dir = tempDir(t)): Promise<Rig> {
  const clock = { t: 1_000_000, now: () => clock.t };
  const logs = new LogHub({
    dir,
    level: 'info',
    console: 'off',
    tailMaxBytes: 1 << 20,
    flushTimeoutMs: 1000,
  });
  const registry = new JsonDocument<RegistryDoc>(
    join(dir, 'registry.json'),
    structuredClone(EMPTY_REGISTRY),
  );
  const bots = new BotSupervisor({
    clock,
    log: logs.part('bots'),
    spawner: {
      spawn() {
        throw new Error('no bots in this test');
      },
    },
    registry,
  });
  mkdirSync(join(dir, 'db'), { recursive: true });
  const queue = new TaskQueue(join(dir, 'db'), { clock, compactAfterBytes: 1 << 30 });
  await queue.open();
  const doc = new JsonDocument<ModeDoc>(join(dir, 'mode.json'), structuredClone(EMPTY_MODE_DOC));
  await doc.load();
  let memory = 0.1;
  const sampler: Sampler = {
    memory: () => ({ value: memory, source: 'test' }),
    cpu: () => undefined,
    disk: () => undefined,
    eventLoopP99: () => 0,
    process: () => undefined,
    close() {},
  };
  const config = ConfigSchema.parse({
    degradation: {
      intervalMs: 3_600_000,
      transitionPeriodMs: 5_000,
      minDwellMs: 2_000,
      signals: { memory: { enterAt: 0.8, exitAt: 0.6, hardAt: 0.95 } },
    },
  }).degradation;
  const degradation = new Degradation(
    { config, stateDir: dir },
    { clock, log: logs.part('degradation'), bots, queue, sampler, doc, defaultPriority: () => 5 },
  );
  const transitions: ModeTransition[] = [];
  degradation.on('changed', (c) => transitions.push(c));
  degradation.start();
  t.teardown(async () => {
    degradation.close();
    await queue.close({ compact: false });
    await logs.close();
  });
  return {
    degradation,
    clock,
    transitions,
    logs,
    dir,
    setMemory: (value) => {
      memory = value;
    },
    tick: () => {
      clock.t += 1000;
      degradation.monitor.sampleNow();
    },
  };
}

test('through the part: a sawtooth at enterAt moves the mode once; a hard threshold means MAINTENANCE at once, nothing dispatched, backups paused', async (t) => {
  const r = await rig(t);
  for (let i = 0; i < 120; i++) {
    r.setMemory(i % 6 < 3 ? 0.816 : 0.784);
    r.tick();
  }
  t.deepEqual(
    r.transitions.map((c) => `${c.from}->${c.to}`),
    ['full->degraded'],
  );
  t.is(r.degradation.routing('anything'), undefined, 'DEGRADED still dispatches every priority');
  t.is(r.degradation.pausedReason('backups')?.startsWith('hived is DEGRADED'), true);

  r.setMemory(0.97);
  r.tick();
  t.is(r.degradation.mode, 'maintenance', 'one sample past hardAt');
  t.is(r.degradation.routing('anything')?.maxPriority, -1, 'nothing is dispatched');
  const last = r.transitions.at(-1);
  t.like(last, { from: 'degraded', to: 'maintenance', signal: 'memory', threshold: 0.95 });

  await r.logs.close();
  const lines = readFileSync(join(r.dir, 'degradation-events.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(lines.length, 2, 'one line per transition');
  t.like(lines[1], { from: 'degraded', to: 'maintenance', actor: 'daemon', value: 0.97 });
  t.truthy(lines[1]?.time);
});

test('a mode set by hand holds against the signals, survives a restart, and auto hands back to them', async (t) => {
  const dir = tempDir(t);
  const first = await rig(t, dir);
  await first.degradation.setManual('maintenance', 'upgrade', 'alice');
  t.is(first.degradation.mode, 'maintenance');
  for (let i = 0; i < 20; i++) first.tick();
  t.is(first.degradation.mode, 'maintenance', 'calm signals do not end a manual hold');
  t.like(first.transitions[0], {
    to: 'maintenance',
    actor: 'alice',
    reason: 'upgrade',
    manual: true,
  });
  first.degradation.close();

  const second = await rig(t, dir);
  t.is(second.degradation.mode, 'maintenance', 'the hold is in mode.json');
  t.is(second.degradation.view().manual?.actor, 'alice');
  await second.degradation.clearManual('done', 'alice');
  t.is(second.degradation.mode, 'full', 'the signals say FULL: at once, no transition period');
  t.like(second.transitions.at(-1), { from: 'maintenance', to: 'full', manual: true });
});
