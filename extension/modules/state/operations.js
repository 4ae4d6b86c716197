// Per-operation bookkeeping: the pending/errors/notices keys and what an operation's status line says.

/** The key of one operation in an account's pending, errors and notices: `op` or `op:<target>`. */
export function opKey(op, target) {
  return target ? `${op}:${target}` : op;
}

/** `obj` without `key`; the same object when it has no such key (so the reducer can tell nothing changed). */
export function without(obj, key) {
  if (!(key in obj)) return obj;
  const copy = { ...obj };
  delete copy[key];
  return copy;
}

export function isPending(account, op, target) {
  return Boolean(account && account.pending[opKey(op, target)]);
}

/** What an operation's status line says: pending, its error, its success notice, or nothing. */
export function opStatus(account, op, target) {
  const key = opKey(op, target);
  if (!account) return { kind: "none" };
  if (account.pending[key]) return { kind: "pending", key: `pending_${op}`, subs: [] };
  const error = account.errors[key];
  if (error && error.key) return { kind: "error", key: error.key, subs: error.subs || [], reason: error.reason };
  if (error) return { kind: "error", text: error.text, reason: error.reason };
  if (account.notices[key]) return { kind: "notice", key: account.notices[key].key, subs: account.notices[key].subs };
  return { kind: "none" };
}

/** The status of whichever `op:<target>` operation (e.g. remove:<muaa_id>) is most relevant. */
export function anyTargetStatus(account, op) {
  if (!account) return { kind: "none" };
  const prefix = `${op}:`;
  for (const bag of ["pending", "errors", "notices"]) {
    const key = Object.keys(account[bag]).find((k) => k.startsWith(prefix));
    if (key) return opStatus(account, op, key.slice(prefix.length));
  }
  return { kind: "none" };
}
