// The sample echo bot: answers every task with its payload.
import { runBot } from './sdk.ts';

runBot({
  version: '1',
  handlers: { echo: (payload, ctx) => ({ echo: payload, by: ctx.bot }) },
});
