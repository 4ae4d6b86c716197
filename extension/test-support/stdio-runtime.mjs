// runtime.connectNative for Node: spawns the host as Thunderbird does (arguments: the
// manifest path and the add-on id) and speaks Thunderbird's framing (a 32-bit length in
// native byte order, then UTF-8 JSON; at most 1 MiB per message from the host).

import { spawn } from "node:child_process";
import os from "node:os";

import { FakeEvent } from "./fakes.mjs";

export const MAX_READ = 1024 * 1024; // Thunderbird's NativeMessaging MAX_READ
const LE = os.endianness() === "LE";

export function stdioRuntime({ command, env = {}, cwd, addonId = "sma-host@autocrypt.org", manifestPath = "/nonexistent/org_autocrypt_sma_host.json" }) {
  const runtime = {
    lastError: null,
    ports: [],
    connectNative(name) {
      const port = {
        name,
        error: null,
        onMessage: new FakeEvent(),
        onDisconnect: new FakeEvent(),
        stderr: "",
        child: null,
      };
      let open = true;
      let buffer = Buffer.alloc(0);
      const gone = (error) => {
        if (!open) return;
        open = false;
        port.error = error;
        try {
          port.child?.stdin.end();
        } catch {
          // already closed
        }
        setImmediate(() => port.onDisconnect.fire(port));
      };
      port.postMessage = (message) => {
        if (!open) throw new Error("Attempt to postMessage on disconnected port");
        const body = Buffer.from(JSON.stringify(message), "utf8");
        const head = Buffer.alloc(4);
        if (LE) head.writeUInt32LE(body.length);
        else head.writeUInt32BE(body.length);
        port.child.stdin.write(Buffer.concat([head, body]));
      };
      port.disconnect = () => {
        if (!open) return;
        open = false;
        port.child?.stdin.end();
      };
      let child;
      try {
        child = spawn(command, [manifestPath, addonId], {
          cwd,
          env: { ...process.env, ...env },
          stdio: ["pipe", "pipe", "pipe"],
        });
      } catch {
        gone({ message: `No such native application ${name}` });
        return port;
      }
      port.child = child;
      child.on("error", () => gone({ message: `No such native application ${name}` }));
      child.stdin.on("error", () => {});
      child.stderr.on("data", (chunk) => {
        port.stderr += chunk.toString("utf8");
      });
      child.stdout.on("data", (chunk) => {
        buffer = Buffer.concat([buffer, chunk]);
        while (open && buffer.length >= 4) {
          const length = LE ? buffer.readUInt32LE(0) : buffer.readUInt32BE(0);
          if (length > MAX_READ) {
            gone({ message: `Native application tried to send a message of ${length} bytes, which exceeds the limit of ${MAX_READ} bytes.` });
            child.kill();
            return;
          }
          if (buffer.length < 4 + length) break;
          const body = buffer.subarray(4, 4 + length).toString("utf8");
          buffer = buffer.subarray(4 + length);
          let message;
          try {
            message = JSON.parse(body);
          } catch {
            gone({ message: "An unexpected error occurred" });
            child.kill();
            return;
          }
          port.onMessage.fire(message);
        }
      });
      child.stdout.on("end", () => gone(null));
      runtime.ports.push(port);
      return port;
    },
  };
  return runtime;
}
