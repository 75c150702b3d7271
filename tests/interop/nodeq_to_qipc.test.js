// node-q serializes values; `qipc decode` of those exact bytes must print the q display.
// node-q quirks this exercises (qipc-reference.md 7.1 and 8): NaN nulls written as fff8../ffc0..
// (q writes 7ff8../7fc0..), a JS number is a float, a one-character JS string is a char
// *vector*, a string starting with a backtick is a symbol, null is `::`.
// Only qgate's codec (the qipc tool) is under test here. node-q's own limits are not checked
// for their own sake: its list helpers refusing null items only explains listOf below, and its
// writeInt8 for bytes only explains why the byte > 127 frame is patched by hand.
"use strict";

const test = require("node:test");
const assert = require("node:assert");
const { nodeq, nodeqCodec, Long, decodeDisplay, encodeFrame, qipc } = require("./lib.js");
// node-q's list helpers (nodeq.ints, nodeq.dates, ...) refuse null items; its Typed class
// (not exported by the package) builds such lists directly.
const { Typed } = require("node-q/lib/typed.js");
const listOf = (type, items) => new Typed("typedlist", items, type);

const utc = (...a) => new Date(Date.UTC(...a));
const GUID = "8c680a01-5a49-5aab-5a65-d4bfddb6a661";

const cases = [
  ["int", nodeq.int(1), "1i"],
  ["short", nodeq.short(-234), "-234h"],
  ["long", nodeq.long(Long.fromString("89421099511627575")), "89421099511627575"],
  ["boolean", nodeq.boolean(true), "1b"],
  ["byte", nodeq.byte(42), "0x2a"],
  ["real", nodeq.real(5.5), "5.5e"],
  ["float (JS number)", 3.234, "3.234"],
  ["integral float", 2, "2f"],
  ["char", nodeq.char("a"), '"a"'],
  ["string", "abc", '"abc"'],
  ["one-char string is a char vector", "x", ',"x"'],
  ["symbol (backtick string)", "`abc", "`abc"],
  ["null symbol", nodeq.symbol(null), "`"],
  ["guid", nodeq.guid(GUID), GUID],
  ["null guid", nodeq.guid(null), "00000000-0000-0000-0000-000000000000"],
  ["timestamp", nodeq.timestamp(utc(2000, 0, 4, 5, 36, 57, 600)), "2000.01.04D05:36:57.600000000"],
  ["month", nodeq.month(utc(2001, 0, 1)), "2001.01m"],
  ["date", nodeq.date(utc(2001, 0, 1)), "2001.01.01"],
  ["date before 2000", nodeq.date(utc(1979, 9, 12)), "1979.10.12"],
  ["datetime", nodeq.datetime(utc(2000, 0, 4, 5, 36, 57, 600)), "2000.01.04T05:36:57.600"],
  ["timespan", nodeq.timespan(utc(2000, 0, 1, 5, 36, 57, 600)), "0D05:36:57.600000000"],
  ["minute", nodeq.minute(utc(2000, 0, 1, 12, 1)), "12:01"],
  ["second", nodeq.second(utc(2000, 0, 1, 12, 5, 0)), "12:05:00"],
  ["time", nodeq.time(utc(2000, 0, 1, 12, 4, 59, 123)), "12:04:59.123"],
  ["generic null", null, "::"],
  ["int null", nodeq.int(null), "0Ni"],
  ["long null", nodeq.long(null), "0N"],
  ["float null (fff8.. NaN)", nodeq.float(null), "0n"],
  ["real null (ffc0.. NaN)", nodeq.real(null), "0Ne"],
  ["short infinity", nodeq.short(Infinity), "0Wh"],
  ["int -infinity", nodeq.int(-Infinity), "-0Wi"],
  ["float infinity", nodeq.float(Infinity), "0w"],
  ["date null", nodeq.date(null), "0Nd"],
  ["float vector", [1.5, 2.5], "1.5 2.5"],
  ["int vector with null", listOf("int", [1, null, 3]), "1 0N 3i"],
  ["long vector", nodeq.longs([Long.fromInt(1), Long.fromInt(2)]), "1 2"],
  ["boolean vector", nodeq.booleans([true, false, true]), "101b"],
  ["byte vector", nodeq.bytes([1, 2, 127]), "0x01027f"],
  ["symbol vector", nodeq.symbols(["a", "b", "c"]), "`a`b`c"],
  ["date vector with null", listOf("date", [utc(2001, 0, 1), null]), "2001.01.01 0N"],
  ["timestamp vector", nodeq.timestamps([utc(2000, 0, 4, 5, 36, 57, 600)]), ",2000.01.04D05:36:57.600000000"],
  ["guid vector", listOf("guid", [GUID, null]), GUID + " 00000000-0000-0000-0000-000000000000"],
  ["general list", [nodeq.int(1), "`a", "xy"], '(1i;`a;"xy")'],
  ["nested list", [nodeq.ints([1, 2]), [nodeq.symbol("a"), 2.5]], "(1 2i;(`a;2.5))"],
  ["empty list", [], "()"],
  ["dict of floats", { a: 1, b: 2 }, "a| 1\nb| 2"],
  ["dict of mixed values", { a: nodeq.int(1), bcd: "`x" }, "a  | 1i\nbcd| `x"],
  ["dict of strings", { a: "xy", b: "zw" }, 'a| "xy"\nb| "zw"'],
];

