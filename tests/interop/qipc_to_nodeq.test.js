// `qipc encode` makes frames; node-q's deserialize must turn them into the expected JS values.
// node-q quirks this pins down (qipc-reference.md 7.1 and 8): every null becomes JS null (char
// " " too, by default), infinities become +-Infinity, temporal types become Dates (or ns
// numbers with nanos2date=false), time-of-day types are Dates on 2000.01.01, keyed tables
// become [keys, values], type 127 (`s# dict) decodes as the string "func", and a lambda comes
// back as its source text.
"use strict";

const test = require("node:test");
const assert = require("node:assert");
const { nodeqCodec, encodeFrame } = require("./lib.js");

const utc = (...a) => new Date(Date.UTC(...a));
const GUID = "8c680a01-5a49-5aab-5a65-d4bfddb6a661";
const deser = (frame, ...opts) => nodeqCodec.deserialize(frame, ...opts);

const cases = [
  ["1i", 1],
  ["1", 1],
  ["-234h", -234],
  ["1b", true],
  ["0x2a", 42],
  ["5.5e", 5.5],
  ["3.234", 3.234],
  ['"a"', "a"],
  ['" "', null],  // emptyChar2null
  ['"abc"', "abc"],
  ["`abc", "abc"],
  ["`", null],
  ["0N", null],
  ["0Ni", null],
  ["0Nh", null],
  ["0n", null],
  ["0Ne", null],
  ["0W", Infinity],
  ["-0Wi", -Infinity],
  ["0Wh", Infinity],
  ["0Ng", null],
  [`"G"$"${GUID}"`, GUID],
  ["2000.01.04D05:36:57.600", utc(2000, 0, 4, 5, 36, 57, 600)],
  ["2001.01m", utc(2001, 0, 1)],
  ["2001.01.01", utc(2001, 0, 1)],
  ["1979.10.12", utc(1979, 9, 12)],
  ["2000.01.04T05:36:57.600", utc(2000, 0, 4, 5, 36, 57, 600)],
  ["0D05:36:57.600", utc(2000, 0, 1, 5, 36, 57, 600)],
  ["12:01", utc(2000, 0, 1, 12, 1)],
  ["12:05:00", utc(2000, 0, 1, 12, 5, 0)],
  ["12:04:59.123", utc(2000, 0, 1, 12, 4, 59, 123)],
  ["0Nd", null],
  ["0Np", null],
  ["1 2 3", [1, 2, 3]],
  ["1 0N 3i", [1, null, 3]],
  ["1.5 0n", [1.5, null]],
  ["101b", [true, false, true]],
  ["0x0102ff", [1, 2, 255]],
  ["`a`b`c", ["a", "b", "c"]],
  ["``a", [null, "a"]],
  ["2001.01.01 0N", [utc(2001, 0, 1), null]],
  [`("G"$"${GUID}";0Ng)`, [GUID, null]],
  ['(1;`a;"xy")', [1, "a", "xy"]],
  ["(1 2i;(`a;2.5))", [[1, 2], ["a", 2.5]]],
  ["()", []],
  ["`a`b!1 2", { a: 1, b: 2 }],
  ['`a`b!(1i;"xy")', { a: 1, b: "xy" }],
  ["([] a:1 2; b:`x`y)", [{ a: 1, b: "x" }, { a: 2, b: "y" }]],
  ["([k:1 2] v:`a`b)", [[{ k: 1 }, { k: 2 }], [{ v: "a" }, { v: "b" }]]],
  ["::", null],
  ["{x+y}", "{x+y}"],
  ["`s#`a`b!1 2", "func"],  // type 127: node-q's known misreading
];

// Each case adds itself here only after its assertion passed; the count test at the end (node
// runs a file's top-level tests in order) fails if any case failed or never ran.
let checked = 0;
for (const [literal, expected] of cases) {
  test(`qipc encode -> node-q: ${literal}`, () => {
    assert.deepStrictEqual(deser(encodeFrame(literal)), expected);
    checked += 1;
  });
}

test("qipc encode -> node-q: timestamp nanoseconds with nanos2date=false", () => {
  const ns = deser(encodeFrame("2000.01.04D05:36:57.600000001"), false);
  // node-q returns ns since 1970 as a double; only check it is within a microsecond.
  assert.ok(Math.abs(ns - (946684800000 + 3 * 86400000 + 20217600) * 1e6) < 1000, String(ns));
  assert.strictEqual(deser(encodeFrame("0D00:00:00.000000123"), false), 123);
});

test("qipc encode -> node-q: error reply raises the error text", () => {
  assert.throws(() => deser(encodeFrame("'type", "--type", "response")), { message: "type" });
  const frame = encodeFrame("'\"ERR boom\"", "--type", "response");
  assert.strictEqual(frame.subarray(0, 4).toString("hex"), "01020000");
  assert.throws(() => deser(frame), { message: "ERR boom" });
});

test("qipc encode -> node-q: message types in the header", () => {
  assert.strictEqual(encodeFrame("1", "--type", "sync")[1], 1);
  assert.strictEqual(encodeFrame("1", "--type", "async")[1], 0);
  assert.strictEqual(encodeFrame("1", "--type", "response")[1], 2);
});

test("qipc encode --compress -> node-q decompresses it", () => {
  const frame = encodeFrame("3000#`a`b`c", "--compress");
  assert.strictEqual(frame[2], 1, "compressed flag");
  assert.ok(frame.length < 1000, `compressed to ${frame.length} bytes`);
  const v = deser(frame);
  assert.strictEqual(v.length, 3000);
  assert.deepStrictEqual(v.slice(0, 4), ["a", "b", "c", "a"]);
  const table = deser(encodeFrame("([] a:1000#1 2; b:1000#`x)", "--compress"));
  assert.strictEqual(table.length, 1000);
  assert.deepStrictEqual(table[999], { a: 2, b: "x" });
});

test("at least 25 values checked in this direction", () => {
  assert.strictEqual(checked, cases.length, "every case ran and passed");
  assert.ok(checked >= 25, `only ${checked} values checked`);
});
