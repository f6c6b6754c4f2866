/**
 * Key names that hold secrets: secret, token, passw(ord), credential, cookie,
 * private anywhere in the name; auth, authorization or key as its last word
 * (`api_key`, `apiKey`, `key`). One rule for every place a value may leave
 * the daemon (config show and diffs, the audit trail), so a value hidden in
 * one is hidden in the other.
 */
const SECRET_NAME =
  /secret|token|passw|credential|cookie|private|(^|[-_.])(auth|authorization|key)$/i;
const CAMEL_KEY = /[a-z0-9]Key$/;

/** True when `name` looks like it holds a secret, or is one of `extra` (lower-case names). */
export function isSecretName(name: string, extra?: ReadonlySet<string>): boolean {
  return (
    SECRET_NAME.test(name) || CAMEL_KEY.test(name) || (extra?.has(name.toLowerCase()) ?? false)
  );
}
