// The scheduler benchmark's bot: a task sleeps payload.ms times env BENCH_SLOWDOWN (default 1).
import { runBot } from '../bots/sdk.ts';

const slowdown = Number(process.env.BENCH_SLOWDOWN) || 1;

runBot({
  version: 'bench-1',
  handlers: {
    work: async (payload) => {
      const ms = (payload as { ms?: number } | null)?.ms ?? 0;
      await new Promise((r) => setTimeout(r, ms * slowdown));
      return null;
    },
  },
});
