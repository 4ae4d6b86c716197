// The host's notification schemas (host/sma_host/schemas/<name>.notification.json, JSON
// Schema 2020-12 with $refs into common.json), compiled with Ajv: the tests hold every
// notification they see or build against them, as the Python harness does.

import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import Ajv2020 from "ajv/dist/2020.js";

import { REPO_DIR } from "./fakes.mjs";

const SCHEMA_DIR = path.join(REPO_DIR, "host", "sma_host", "schemas");
const SUFFIX = ".notification.json";
const readSchema = (file) => JSON.parse(readFileSync(path.join(SCHEMA_DIR, file), "utf8"));

/** Every notification the host package has a schema for, sorted. */
export const NOTIFICATION_SCHEMA_NAMES = Object.freeze(
  readdirSync(SCHEMA_DIR)
    .filter((f) => f.endsWith(SUFFIX))
    .map((f) => f.slice(0, -SUFFIX.length))
    .sort(),
);

// allErrors: report every violation of a notification at once, not just the first.
const ajv = new Ajv2020({ allErrors: true });
ajv.addSchema(readSchema("common.json")); // $id urn:sma-host:common, which the others $ref
const validators = new Map(NOTIFICATION_SCHEMA_NAMES.map((name) => [name, ajv.compile(readSchema(`${name}${SUFFIX}`))]));

/** Violations of a notification's schema, in words (empty when it holds). */
export function notificationViolations(method, params) {
  const validate = validators.get(method);
  if (!validate) return [`no notification is called ${JSON.stringify(method)}`];
  if (validate(params)) return [];
  return validate.errors.map((e) => {
    const extra = e.params && e.params.additionalProperty ? ` (${e.params.additionalProperty})` : "";
    return `${method} ${e.instancePath || "/"}: ${e.message}${extra}`;
  });
}

/** Fails (AssertionError) unless the notification holds against its schema. */
export function assertValidNotification(method, params) {
  const violations = notificationViolations(method, params);
  const where = path.relative(REPO_DIR, path.join(SCHEMA_DIR, `${method}${SUFFIX}`));
  assert.deepEqual(violations, [], `${method} breaks ${where}: ${violations.join("; ")} in ${JSON.stringify(params)}`);
}
