/**
 * The dashboard in a real browser (issue 10, "Tests in a real browser"):
 * Debian's chromium driven by playwright-core against a real hived.
 */
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import type { Browser, Page } from 'playwright-core';
import type { DeploymentView, DeployPoolView } from '../../protocol/deploy.ts';
import {
  CHROMIUM,
  HAVE_CHROMIUM,
  httpBase,
  launchBrowser,
  openPage,
  screenshot,
  webToken,
} from '../helpers/browser.ts';
import {
  echoBot,
  fixtureBot,
  ROOT,
  startDaemon,
  tempDir,
  waitFor,
  waitForReadyBots,
} from '../helpers/daemon.ts';
import { handled, send, talkerBot, waitMessage } from '../helpers/messages.ts';

const test = anyTest as TestFn<{ browser: Browser }>;
const browserTest = HAVE_CHROMIUM ? test.serial : test.serial.skip;
if (!HAVE_CHROMIUM)
  console.log(
    `# browser tests skipped: no chromium at ${CHROMIUM} (apt-get install chromium, or set HIVE_CHROMIUM)`,
  );

/** Generous: two noisy cores, another suite running beside this one. */
const UI_TIMEOUT = 20_000;

test.before(async (t) => {
  if (HAVE_CHROMIUM) t.context.browser = await launchBrowser();
});
test.after.always(async (t) => {
  await t.context.browser?.close();
});

/** A page on another origin: a plain server of the test's own on another port. */
async function otherOrigin(t: ExecutionContext): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<!doctype html><title>elsewhere</title>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

const chatBot = () =>
  fixtureBot(join(ROOT, 'bots', 'chat.ts'), { env: { HIVE_CHAT_PART_DELAY_MS: '5' } });

async function dashboard(
  t: ExecutionContext<{ browser: Browser }>,
  config: Record<string, unknown>,
) {
  const daemon = await startDaemon(t, {
    config: { http: { port: 0 }, degradation: { intervalMs: 300 }, ...config },
  });
  const base = await httpBase(daemon);
  const token = await webToken(daemon);
  const opened = await openPage(t.context.browser, `${base}/?token=${token}`);
  t.teardown(() => opened.close());
  return { daemon, base, token, ...opened };
}

const stateOf = (page: Page, bot: string) =>
  page.locator(`tr[data-bot="${bot}"] td[data-state]`).getAttribute('data-state');

async function feedback(page: Page, pattern: RegExp): Promise<string> {
  const locator = page.locator('#feedback');
  await locator.filter({ hasText: pattern }).waitFor({ timeout: UI_TIMEOUT });
  return (await locator.textContent()) ?? '';
}

browserTest(
  'the dashboard loads with no console errors and shows the running bots (and each view)',
  async (t) => {
    const { page, errors, daemon } = await dashboard(t, {
      bots: { echo: echoBot({ instances: 2 }), chat: chatBot() },
    });
    await waitForReadyBots(daemon, 3);
    for (const bot of ['echo-0', 'echo-1', 'chat-0'])
      await page
        .locator(`tr[data-bot="${bot}"] td[data-state="ready"]`)
        .waitFor({ timeout: UI_TIMEOUT });
    await page.locator('#connection.live').waitFor({ timeout: UI_TIMEOUT });
    t.regex(
      (await page.locator('#daemon').textContent()) ?? '',
      /hived .* last start clean .*mode FULL.*health HEALTHY/,
    );
    await screenshot(t, page, 'bots');
    await page.locator('tr[data-bot="echo-0"]').click();
    await page.locator('#bot-detail:not([hidden])').waitFor({ timeout: UI_TIMEOUT });
    await screenshot(t, page, 'bot-detail');
    await page.keyboard.press('Escape');

    await page.keyboard.press('2');
    await page.locator('#view-queue:not([hidden])').waitFor();
    await page
      .locator('#queue-states td', { hasText: 'done' })
      .first()
      .waitFor({ timeout: UI_TIMEOUT });
    await screenshot(t, page, 'queue');
    await page.keyboard.press('3');
    // No deployment yet: the panel says so (a daemon without the command says "not available").
    await page
      .locator('#deployments p', { hasText: 'no deployments' })
      .waitFor({ timeout: UI_TIMEOUT });
    await screenshot(t, page, 'deployments');
    await page.keyboard.press('4');
    await page.locator('#view-backups:not([hidden])').waitFor();
    await page.locator('#backup-create').click();
    t.regex(await feedback(page, /create backup/), /✓ create backup: done/);
    // The new backup arrives by the live feed, no reload.
    await page.locator('#backups-table tr[data-backup]').first().waitFor({ timeout: UI_TIMEOUT });
    await screenshot(t, page, 'backups');
    await page.keyboard.press('5');
    await page
      .locator('#audit-table tbody tr', { hasText: 'command.backup.create' })
      .first()
      .waitFor({ timeout: UI_TIMEOUT });
    await page.locator('#audit-verify').click();
    t.regex(await feedback(page, /audit trail:/), /✓ audit trail: intact \(\d+ entries checked\)/);
    await page.keyboard.press('/');
    await page.keyboard.type('backup.create');
    await waitFor(
      async () => {
        const cells = page.locator('#audit-table tbody tr td:nth-child(4)');
        const actions = await cells.allTextContents();
        return actions.length > 0 && actions.every((a) => a.includes('backup.create'));
      },
      { what: 'the audit filter to keep only backup.create', timeoutMs: UI_TIMEOUT },
    );
    await screenshot(t, page, 'audit');
    t.deepEqual(errors, [], 'no console errors');
  },
);

