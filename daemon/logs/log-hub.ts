import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import winston from 'winston';
import type { ConfigApplier } from '../config/manager.ts';
import type { Config } from '../config/schema.ts';
import { TypedEmitter } from '../core/events.ts';

/** The event stream file of each part (design §2); parts not listed log only to hived.log. */
export const PART_STREAMS = {
  config: 'config-changes.jsonl',
  bots: 'bots.jsonl',
  tasks: 'tasks.jsonl',
  scheduler: 'adaptive-scheduling.jsonl',
  messenger: 'bot-messaging.jsonl',
  recovery: 'disaster-recovery.jsonl',
  degradation: 'degradation-events.jsonl',
  health: 'health-alerts.jsonl',
  migration: 'migration-log.jsonl',
} as const;

export type StreamPart = keyof typeof PART_STREAMS;

/**
 * Streams that are a record rather than a log: every line is kept whatever
 * the log level (config-changes.jsonl must show every change, also with
 * `daemon.logLevel: error`).
 */
const RECORD_STREAMS: ReadonlySet<StreamPart> = new Set(['config']);
export type PartName = StreamPart | 'daemon' | 'ipc' | 'store' | 'audit' | 'web';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type Fields = Record<string, unknown>;

export interface LogLine {
  time: string;
  level: LogLevel;
  part: PartName;
  message: string;
  [field: string]: unknown;
}

export interface Logger {
  error(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  debug(message: string, fields?: Fields): void;
  /**
   * A structured event for the part's own stream only (high volume, e.g. task
   * transitions); it does not reach stdout or hived.log.
   */
  event(name: string, fields?: Fields): void;
}

/**
 * A part's high-volume event lines (every message state change: thousands
 * a second). Lines are built by hand and written once per event-loop turn:
 * about a tenth of what a winston line costs (12 µs). Same file and line
 * shape as the part's `event()` lines.
 */
export interface EventSink {
  /** False while the log level hides info lines: skip building the fields. */
  readonly enabled: boolean;
  write(name: string, fields: Fields): void;
}

export type ConsoleFormat = 'text' | 'json' | 'off';

export interface LogHubOptions {
  dir: string;
  level: LogLevel;
  /** How hived writes to stdout (for pm2 logs and journald). */
  console: ConsoleFormat;
  /** Most bytes `hive logs` reads from the end of a file. */
  tailMaxBytes: number;
  /** How long `close()` waits for buffered lines to reach their files. */
  flushTimeoutMs: number;
}

interface LogHubEvents {
  /** `main`: the line went to stdout and hived.log, not only to its part's stream. */
  line: { line: LogLine; main: boolean; stream: boolean };
}

const textFormat = winston.format.printf((info) => {
  const { level, message, part, time, ...rest } = info as unknown as LogLine;
  const extras = Object.entries(rest)
    .filter(([key]) => typeof key === 'string')
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  return `${time} ${level.padEnd(5)} [${part}] ${message}${extras ? ` ${extras}` : ''}`;
});

/**
 * Owns every winston logger of the daemon: stdout and hived.log for
 * operators, one JSON-lines stream per part for tools. Lines still buffered
 * are lost on process.exit(), so `close()` waits for every file to finish.
 */
export class LogHub extends TypedEmitter<LogHubEvents> implements ConfigApplier {
  readonly configPart = 'logs';
  readonly configKeys = [
    'daemon.logLevel',
    'daemon.logConsole',
    'daemon.logTailMaxBytes',
    'daemon.logFlushTimeoutMs',
  ];
  readonly #main: winston.Logger;
  readonly #streams = new Map<StreamPart, winston.Logger>();
  readonly #options: LogHubOptions;
  #console: winston.transport | undefined;
  #closed = false;
  readonly #sinks = new Map<StreamPart, { file: WriteStream; pending: string }>();

