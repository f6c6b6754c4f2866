import type { CliCommand } from '../command.ts';

/** What `web.token` answers (daemon/web/commands.ts). */
interface WebTokenAnswer {
  token: string;
  url: string | null;
  loginUrl: string | null;
  error?: string;
}

const notServing = (a: WebTokenAnswer) =>
  `the dashboard is not being served: ${a.error ?? 'unknown'}`;

export const webCommands: CliCommand[] = [
  {
    words: ['web', 'token'],
    summary: 'Print the dashboard token (for actions, and for any access beyond loopback)',
    request: () => ({ cmd: 'web.token', args: {} }),
    render: (r) => (r as WebTokenAnswer).token,
  },
  {
    words: ['web', 'url'],
    summary: 'Print the dashboard address with the token in it: opening it logs the page in',
    request: () => ({ cmd: 'web.token', args: {} }),
    render: (r) => {
      const answer = r as WebTokenAnswer;
      return answer.loginUrl ?? notServing(answer);
    },
  },
];
