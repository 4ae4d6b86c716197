// `npm run lint`: web-ext lint (addons-linter), failing on errors only, with one expected
// error let through: MANIFEST_FIELD_PRIVILEGED on /experiment_apis. Firefox keeps
// Experiments to Mozilla-signed privileged add-ons; Thunderbird allows them in any add-on
// (its default extensions.experiments.enabled = true) and addons.thunderbird.net reviews
// them. `web-ext lint --privileged` is no way out: it then demands Firefox's
// mozillaAddons permission. Every other error fails, and all findings are printed.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL("..", import.meta.url));
const IGNORED = ["node_modules", "test", "test-support", "package.json", "package-lock.json", "README.md"];
const EXPECTED = [{ code: "MANIFEST_FIELD_PRIVILEGED", instancePath: "/experiment_apis" }];

const run = spawnSync(
  process.execPath,
  [
    fileURLToPath(new URL("../node_modules/web-ext/bin/web-ext.js", import.meta.url)),
    "lint",
    "--output",
    "json",
    "--source-dir",
    ".",
    "--ignore-files",
    ...IGNORED,
  ],
  { cwd: here, encoding: "utf8" },
);
let report;
try {
  report = JSON.parse(run.stdout.slice(run.stdout.indexOf("{")));
} catch {
  process.stderr.write(`web-ext lint gave no JSON report:\n${run.stdout}${run.stderr}`);
  process.exit(2);
}

const expected = (m) => EXPECTED.some((e) => e.code === m.code && e.instancePath === m.instancePath);
const line = (kind, m) => `${kind} ${m.code} ${m.file ?? ""} ${m.instancePath ?? ""}: ${m.message}`;
const errors = report.errors.filter((m) => !expected(m));
for (const m of report.errors) console.log(line(expected(m) ? "expected-error" : "ERROR", m));
for (const m of report.warnings) console.log(line("warning", m));
for (const m of report.notices) console.log(line("notice", m));
console.log(
  `errors ${errors.length} (+${report.errors.length - errors.length} expected), ` +
    `warnings ${report.warnings.length}, notices ${report.notices.length}`,
);
process.exit(errors.length ? 1 : 0);
