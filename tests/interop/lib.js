// Helpers for the interop tests: run the qipc tool and load node-q's (de)serializer.
// Binaries come from $QGATE_BUILD (default /work/main/build); node-q from tests/node_modules.
"use strict";

const path = require("node:path");
const { execFileSync } = require("node:child_process");

const BUILD = process.env.QGATE_BUILD || "/work/main/build";
const QIPC = path.join(BUILD, "tools", "qipc", "qipc");

// node-q exports its typed constructors (nodeq.int(1), ...) from the package and its
// serialize/deserialize functions from lib/c.js.
const nodeq = require("node-q");
const nodeqCodec = require("node-q/lib/c.js");
const Long = require("long");

function qipc(args, input) {
  return execFileSync(QIPC, args, { encoding: "utf8", timeout: 10000, input: input ?? "" });
}

// The q display text `qipc decode` prints for a whole frame (after its header/value lines).
function decodeDisplay(frame) {
  const out = qipc(["decode", frame.toString("hex")]);
  const lines = out.split("\n");
  if (!lines[0].startsWith("header:") || !lines[1].startsWith("value:")) {
    throw new Error("unexpected qipc decode output: " + out);
  }
  return lines.slice(2).join("\n").replace(/\n$/, "");
}

// The frame `qipc encode` makes for a q literal, as a Buffer.
function encodeFrame(literal, ...flags) {
  return Buffer.from(qipc(["encode", ...flags, literal]).trim(), "hex");
}

module.exports = { QIPC, qipc, nodeq, nodeqCodec, Long, decodeDisplay, encodeFrame };
