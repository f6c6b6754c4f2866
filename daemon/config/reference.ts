/**
 * Generates CONFIG.md, the config reference, from the schema: every key, its
 * type, default and description. `npm run config:reference` writes it;
 * test/config/reference.test.ts fails when the file and the schema disagree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { describeType, unwrap } from './describe.ts';
import { ConfigSchema } from './schema.ts';

type Schema = z.core.$ZodType;

interface Row {
  key: string;
  type: string;
  default: string;
  description: string;
}

const INTRO = `# hive configuration reference

<!-- Generated from daemon/config/schema.ts by \`npm run config:reference\`. Do not edit:
     test/config/reference.test.ts fails when this file and the schema disagree. -->

hived reads one main file, \`state/config/hive.yaml\` (or \`--config FILE\` /
\`HIVE_CONFIG\`), YAML or JSON, and then the drop-ins in \`conf.d/\` next to it
(\`*.yaml\`, \`*.yml\`, \`*.json\`; names starting with a dot are ignored) in name
order. Later files win: **mappings merge key by key, lists and single values
replace**. So a drop-in \`conf.d/50-scale.yaml\` with \`bots: {echo: {instances: 4}}\`
changes one key of the \`echo\` kind and keeps the rest, while \`args: [...]\` in a
drop-in replaces the whole list. Without a main file the embedded default (the
sample bots \`echo\`, \`textstats\` and \`chat\`) stands in for it; drop-ins still apply.
Relative paths resolve against the main file's folder (the project folder
for the embedded default), also in drop-ins.

Every key below has its default in the schema, so an empty mapping (\`{}\`) is a
complete config. Unknown keys are errors, and so is an empty file (a save
caught halfway); a file with only comments means "all defaults". Changes are
applied without a restart when a file changes (or on \`SIGHUP\` or \`hive config
reload\`): bot kinds are added, removed and scaled; limits and timeouts change
in place; bots whose command, args, env, cwd, transport or heartbeat interval
changed are replaced one at a time. The few keys that cannot change live
(\`daemon.socket\`, \`daemon.lockProbeTimeoutMs\`) are reported as needing a
restart, and keep their running value until then. A file that fails to parse
or validate is rejected whole: the running config stays.

Secrets: the values of bots' \`env\`, of every key whose name contains
\`secret\`, \`token\`, \`passw\`, \`credential\`, \`cookie\` or \`private\` or ends in
\`key\`/\`Key\`, \`auth\` or \`authorization\`, and of the names in \`config.redact\`
are shown as \`<redacted>\` by \`hive config show\` / \`get\` and in
\`config-changes.jsonl\`. Keep secrets out of \`args\`.
`;

function humanize(key: string, value: unknown): string {
  if (typeof value !== 'number' || value === 0) return '';
  if (/Bytes$/.test(key) && value >= 1024) {
    const units = ['KiB', 'MiB', 'GiB'];
    let n = value / 1024;
    let unit = 0;
    while (n >= 1024 && unit < units.length - 1) {
      n /= 1024;
      unit++;
    }
    return Number.isInteger(n) ? ` (${n} ${units[unit]})` : '';
  }
  if (/Ms$/.test(key) && value >= 1000) {
    const s = value / 1000;
    if (s >= 3600 && Number.isInteger(s / 3600)) return ` (${s / 3600} h)`;
    if (s >= 60 && Number.isInteger(s / 60)) return ` (${s / 60} min)`;
    return Number.isInteger(s) ? ` (${s} s)` : '';
  }
  return '';
}

function defaultText(key: string, schema: Schema): string {
  const info = unwrap(schema);
  if ('default' in info) return `\`${JSON.stringify(info.default)}\`${humanize(key, info.default)}`;
  return info.optional ? 'not set' : '**required**';
}

function rowsOf(schema: Schema, path: string[]): Row[] {
  const { inner, description } = unwrap(schema);
  const def = (inner as z.core.$ZodTypes)._zod.def;
  if (def.type === 'object') {
    return Object.entries(def.shape).flatMap(([key, child]) => rowsOf(child, [...path, key]));
  }
  const key = path.join('.');
  const row: Row = {
    key,
    type: describeType(schema),
    default: defaultText(path.at(-1) ?? '', schema),
    description: description ?? '',
  };
  if (def.type === 'record') {
    const valueDef = unwrap(def.valueType);
    if ((valueDef.inner as z.core.$ZodTypes)._zod.def.type === 'object') {
      // A map of named entries (bot kinds): the entry's keys, under <name>.
      return [row, ...rowsOf(def.valueType, [...path, '<name>'])];
    }
  }
  return [row];
}

/** Table cells: a pipe would end the cell, and `<name>` would read as an HTML tag. */
function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;');
}

/** CONFIG.md as the schema describes it. */
export function configReference(): string {
  const sections = Object.entries(ConfigSchema.shape).map(([name, schema]) => {
    const rows = rowsOf(schema, [name]);
    const table = [
      '| Key | Type | Default | What it does |',
      '|---|---|---|---|',
      ...rows.map(
        (r) =>
          `| \`${r.key}\` | ${escapeCell(r.type)} | ${escapeCell(r.default)} | ${escapeCell(r.description)} |`,
      ),
    ];
    return [`## ${name}`, '', ...table].join('\n');
  });
  return `${INTRO}\n${sections.join('\n\n')}\n`;
}

export const CONFIG_MD = join(fileURLToPath(new URL('../../', import.meta.url)), 'CONFIG.md');

if (import.meta.main) {
  const text = configReference();
  const before = (() => {
    try {
      return readFileSync(CONFIG_MD, 'utf8');
    } catch {
      return '';
    }
  })();
  writeFileSync(CONFIG_MD, text);
  process.stdout.write(`${before === text ? 'unchanged' : 'wrote'} ${CONFIG_MD}\n`);
}