// Each case adds itself here only after all its assertions passed; the count test at the end
// (node runs a file's top-level tests in order) fails if any case failed or never ran.
let checked = 0;
for (const [name, value, expected] of cases) {
  test(`node-q -> qipc decode: ${name}`, () => {
    const frame = nodeqCodec.serialize(value);
    assert.strictEqual(decodeDisplay(frame), expected);
    assert.strictEqual(qipc(["check", frame.toString("hex")]).trim(), "ok");
    checked += 1;
  });
}

test("qipc decode: node-q's fff8.. / ffc0.. NaN nulls are nulls, like q's 7ff8.. / 7fc0..", () => {
  // The same null in node-q's bytes and in q's bytes (qipc encode writes q's): the frames
  // differ, the display must not.
  for (const [value, literal, nodeqBits, qBits, display] of [
    [nodeq.float(null), "0n", "000000000000f8ff", "000000000000f87f", "0n"],
    [nodeq.real(null), "0Ne", "0000c0ff", "0000c07f", "0Ne"],
    [nodeq.datetime(null), "0Nz", "000000000000f8ff", "000000000000f87f", "0Nz"],
  ]) {
    const mine = nodeqCodec.serialize(value);
    const qs = encodeFrame(literal);
    assert.strictEqual(mine.subarray(9).toString("hex"), nodeqBits, `node-q bytes of ${literal}`);
    assert.strictEqual(qs.subarray(9).toString("hex"), qBits, `q bytes of ${literal}`);
    assert.strictEqual(decodeDisplay(mine), display, `node-q's ${literal}`);
    assert.strictEqual(decodeDisplay(qs), display, `q's ${literal}`);
  }
  // Inside a vector too: node-q's NaN item between real values.
  const vec = nodeqCodec.serialize(listOf("float", [1.5, null, -2]));
  assert.strictEqual(vec.subarray(22, 30).toString("hex"), "000000000000f8ff", "node-q NaN item");
  assert.strictEqual(decodeDisplay(vec), "1.5 0n -2");
});

test("qipc decode: byte values above 127 are unsigned (node-q cannot write them)", () => {
  // node-q's frame for a byte atom and a byte vector, with one value patched to 0xc8.
  const atom = nodeqCodec.serialize(nodeq.byte(42));
  atom[atom.length - 1] = 0xc8;
  assert.ok(atom.equals(encodeFrame("0xc8")), "the patched frame is q's frame of 0xc8");
  assert.strictEqual(decodeDisplay(atom), "0xc8");
  const vec = nodeqCodec.serialize(nodeq.bytes([1, 2, 127]));
  vec[vec.length - 2] = 0xff;
  assert.strictEqual(decodeDisplay(vec), "0x01ff7f");
});

test("at least 25 values checked in this direction", () => {
  assert.strictEqual(checked, cases.length, "every case ran and passed");
  assert.ok(checked >= 25, `only ${checked} values checked`);
});