browserTest(
  'a bot killed from the shell turns red and back to ready on the page without a reload',
  async (t) => {
    const { page, daemon } = await dashboard(t, {
      // A restart delay long enough for the page to see the bot down.
      bots: { echo: echoBot({ restart: { initialDelayMs: 3000, maxDelayMs: 3000 } }) },
    });
    const status = await waitForReadyBots(daemon, 1, 'echo');
    const pid = status.bots.find((b) => b.name === 'echo-0')?.pid;
    t.truthy(pid);
    await page
      .locator('tr[data-bot="echo-0"] td[data-state="ready"]')
      .waitFor({ timeout: UI_TIMEOUT });
    await page.evaluate(() => {
      (globalThis as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    process.kill(pid as number, 'SIGKILL');
    const down = page.locator('tr[data-bot="echo-0"] td.state.bad');
    await down.waitFor({ timeout: UI_TIMEOUT });
    t.log(`shown as ${await stateOf(page, 'echo-0')}`);
    await screenshot(t, page, 'bot-down');
    await page
      .locator('tr[data-bot="echo-0"] td[data-state="ready"]')
      .waitFor({ timeout: UI_TIMEOUT });
    t.true(
      await page.evaluate(
        () => (globalThis as unknown as { notReloaded?: boolean }).notReloaded === true,
      ),
      'the page was not reloaded',
    );
  },
);

browserTest(
  'restart and scale buttons work and show success; a bad scale value shows the specific error',
  async (t) => {
    const { page, daemon } = await dashboard(t, { bots: { echo: echoBot({ instances: 1 }) } });
    await waitForReadyBots(daemon, 1, 'echo');
    await page
      .locator('tr[data-bot="echo-0"] td[data-state="ready"]')
      .waitFor({ timeout: UI_TIMEOUT });

    await page.locator('tr[data-bot="echo-0"] button[data-action="restart"]').click();
    t.regex(await feedback(page, /restart echo-0/), /✓ restart echo-0: done/);
    await waitFor(
      async () =>
        (
          (await daemon.call('bots.ls')) as { bots: { name: string; restarts: number }[] }
        ).bots.find((b) => b.name === 'echo-0')?.restarts === 1,
      { what: 'a restart' },
    );

    const input = page.locator('input[data-kind="echo"]');
    await input.fill('2');
    await page
      .locator('form.kind-row:has(input[data-kind="echo"]) button[data-action="scale"]')
      .click();
    t.regex(await feedback(page, /scale echo to 2/), /✓ scale echo to 2: done/);
    await page.locator('tr[data-bot="echo-1"]').waitFor({ timeout: UI_TIMEOUT });

    await page.locator('input[data-kind="echo"]').fill('-3');
    await page
      .locator('form.kind-row:has(input[data-kind="echo"]) button[data-action="scale"]')
      .click();
    const error = await feedback(page, /scale echo to -3/);
    t.regex(error, /✗ scale echo to -3: HIVE_IPC_BAD_ARGS: bots\.scale: instances: Too small/);
    await screenshot(t, page, 'scale-error');

    // The mode selector and the submit form go through the router too.
    await page.selectOption('#mode-select', 'degraded');
    t.regex(await feedback(page, /mode degraded/), /✓ mode degraded: done/);
    await page.locator('#mode', { hasText: 'mode DEGRADED' }).waitFor({ timeout: UI_TIMEOUT });
    await page.selectOption('#mode-select', 'auto');
    t.regex(await feedback(page, /mode auto/), /✓ mode auto: done/);
    await page.keyboard.press('Escape');
    await page.keyboard.press('2');
    await page.locator('#submit-type').fill('echo');
    await page.locator('#submit-payload').fill('{"x": 1}');
    await page.locator('#submit-form button[type="submit"]').click();
    t.regex(await feedback(page, /submit echo/), /✓ submit echo: done/);
    await page.locator('#submit-type').fill('nosuchkind');
    await page.locator('#submit-form button[type="submit"]').click();
    t.regex(
      await feedback(page, /submit nosuchkind/),
      /✗ submit nosuchkind: HIVE_TASK_UNKNOWN_TYPE: /,
    );

    // The audit trail names the web user as the actor.
    const { entries } = (await daemon.call('audit.query', {
      action: 'command.bots.scale',
      limit: 5,
    })) as {
      entries: { actor: string; actorType: string; verified?: boolean }[];
    };
    t.true(entries.length > 0);
    t.true(entries.every((e) => e.actor === 'web' && e.actorType === 'web' && e.verified === true));
  },
);

browserTest(
  "a chat message gets the sample bot's reply; history paginates after 60 messages",
  async (t) => {
    const { page, daemon, base, token } = await dashboard(t, { bots: { chat: chatBot() } });
    await waitForReadyBots(daemon, 1, 'chat');
    // 30 turns through the API: 60 stored messages before the page's own.
    for (let i = 1; i <= 30; i++) {
      const response = await fetch(`${base}/api/chat`, {
        method: 'POST',
        headers: { 'x-hive-token': token, 'content-type': 'application/json' },
        body: JSON.stringify({ to: 'chat', text: `what is ${i} + 1`, conversation: 'web-chat' }),
      });
      const lines = (await response.text())
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      t.is(lines.at(-1).ok, true, JSON.stringify(lines.at(-1)));
    }
    await page.keyboard.press('6');
    await page.locator('#chat-log .chat-line').first().waitFor({ timeout: UI_TIMEOUT });
    const firstPage = await page.locator('#chat-log .chat-line').count();
    t.true(firstPage < 60, `one page, not everything (${firstPage} lines)`);
    await page.locator('#chat-input').fill('what is 6 * 7');
    await page.locator('#chat-input').press('Enter');
    await page
      .locator('#chat-log .chat-line.bot', { hasText: '6 * 7 = 42' })
      .waitFor({ timeout: UI_TIMEOUT });
    await screenshot(t, page, 'chat');
    // Scrolling to the top loads older pages until the first message.
    await waitFor(
      async () => {
        await page.locator('#chat-log').evaluate((log) => {
          log.scrollTop = 0;
          log.dispatchEvent(new Event('scroll'));
        });
        return (await page.locator('#chat-log .chat-line[data-seq="1"]').count()) === 1;
      },
      { what: 'the oldest message to load on scroll', timeoutMs: UI_TIMEOUT, intervalMs: 200 },
    );
    t.is(await page.locator('#chat-log .chat-line').count(), 62);
    t.is(await page.locator('#chat-log .chat-line[data-seq="1"]').textContent(), 'what is 1 + 1');
  },
);

browserTest(
  "the messenger's dead letters show up live with their reasons; requeue sends one back to its inbox",
  async (t) => {
    const log = join(tempDir(t), 'talker.log');
    // No sink bot at first: its messages wait in the kind's inbox.
    const { page, daemon } = await dashboard(t, {
      bots: { sink: talkerBot(log, { instances: 0 }) },
    });
    await page.keyboard.press('2');
    await page
      .locator('#dead-messages-table td', { hasText: 'no dead messages' })
      .waitFor({ timeout: UI_TIMEOUT });
    await page.evaluate(() => {
      (globalThis as unknown as { notReloaded: boolean }).notReloaded = true;
    });
    const row = (id: string) => page.locator(`#dead-messages-table tr[data-message="${id}"]`);

    // One expires in the inbox (nobody to take it), the other is refused by the bot.
    const expired = await send(daemon, 'sink', { op: 'echo' }, { ttlMs: 1500 });
    const rejected = await send(daemon, 'sink', { op: 'reject' }, { priority: 1 });
    await row(expired.id).locator('td[data-reason="expired"]').waitFor({ timeout: UI_TIMEOUT });
    await daemon.call('bots.scale', { kind: 'sink', instances: 1 });
    await row(rejected.id).locator('td[data-reason="rejected"]').waitFor({ timeout: UI_TIMEOUT });
    const [id, to, from, priority, deliveries, reason, why, age] = await row(rejected.id)
      .locator('td')
      .allTextContents();
    t.deepEqual(
      { id, to, priority, reason, why },
      {
        id: rejected.id,
        to: 'kind:sink',
        priority: 'P1',
        reason: 'rejected',
        why: 'this message can never be handled',
      },
    );
    t.regex(from ?? '', /^@op:/, 'from the operator who sent it');
    t.regex(deliveries ?? '', /^1 of \d+$/, 'delivered once');
    t.regex(age ?? '', /^\d+s$/, 'its age');
    await screenshot(t, page, 'dead-messages');

    await row(expired.id).getByRole('button', { name: 'requeue' }).click();
    t.regex(
      await feedback(page, /requeue message/),
      new RegExp(`✓ requeue message ${expired.id}: done`),
    );
    // Back in its inbox with a fresh TTL: the sink bot (ready now) takes it.
    await row(expired.id).waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    await waitMessage(daemon, expired.id, (m) => m.state === 'acked', 'the requeued message acked');
    t.true(handled(log).some((m) => m.id === expired.id));
    t.is(await row(rejected.id).count(), 1, 'the other dead letter stays');
    t.true(
      await page.evaluate(
        () => (globalThis as unknown as { notReloaded?: boolean }).notReloaded === true,
      ),
      'the page was not reloaded',
    );
    const { entries } = (await daemon.call('audit.query', {
      action: 'command.msg.requeue',
      limit: 5,
    })) as { entries: { actor: string; actorType: string; target?: string }[] };
    t.like(entries, [{ actor: 'web', actorType: 'web' }]);
  },
);

browserTest(
  'a mutating request without the token, or from another origin, is refused',
  async (t) => {
    const { page, base, token, daemon } = await dashboard(t, { bots: { echo: echoBot() } });
    await waitForReadyBots(daemon, 1, 'echo');
    const scale = JSON.stringify({ cmd: 'bots.scale', args: { kind: 'echo', instances: 3 } });
    // From the dashboard's own page, but without the token.
    const withoutToken = await page.evaluate(async (body) => {
      const response = await fetch('/api/command', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      return {
        status: response.status,
        body: (await response.json()) as { error: { code: string } },
      };
    }, scale);
    t.is(withoutToken.status, 401);
    t.is(withoutToken.body.error.code, 'HIVE_WEB_TOKEN_REQUIRED');

    // From a page of another origin (a server of the test's own, no CSP): a simple POST goes
    // out with its Origin (the answer is opaque to the page); one with the token header needs a
    // preflight, which hived does not grant.
    const other = await otherOrigin(t);
    const page2 = await openPage(t.context.browser, other);
    t.teardown(() => page2.close());
    const attempts = await page2.page.evaluate(
      async ({ url, body, token }) => {
        const simple = await fetch(url, { method: 'POST', body, mode: 'no-cors' }).then(
          (r) => r.type,
          (e: unknown) => String(e),
        );
        const withToken = await fetch(url, {
          method: 'POST',
          body,
          headers: { 'x-hive-token': token, 'content-type': 'application/json' },
        }).then(
          () => 'sent',
          () => 'blocked',
        );
        return { simple, withToken };
      },
      { url: `${base}/api/command`, body: scale, token },
    );
    t.deepEqual(attempts, { simple: 'opaque', withToken: 'blocked' });

    // What hived answered each: the same requests from here, headers as a browser sends them.
    const foreign = await fetch(`${base}/api/command`, {
      method: 'POST',
      body: scale,
      headers: { origin: 'http://evil.example', 'x-hive-token': token },
    });
    t.is(foreign.status, 403);
    t.is(((await foreign.json()) as { error: { code: string } }).error.code, 'HIVE_WEB_BAD_ORIGIN');
    // fetch cannot set Host; node:http can.
    const rebinding = await new Promise<number>((resolve, reject) => {
      request(`${base}/api/events`, { headers: { host: 'attacker.example' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    t.is(rebinding, 403, 'a DNS-rebinding Host is refused on loopback');
    const chat = await fetch(`${base}/api/chat`, { method: 'POST', body: '{}' });
    t.is(chat.status, 401);
    const { bots } = (await daemon.call('bots.ls')) as { bots: unknown[] };
    t.is(bots.length, 1, 'nothing was scaled');

    const page1 = await fetch(`${base}/`);
    const csp = page1.headers.get('content-security-policy') ?? '';
    t.regex(csp, /default-src 'self'/);
    t.regex(csp, /script-src 'self'(;|$)/, 'no inline scripts');
    t.regex(csp, /frame-ancestors 'none'/);
  },
);

/** The panel's buttons, each a deploy command. */
const DEPLOY_ACTIONS = ['pause', 'resume', 'promote', 'abort'] as const;

/** A deployment under way, as `deploy.status` answers it (protocol/deploy.ts). */
function sampleDeployment(): DeploymentView {
  const pool = (name: 'blue' | 'green', version: string, done: number): DeployPoolView => ({
    pool: name,
    version,
    bots: [`echo-${name}-0`],
    done,
    failed: 0,
    timeouts: 0,
    crashes: 0,
    errorRate: 0,
    timeoutRate: 0,
    p95Ms: 12,
  });
  return {
    id: 'd1',
    kind: 'echo',
    strategy: 'canary',
    state: 'canary',
    step: 1,
    steps: [5, 25, 50, 100],
    weight: { target: 25, achieved: 24 },
    blue: pool('blue', '1', 400),
    green: pool('green', '2', 120),
    verdict: { result: 'PASS', reason: 'error rate 0 ≤ 0.01', at: Date.now() },
    reason: 'started by the test',
    startedAt: Date.now(),
    updatedAt: Date.now(),
  };
}

browserTest(
  'the deployments panel shows step, weights, green vs blue and the verdict; its buttons send the deploy commands',
  async (t) => {
    const { page, daemon } = await dashboard(t, { bots: { echo: echoBot() } });
    await waitForReadyBots(daemon, 1, 'echo');
    // deploy.* answered in the browser: a real canary takes minutes and its own bot versions
    // (test/deploy/ covers the part); this checks what the panel shows and sends.
    const sent: { cmd: string; args: Record<string, unknown> }[] = [];
    await page.route('**/api/command', async (route) => {
      const body = route.request().postDataJSON() as { cmd: string; args: Record<string, unknown> };
      if (!body.cmd.startsWith('deploy.')) return route.fallback();
      sent.push(body);
      const result =
        body.cmd === 'deploy.status'
          ? { deployments: [sampleDeployment()] }
          : { kind: body.args.kind };
      return route.fulfill({ json: { ok: true, result } });
    });
    // Without the live feed: its real (empty) deployments view would replace the fake one.
    await page.route('**/api/events*', (route) => route.abort());
    await page.reload();
    await page.keyboard.press('3');
    const card = page.locator('.deployment[data-kind="echo"]');
    await card.waitFor({ timeout: UI_TIMEOUT });
    const text = (await card.textContent()) ?? '';
    t.regex(text, /echo: canary CANARY/);
    t.regex(text, /step 2 of 4 \(5 → 25 → 50 → 100 %\)/);
    t.regex(text, /weight target 25%, achieved 24%/);
    t.regex(text, /green2.*120.*blue1.*400/s);
    t.regex(text, /verdict PASS: error rate 0 ≤ 0.01/);
    await screenshot(t, page, 'deployments-with-one');
    for (const action of DEPLOY_ACTIONS) {
      await card.getByRole('button', { name: action, exact: true }).click();
      t.regex(
        await feedback(page, new RegExp(`${action} echo`)),
        new RegExp(`✓ ${action} echo: done`),
      );
    }
    t.deepEqual(
      sent.filter((s) => s.cmd !== 'deploy.status'),
      DEPLOY_ACTIONS.map((action) => ({
        cmd: `deploy.${action}`,
        args:
          action === 'abort'
            ? { kind: 'echo', reason: 'aborted from the web dashboard' }
            : { kind: 'echo' },
      })),
    );
  },
);
