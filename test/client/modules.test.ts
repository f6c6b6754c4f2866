/**
 * The client loads one command module per command line, chosen by the
 * first word: every command must be reachable that way, or it would only
 * be found by `hive help`.
 */
import test from 'ava';
import { COMMAND_MODULES, MODULE_OF_FIRST_WORD } from '../../client/cli.ts';

test('every command is in the module its first word leads to', async (t) => {
  let commands = 0;
  for (const [module, load] of Object.entries(COMMAND_MODULES)) {
    for (const command of await load()) {
      commands += 1;
      const first = command.words[0] ?? '';
      const leadsTo: string | undefined = MODULE_OF_FIRST_WORD[first];
      t.is(leadsTo, module, `hive ${command.words.join(' ')}`);
    }
  }
  t.true(commands > 40, `${commands} commands`);
});

test('no first word leads to a module without a command that starts with it', async (t) => {
  for (const [word, module] of Object.entries(MODULE_OF_FIRST_WORD)) {
    const starting = (await COMMAND_MODULES[module]()).filter((c) => c.words[0] === word);
    t.true(starting.length > 0, `${word} -> ${module}`);
  }
});
