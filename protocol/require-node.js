// Plain JavaScript on purpose: it must run (and fail politely) on a Node too
// old for the TypeScript sources.
export const MINIMUM_NODE = '22.18';

/**
 * Exits with one line when this Node is older than hive supports.
 * @param {string} program
 * @param {string} hint
 */
export function requireNode(program, hint) {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const [needMajor = 0, needMinor = 0] = MINIMUM_NODE.split('.').map(Number);
  if (major < needMajor || (major === needMajor && minor < needMinor)) {
    process.stderr.write(
      `${program}: Node.js ${process.versions.node} is too old; hive needs Node.js >= ${MINIMUM_NODE} (${hint})\n`,
    );
    process.exit(1);
  }
}
