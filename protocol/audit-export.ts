/**
 * Exports of the audit trail (`hive audit export`): a stretch of the chain
 * between a sealed header (the hash its first entry links to) and a sealed
 * trailer (its last entry), so a file verifies on its own, with or without
 * hived (`hive audit verify --file`).
 */
import { checkDocument, type MacKey } from './audit-chain.ts';
import { ChainVerifier, type ProblemKind, type VerifyReport } from './audit-verify.ts';

/** The first line of an export: where its slice of the chain starts. */
export interface ExportHeader {
  export: 1;
  /** The entry before the first exported one, and its hash (what the first node links to). */
  anchorSeq: number;
  anchorHash: string;
  since: string | null;
  until: string | null;
  exportedAt: string;
  keyed: boolean;
  keyId?: string;
}

/** The last line of an export: where its slice ends, so a cut-off export is caught. */
export interface ExportTrailer {
  exportEnd: 1;
  lastSeq: number;
  lastHash: string;
  entries: number;
}

function parseLine(buf: Buffer, start: number, end: number): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(buf.toString('utf8', start, end));
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies an export (`hive audit export`) on its own: its header names the
 * hash the first entry links to, its trailer the last entry; every line in
 * between must chain from one to the other.
 */
export async function verifyExport(
  buf: Buffer,
  options: { key?: MacKey | undefined; file: string },
): Promise<VerifyReport & { header?: ExportHeader }> {
  const fail = (message: string, kind: ProblemKind = 'changed', line = 1) =>
    ({
      ...new ChainVerifier({}).finish(),
      ok: false,
      problem: { kind, seq: null, segment: null, file: options.file, line, message },
    }) as VerifyReport;
  const firstEnd = buf.indexOf(10);
  const header = firstEnd === -1 ? undefined : parseLine(buf, 0, firstEnd);
  if (header?.export !== 1) return fail('the file does not start with an export header');
  const wrong = checkDocument(header, options.key);
  if (wrong) return fail(`the export header ${wrong}`);
  const h = header as unknown as ExportHeader;
  const trimmed = buf[buf.length - 1] === 10 ? buf.length - 1 : buf.length;
  const lastStart = buf.lastIndexOf(10, trimmed - 1) + 1;
  const trailer = lastStart > firstEnd ? parseLine(buf, lastStart, trimmed) : undefined;
  const verifier = new ChainVerifier({
    key: options.key,
    start: { seq: h.anchorSeq + 1, hash: h.anchorHash },
    checkpoint:
      trailer?.exportEnd === 1
        ? { seq: trailer.lastSeq as number, hash: trailer.lastHash as string }
        : undefined,
  });
  const bodyEnd = trailer?.exportEnd === 1 ? lastStart : buf.length;
  await verifier.lines(buf, firstEnd + 1, bodyEnd, {
    file: options.file,
    segmentFile: false,
    linesBefore: 1,
  });
  const report = verifier.finish();
  if (report.ok && trailer?.exportEnd !== 1) {
    report.ok = false;
    report.problem = {
      kind: 'truncated',
      seq: (report.lastSeq ?? h.anchorSeq) + 1,
      segment: null,
      file: options.file,
      line: 0,
      message: 'the export has no trailer: its end was cut off',
    };
  } else if (report.ok && trailer) {
    const trailerWrong = checkDocument(trailer, options.key);
    const t = trailer as unknown as ExportTrailer;
    if (
      trailerWrong ||
      t.entries !== report.entries ||
      t.lastSeq !== (report.lastSeq ?? h.anchorSeq)
    ) {
      report.ok = false;
      report.problem = {
        kind: trailerWrong ? 'changed' : 'truncated',
        seq: (report.lastSeq ?? h.anchorSeq) + 1,
        segment: null,
        file: options.file,
        line: 0,
        message: trailerWrong
          ? `the export trailer ${trailerWrong}`
          : `the export trailer promises ${t.entries} entries up to ${t.lastSeq}; the file holds ${report.entries}`,
      };
    }
  }
  return { ...report, header: h };
}
