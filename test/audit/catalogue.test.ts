import { readFileSync } from 'node:fs';
import test from 'ava';
import { AUDIT_ACTIONS, isAuditAction } from '../../protocol/audit.ts';

const doc = readFileSync(new URL('../../AUDIT.md', import.meta.url), 'utf8');

test('the action catalogue has at least 15 types, each documented in AUDIT.md with its severity', (t) => {
  const actions = Object.entries(AUDIT_ACTIONS);
  t.true(actions.length >= 15, `${actions.length} action types`);
  for (const [action, { severity }] of actions) {
    t.regex(
      doc,
      new RegExp(`^\\| \`${action.replace('.', '\\.')}\` \\| ${severity} \\|`, 'm'),
      action,
    );
  }
  t.regex(doc, /^\| `command\.<name>` \|/m, 'the command family is documented');
});

test('command actions follow the command names; anything else is refused', (t) => {
  t.true(isAuditAction('command.task.submit'));
  t.true(isAuditAction('bot.crash'));
  t.false(isAuditAction('bot.exploded'));
  t.false(isAuditAction('command."x'));
});