  constructor(options: LogHubOptions) {
    super();
    this.#options = { ...options };
    this.#main = winston.createLogger({
      level: options.level,
      format: winston.format.json(),
      transports: [new winston.transports.File({ filename: join(options.dir, 'hived.log') })],
    });
    this.setConsole(options.console);
  }

  get directory(): string {
    return this.#options.dir;
  }

  get tailMaxBytes(): number {
    return this.#options.tailMaxBytes;
  }

  setLevel(level: LogLevel): void {
    this.#options.level = level;
    this.#main.level = level;
    for (const [part, stream] of this.#streams) if (!RECORD_STREAMS.has(part)) stream.level = level;
  }

  /** Swaps the stdout transport (text for people, JSON for collectors, or none). */
  setConsole(format: ConsoleFormat): void {
    if (this.#console) this.#main.remove(this.#console);
    this.#console = undefined;
    this.#options.console = format;
    if (format === 'off') return;
    this.#console = new winston.transports.Console({
      format: format === 'json' ? winston.format.json() : textFormat,
    });
    this.#main.add(this.#console);
  }

  prepareConfig(next: { config: Config }) {
    const { logLevel, logConsole, logTailMaxBytes, logFlushTimeoutMs } = next.config.daemon;
    return () => {
      if (logLevel !== this.#options.level) this.setLevel(logLevel);
      if (logConsole !== this.#options.console) this.setConsole(logConsole);
      this.#options.tailMaxBytes = logTailMaxBytes;
      this.#options.flushTimeoutMs = logFlushTimeoutMs;
      return undefined;
    };
  }

  #stream(part: PartName): winston.Logger | undefined {
    if (!Object.hasOwn(PART_STREAMS, part)) return undefined;
    const key = part as StreamPart;
    let stream = this.#streams.get(key);
    if (!stream) {
      stream = winston.createLogger({
        level: RECORD_STREAMS.has(key) ? 'debug' : this.#main.level,
        format: winston.format.json(),
        transports: [
          new winston.transports.File({ filename: join(this.#options.dir, PART_STREAMS[key]) }),
        ],
      });
      this.#streams.set(key, stream);
    }
    return stream;
  }

  /**
   * A logger for one part: operator lines go to stdout and hived.log, and to
   * the part's stream; `{ stream: false }` keeps operator lines out of the
   * stream (whose lines are then only the part's `event()`s).
   */
  part(part: PartName, options: { stream?: boolean } = {}): Logger {
    const toStream = options.stream !== false;
    const write = (
      level: LogLevel,
      message: string,
      fields: Fields | undefined,
      toMain: boolean,
    ) => {
      if (this.#closed) return;
      const line: LogLine = { time: new Date().toISOString(), level, part, message, ...fields };
      if (toMain) this.#main.log(line);
      const stream = toStream || !toMain ? this.#stream(part) : undefined;
      if (stream) stream.log(line);
      if (this.hasListeners('line'))
        this.emit('line', { line, main: toMain, stream: stream !== undefined });
    };
    return {
      error: (message, fields) => write('error', message, fields, true),
      warn: (message, fields) => write('warn', message, fields, true),
      info: (message, fields) => write('info', message, fields, true),
      debug: (message, fields) => write('debug', message, fields, true),
      event: (name, fields) => write('info', name, fields, false),
    };
  }

  /** The cheap writer of one part's event lines (see EventSink). */
  eventSink(part: StreamPart): EventSink {
    const hub = this;
    return {
      get enabled() {
        return !hub.#closed && (hub.#options.level === 'info' || hub.#options.level === 'debug');
      },
      write: (name, fields) => this.#writeEvent(part, name, fields),
    };
  }

  #writeEvent(part: StreamPart, name: string, fields: Fields): void {
    if (this.#closed) return;
    const line: LogLine = { time: new Date().toISOString(), level: 'info', part, message: name };
    Object.assign(line, fields);
    let sink = this.#sinks.get(part);
    if (!sink) {
      const file = createWriteStream(join(this.#options.dir, PART_STREAMS[part]), { flags: 'a' });
      file.on('error', () => {});
      sink = { file, pending: '' };
      this.#sinks.set(part, sink);
    }
    if (sink.pending === '') {
      const target = sink;
      setImmediate(() => {
        if (target.pending === '' || target.file.writableEnded) return;
        target.file.write(target.pending);
        target.pending = '';
      });
    }
    sink.pending += `${JSON.stringify(line)}\n`;
    if (this.hasListeners('line')) this.emit('line', { line, main: false, stream: true });
  }

  /** Ends every logger and waits until their files are flushed (bounded by `timeoutMs`). */
  async close(timeoutMs = this.#options.flushTimeoutMs): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const loggers = [this.#main, ...this.#streams.values()];
    // A logger's own 'finish' comes before its files are flushed; wait for the transports.
    const finished = loggers.flatMap((logger) =>
      logger.transports.map(
        (transport) => new Promise<void>((resolve) => transport.once('finish', () => resolve())),
      ),
    );
    for (const sink of this.#sinks.values()) {
      finished.push(new Promise<void>((resolve) => sink.file.once('close', () => resolve())));
      sink.file.end(sink.pending);
      sink.pending = '';
    }
    this.#sinks.clear();
    for (const logger of loggers) logger.end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(finished),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }
}
