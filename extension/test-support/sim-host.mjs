// A simulated sma-host world shared by the controller and DOM tests.

import { HostPort } from "../modules/host-port.js";
import { createController } from "../modules/controller.js";
import { createThunderbirdAccounts } from "../modules/thunderbird-accounts.js";
import { createThunderbirdOpenPGP } from "../modules/thunderbird-openpgp.js";
import { FakeHost, FakeStorageArea, fakeAccounts, makeGetMessage, waitFor, silentLogger } from "./fakes.mjs";
import { assertValidNotification } from "./notification-schemas.mjs";

export const A = "account1";
export const SELF = "00000000000000aa";
export const PEER = "00000000000000bb";
export const PID = "0123456789abcdef";
export const KEY_FINGERPRINT = "0123456789ABCDEF0123456789ABCDEF01234567";
export const SECRET_KEY = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxcLYBF\n-----END PGP PRIVATE KEY BLOCK-----\n";

export const TB_ACCOUNTS = [
  { id: A, name: "Work", type: "imap", identities: [{ email: "alice@example.org" }] },
  { id: "account2", name: "Local Folders", type: "none", identities: [] },
  { id: "account3", name: "News", type: "nntp", identities: [{ email: "n@example.org" }] },
  { id: "account4", name: "Home", type: "pop3", identities: [{ email: "bob@example.net" }] },
];

export const SETTINGS = {
  email: "alice@example.org",
  deviceName: "Laptop",
  host: "imap.example.org",
  port: 993,
  security: "tls",
  username: "alice@example.org",
  remember: true,
};

/** A FakeHost that sends only notifications that hold against the host's schemas. */
class SimHost extends FakeHost {
  notify(method, params) {
    assertValidNotification(method, params);
    super.notify(method, params);
  }
}

/** A FakeHost whose handlers keep a small world: joined, devices, the account key. */
export function sim(overrides = {}) {
  const world = { joined: false, removed: false, configured: false, key: null, passphrase: null, fingerprint: KEY_FINGERPRINT, others: [], keyring: [] };
  /** keys.put: newer entries replace older ones; sent to the peer once joined. */
  world.put = (p) => {
    let stored = 0;
    for (const entry of p.peers) {
      const addr = entry.addr.toLowerCase();
      const old = world.keyring.find((e) => e.addr === addr);
      if (old && old.autocrypt_timestamp >= entry.autocrypt_timestamp) continue;
      world.keyring = [...world.keyring.filter((e) => e.addr !== addr), { ...entry, addr }].sort((a, b) => (a.addr < b.addr ? -1 : 1));
      stored += 1;
    }
    return { stored, received: p.peers.length, queued_to: stored && world.joined ? [PEER] : [] };
  };
  const handlers = {
    "account.configure": (p) => {
      world.configured = true;
      return { account: p.account, capabilities: ["IMAP4rev1", "IDLE"], password_storage: p.remember ? "keyring" : "memory" };
    },
    "account.token": (p) => ({ account: p.account }),
    "sma.status": () => ({
      exists: true,
      self: world.joined ? SELF : null,
      removed: world.removed,
      total: 1 + world.others.length,
      muaas: [
        ...(world.joined ? [{ muaa_id: SELF, name: "Laptop", last_seen: 1_700_000_000, self: true, paired: false }] : []),
        ...world.others,
      ],
    }),
    "pair.list": () => ({ pairings: [] }),
    "sma.join": () => {
      world.joined = true;
      return { muaa_id: SELF, created_sma: false, inbox: `_Autocrypt_SMA_${SELF}` };
    },
    "sma.sync": () => ({ processed: 2, dropped: 0, sent: 1 }),
    "pair.request": () => ({ pairing_id: PID, code: "12345-67890", expires_at: Math.floor(Date.now() / 1000) + 600, to: [PEER] }),
    "pair.accept": (p) => ({ pairing_id: p.pairing_id, state: "waiting" }),
    "pair.cancel": (p) => ({ pairing_id: p.pairing_id, state: "failed" }),
    "account.key.set": (p) => {
      world.key = p.armored;
      world.passphrase = p.passphrase ?? null;
      world.fingerprint = KEY_FINGERPRINT;
      return { account: p.account, stored: true, fingerprint: KEY_FINGERPRINT, user_ids: ["Alice <alice@example.org>"], can_encrypt: true, set_at: 1_700_000_000, replicated_to: world.joined ? [PEER] : [] };
    },
    "account.key.get": () => ({ armored: world.key, passphrase: world.passphrase ?? null, fingerprint: world.key ? world.fingerprint : null, set_at: world.key ? 1_700_000_000 : null }),
    "mail.scan": () => ({ scanned: 1, updated: [] }),
    "device.remove": (p) => {
      world.others = world.others.filter((m) => m.muaa_id !== p.muaa_id);
      return { removed: p.muaa_id, told: [], confirmed: [], waiting: [] };
    },
    "keys.put": (p) => world.put(p),
    "keys.list": () => ({ peers: world.keyring, total: world.keyring.length }),
    "sma.leave": () => {
      world.joined = false;
      return { left: SELF, told: [] };
    },
    ...overrides,
  };
  const host = new SimHost(handlers);
  return { host, world };
}

/**
 * A started controller on the simulated host (through the real HostPort): `experiment` is
 * the messenger namespace its Thunderbird wrapper asks (fakeExperiment; {} = no Experiment),
 * `openpgp` the one its OpenPGP wrapper asks (fakeOpenPGP; {} = none), `saved` the
 * storage.local it starts with. Returns the pieces a test looks at.
 */
export async function startController({ handlers = {}, saved = {}, runtime, experiment = {}, openpgp = {} } = {}) {
  const { host: fake, world } = sim(handlers);
  const notified = [];
  const storage = new FakeStorageArea(saved);
  const host = new HostPort({ runtime: runtime ?? fake.runtime, getMessage: makeGetMessage(), logger: silentLogger });
  const controller = createController({
    host,
    storage,
    accounts: fakeAccounts(TB_ACCOUNTS),
    notify: (n) => notified.push(n),
    thunderbird: createThunderbirdAccounts(experiment),
    openpgp: createThunderbirdOpenPGP(openpgp),
    deviceName: async () => "Thunderbird on Linux",
    logger: silentLogger,
  });
  await controller.start();
  const state = () => controller.getState();
  await waitFor(() => state().host.state !== "connecting", { message: "the host answered hello" });
  return { fake, world, host, controller, storage, notified, state, acc: () => state().byId[A] };
}

/**
 * Wait until the simulated host got each of `methods` since call number `from` and has
 * answered every call (the HostPort has none pending): the end of a chain of calls.
 */
export function callsAnswered(ctx, from, methods) {
  return waitFor(
    () => {
      const since = ctx.fake.methods().slice(from);
      return methods.every((m) => since.includes(m)) && ctx.host.pendingCount === 0;
    },
    { message: `the host got and answered ${methods.join(", ")}` },
  );
}
