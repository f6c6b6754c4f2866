import type { RegistryDoc } from '../bots/supervisor.ts';
import { TASK_STATES, type Task, type TaskState } from '../tasks/task.ts';
import type { AssignmentsDoc } from './capture.ts';
import type { Manifest } from './manifest.ts';

/** The parts of a state to check, as loaded from a backup (or a restore into a temp folder). */
export interface StateUnderTest {
  /** Tasks as the loader built them (a Map: a duplicate id in the file collapses here). */
  tasks?: Map<string, Task>;
  /** Number of task entries in the file, to catch duplicates the Map hid. */
  taskEntries?: number;
  keys?: Map<string, string>;
  queueSeq: number;
  registry?: RegistryDoc;
  assignments?: AssignmentsDoc;
  counts?: Manifest['counts'];
}

const MAX_PROBLEMS = 20;
const STATES = new Set<string>(TASK_STATES);

/**
 * The invariants a state must hold to be worth restoring. Returns the
 * problems (at most 20, then a count), empty when the state is sound.
 */
export function checkInvariants(state: StateUnderTest): string[] {
  const problems: string[] = [];
  const add = (problem: string) => problems.push(problem);
  if (state.tasks) checkTasks(state, add);
  if (state.registry) checkRegistry(state.registry, add);
  if (state.assignments) checkAssignments(state, add);
  if (problems.length <= MAX_PROBLEMS) return problems;
  return [
    ...problems.slice(0, MAX_PROBLEMS),
    `... and ${problems.length - MAX_PROBLEMS} more problems`,
  ];
}

function checkTasks(state: StateUnderTest, add: (p: string) => void): void {
  const tasks = state.tasks as Map<string, Task>;
  if (state.taskEntries !== undefined && state.taskEntries !== tasks.size) {
    add(`${state.taskEntries - tasks.size} task ids appear more than once`);
  }
  const byState: Partial<Record<TaskState, number>> = {};
  // forEach, not for..of over entries: no [key, value] array per task on a large queue.
  tasks.forEach((task, id) => {
    if (task.id !== id) add(`task ${id} is stored under another id (${String(task.id)})`);
    if (!STATES.has(task.state)) {
      add(`task ${id} is in no valid state (${JSON.stringify(task.state)})`);
      return;
    }
    byState[task.state] = (byState[task.state] ?? 0) + 1;
    if (task.state === 'running') {
      if (!task.lease) add(`task ${id} is running without a lease`);
      else if (task.lease.token > state.queueSeq)
        add(
          `task ${id} holds lease token ${task.lease.token}, newer than the state (seq ${state.queueSeq})`,
        );
    } else if (task.lease) {
      add(`task ${id} is ${task.state} but holds a lease (bot ${task.lease.bot})`);
    }
  });
  state.keys?.forEach((id, key) => {
    const task = tasks.get(id);
    if (!task) add(`key ${JSON.stringify(key)} names task ${id}, which does not exist`);
    else if (task.key !== key)
      add(`key ${JSON.stringify(key)} names task ${id}, whose key differs`);
  });
  const counts = state.counts;
  if (counts?.tasks !== undefined && counts.tasks !== tasks.size) {
    add(`the manifest counts ${counts.tasks} tasks, the file holds ${tasks.size}`);
  }
  for (const [name, n] of Object.entries(counts?.tasksByState ?? {})) {
    const found = byState[name as TaskState] ?? 0;
    if (found !== n) add(`the manifest counts ${n} ${name} tasks, the file holds ${found}`);
  }
}

function checkRegistry(registry: RegistryDoc, add: (p: string) => void): void {
  if (typeof registry.bots !== 'object' || registry.bots === null) add('registry has no bot table');
  if (typeof registry.scale !== 'object' || registry.scale === null)
    add('registry has no scale table');
  for (const [name, bot] of Object.entries(registry.bots ?? {})) {
    if (typeof bot?.kind !== 'string') add(`registry bot ${name} has no kind`);
  }
  for (const [kind, override] of Object.entries(registry.scale ?? {})) {
    if (!Number.isInteger(override?.instances) || override.instances < 0)
      add(`registry scale override of ${kind} is not a bot count`);
  }
}

function checkAssignments(state: StateUnderTest, add: (p: string) => void): void {
  const doc = state.assignments as AssignmentsDoc;
  const seen = new Set<string>();
  for (const [botName, bot] of Object.entries(doc.bots ?? {})) {
    // A bot that had left the registry when the backup was taken is marked gone, not unknown.
    if (state.registry && bot.state !== 'gone' && !state.registry.bots[botName]) {
      add(`assignments name bot ${botName}, which the registry does not know`);
    }
    for (const assignment of bot.tasks ?? []) {
      if (seen.has(assignment.id)) add(`task ${assignment.id} is assigned twice`);
      seen.add(assignment.id);
      if (!state.tasks) continue;
      const task = state.tasks.get(assignment.id);
      if (!task) add(`bot ${botName} is assigned task ${assignment.id}, which does not exist`);
      else if (task.state !== 'running' || task.lease?.bot !== botName)
        add(`bot ${botName} is assigned task ${assignment.id}, which it does not hold`);
      else if (task.lease.token !== assignment.token)
        add(
          `bot ${botName} holds task ${assignment.id} with token ${task.lease.token}, not ${assignment.token}`,
        );
    }
  }
  state.tasks?.forEach((task) => {
    if (task.state === 'running' && !seen.has(task.id))
      add(`running task ${task.id} has no assignment`);
  });
}
