/**
 * The sample chat bot's brain: a handful of rules, no network. Small on
 * purpose: it shows a streamed reply on the dashboard, not intelligence.
 */

interface Rule {
  matches: RegExp;
  answer(match: RegExpExecArray, now: Date): string;
}

const ARITHMETIC =
  /^\s*(?:what(?:'s| is)\s+)?(-?\d+(?:\.\d+)?)\s*([-+*/x×])\s*(-?\d+(?:\.\d+)?)\s*\??\s*$/i;

function calculate(a: number, op: string, b: number): string {
  switch (op) {
    case '+':
      return String(a + b);
    case '-':
      return String(a - b);
    case '/':
      return b === 0 ? 'not a number (division by zero)' : String(a / b);
    default:
      return String(a * b);
  }
}

const RULES: Rule[] = [
  {
    matches: /^\s*(hi|hello|hey|good (morning|afternoon|evening))\b/i,
    answer: () =>
      'Hello! I am the sample chat bot of this hive. Ask me the time, a sum, or for help.',
  },
  {
    matches: /\bhelp\b|what can you do/i,
    answer: () =>
      'I answer by simple rules, with no network: greetings, the time, sums like 12 * 7, and I repeat anything else back. Point me at a local LLM server (HIVE_CHAT_LLM_URL) for real answers.',
  },
  {
    matches: /\b(time|date|day)\b/i,
    answer: (_m, now) => `It is ${now.toUTCString()}.`,
  },
  {
    matches: ARITHMETIC,
    answer: (m) =>
      `${m[1]} ${m[2]} ${m[3]} = ${calculate(Number(m[1]), m[2] ?? '*', Number(m[3]))}`,
  },
  {
    matches: /\b(who|what) are you\b/i,
    answer: () => "A bot supervised by hived; I run as one of the chat kind's processes.",
  },
];

/** The rule-based answer to `text`. */
export function ruleReply(text: string, now = new Date()): string {
  for (const rule of RULES) {
    const match = rule.matches.exec(text);
    if (match) return rule.answer(match, now);
  }
  return `You said: "${text.trim()}". I only know a few tricks; type help to see them.`;
}

/** Splits a reply into word groups of about `size` characters, to stream it. */
export function replyParts(text: string, size = 24): string[] {
  const parts: string[] = [];
  let current = '';
  for (const word of text.split(/(?<=\s)/)) {
    current += word;
    if (current.length >= size) {
      parts.push(current);
      current = '';
    }
  }
  if (current) parts.push(current);
  return parts;
}
