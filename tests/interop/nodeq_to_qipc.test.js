// node-q serializes values; `qipc decode` of those exact bytes must print the q display.
// node-q quirks this exercises (qipc-reference.md 7.1 and 8): NaN nulls written as fff8../ffc0..
// (q writes 7ff8../7fc0..), a JS number is a float, a one-character JS string is a char
// *vector*, a string starting with a backtick is a symbol, null is `::`.
"use strict";

const test = require("node:test");
const assert = require("node:assert");
const { nodeq, nodeqCodec, Long, decodeDisplay, qipc } = require("./lib.js");
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

for (const [name, value, expected] of cases) {
  test(`node-q -> qipc decode: ${name}`, () => {
    const frame = nodeqCodec.serialize(value);
    assert.strictEqual(decodeDisplay(frame), expected);
    assert.strictEqual(qipc(["check", frame.toString("hex")]).trim(), "ok");
  });
}

test("node-q writes NaN as fff8.., which qipc reads as the float null", () => {
  const frame = nodeqCodec.serialize(nodeq.float(null));
  assert.strictEqual(frame.subarray(9).toString("hex"), "000000000000f8ff");
});

test("node-q list helpers refuse nulls", () => {
  assert.throws(() => nodeq.ints([1, null]), { message: "number" });
});

test("node-q cannot write byte values above 127 (writeInt8)", () => {
  assert.throws(() => nodeqCodec.serialize(nodeq.byte(200)), RangeError);
});

test("at least 25 values checked in this direction", () => {
  assert.ok(cases.length >= 25, `only ${cases.length} cases`);
});
