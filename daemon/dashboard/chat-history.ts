import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One line of a conversation, as stored and as the page gets it. */
export interface ChatLine {
  /** Position in the conversation, from 1: pages ask for lines before one. */
  seq: number;
  role: 'user' | 'bot' | 'error';
  text: string;
  at: number;
  /** The bot that answered (a kind address is answered by one of its bots). */
  from?: string;
}

export interface ChatPage {
  lines: ChatLine[];
  /** Older lines exist before the first one returned. */
  more: boolean;
}

/** Conversation names: one file each, so nothing that could climb out of the folder. */
export const CONVERSATION_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Chat history, one JSONL file per conversation under `dir` (issue 10). A
 * conversation is read once, on its first use, and kept in memory; new
 * lines are appended to the file in order (one append at a time per
 * conversation). Lines are written after the fact: a crash can lose the
 * last line, never corrupt an earlier one (a torn last line is skipped).
 */
export class ChatHistory {
  readonly #dir: string;
  readonly #conversations = new Map<string, Promise<ChatLine[]>>();
  readonly #writes = new Map<string, Promise<void>>();
  /** Conversations whose file ends in a torn line (no newline): the next append starts a line. */
  readonly #torn = new Set<string>();

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Appends a line; resolves with it once it is in the file. */
  async append(conversation: string, line: Omit<ChatLine, 'seq'>): Promise<ChatLine> {
    const lines = await this.#load(conversation);
    const stored: ChatLine = { seq: lines.length + 1, ...line };
    lines.push(stored);
    const previous = this.#writes.get(conversation) ?? this.#ensureDir();
    // After a torn last line, start on a fresh line: the torn one stays unreadable alone.
    const separator = this.#torn.delete(conversation) ? '\n' : '';
    const write = previous.then(() =>
      appendFile(this.#file(conversation), `${separator}${JSON.stringify(stored)}\n`),
    );
    this.#writes.set(
      conversation,
      write.catch(() => {}),
    );
    await write;
    return stored;
  }

  /** Up to `limit` lines before `before` (the newest when absent), oldest first. */
  async page(conversation: string, limit: number, before?: number): Promise<ChatPage> {
    const lines = await this.#load(conversation);
    const end =
      before === undefined ? lines.length : Math.max(0, Math.min(before - 1, lines.length));
    const start = Math.max(0, end - limit);
    return { lines: lines.slice(start, end), more: start > 0 };
  }

  #file(conversation: string): string {
    return join(this.#dir, `${conversation}.jsonl`);
  }

  #ensureDir(): Promise<void> {
    return mkdir(this.#dir, { recursive: true, mode: 0o700 }).then(() => undefined);
  }

  #load(conversation: string): Promise<ChatLine[]> {
    let loaded = this.#conversations.get(conversation);
    if (!loaded) {
      loaded = readLines(this.#file(conversation)).then(({ lines, torn }) => {
        if (torn) this.#torn.add(conversation);
        return lines;
      });
      this.#conversations.set(conversation, loaded);
    }
    return loaded;
  }
}

async function readLines(file: string): Promise<{ lines: ChatLine[]; torn: boolean }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return { lines: [], torn: false };
  }
  const lines: ChatLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    try {
      const line = JSON.parse(raw) as ChatLine;
      lines.push({ ...line, seq: lines.length + 1 });
    } catch {
      // a torn last line from a crash: skipped
    }
  }
  return { lines, torn: text.length > 0 && !text.endsWith('\n') };
}
