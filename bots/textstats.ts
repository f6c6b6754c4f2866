// The sample text bot: line, word and character counts, the most frequent
// words and a SHA-256 of the text. Payload: {"text": "..."} or a string.
import { createHash } from 'node:crypto';
import { PermanentError, runBot } from './sdk.ts';

function textOf(payload: unknown): string {
  if (typeof payload === 'string') return payload;
  if (
    payload &&
    typeof payload === 'object' &&
    typeof (payload as { text?: unknown }).text === 'string'
  ) {
    return (payload as { text: string }).text;
  }
  throw new PermanentError('payload must be a string or {"text": string}');
}

function textStats(text: string) {
  const words = text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
  const frequency = new Map<string, number>();
  for (const word of words) frequency.set(word, (frequency.get(word) ?? 0) + 1);
  const topWords = [...frequency.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 5)
    .map(([word, count]) => ({ word, count }));
  return {
    lines: text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0),
    words: words.length,
    chars: [...text].length,
    bytes: Buffer.byteLength(text),
    uniqueWords: frequency.size,
    topWords,
    sha256: createHash('sha256').update(text).digest('hex'),
  };
}

runBot({
  version: '1',
  handlers: { textstats: (payload) => textStats(textOf(payload)) },
});
