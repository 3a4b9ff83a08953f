// The globals of branchdb's server-side JavaScript: MongoDB's shell types
// (NumberLong, NumberInt, NumberDecimal, ObjectId, Timestamp, BinData, UUID, MinKey,
// MaxKey, ISODate, Code) and the helpers its functions may call (tojson, isNumber,
// Array.sum, Array.avg). Evaluated once per scope; it returns the conversion helpers
// that the host keeps for itself, so a function that replaces a global cannot change
// how values cross back into BSON.
(function (global) {
  "use strict";

  const hide = (object, name, value) =>
    Object.defineProperty(object, name, { value, enumerable: false, writable: false, configurable: false });
  const kinds = new WeakMap();
  const define = (name, constructor) =>
    Object.defineProperty(global, name, { value: constructor, enumerable: false, writable: true, configurable: true });

  function NumberLong(value) {
    if (!new.target) return new NumberLong(value);
    let big;
    if (typeof value === "bigint") big = value;
    else if (typeof value === "string") big = BigInt(value.trim());
    else big = BigInt(Math.trunc(Number(value === undefined ? 0 : value)));
    kinds.set(this, ["long", BigInt.asIntN(64, big)]);
  }
  NumberLong.prototype.valueOf = function () { return Number(kinds.get(this)[1]); };
  NumberLong.prototype.toNumber = NumberLong.prototype.valueOf;
  NumberLong.prototype.toString = function () { return `NumberLong(${kinds.get(this)[1]})`; };
  NumberLong.prototype.tojson = NumberLong.prototype.toString;
  NumberLong.prototype.compare = function (other) {
    const a = kinds.get(this)[1], b = BigInt(other instanceof NumberLong ? kinds.get(other)[1] : Math.trunc(Number(other)));
    return a < b ? -1 : a > b ? 1 : 0;
  };
  Object.defineProperty(NumberLong.prototype, "floatApprox", { get() { return Number(kinds.get(this)[1]); } });

  function NumberInt(value) {
    if (!new.target) return new NumberInt(value);
    kinds.set(this, ["int", Number(value === undefined ? 0 : value) | 0]);
  }
  NumberInt.prototype.valueOf = function () { return kinds.get(this)[1]; };
  NumberInt.prototype.toNumber = NumberInt.prototype.valueOf;
  NumberInt.prototype.toString = function () { return `NumberInt(${kinds.get(this)[1]})`; };
  NumberInt.prototype.tojson = NumberInt.prototype.toString;

  function NumberDecimal(value) {
    if (!new.target) return new NumberDecimal(value);
    kinds.set(this, ["decimal", String(value === undefined ? "0" : value)]);
  }
  NumberDecimal.prototype.valueOf = function () { return Number(kinds.get(this)[1]); };
  NumberDecimal.prototype.toString = function () { return `NumberDecimal("${kinds.get(this)[1]}")`; };
  NumberDecimal.prototype.tojson = NumberDecimal.prototype.toString;

  let counter = Math.floor(Math.random() * 0xffffff);
  const process = Array.from({ length: 5 }, () => Math.floor(Math.random() * 256));
  const hex = (n, width) => n.toString(16).padStart(width, "0");
  function ObjectId(value) {
    if (!new.target) return new ObjectId(value);
    if (value === undefined) {
      counter = (counter + 1) & 0xffffff;
      value = hex(Math.floor(Date.now() / 1000), 8) + process.map((b) => hex(b, 2)).join("") + hex(counter, 6);
    }
    if (typeof value !== "string" || !/^[0-9a-fA-F]{24}$/.test(value)) {
      throw new Error("invalid object id: length");
    }
    kinds.set(this, ["oid", value.toLowerCase()]);
    hide(this, "str", value.toLowerCase());
  }
  ObjectId.prototype.toString = function () { return `ObjectId("${this.str}")`; };
  ObjectId.prototype.tojson = ObjectId.prototype.toString;
  ObjectId.prototype.valueOf = function () { return this.str; };
  ObjectId.prototype.toHexString = function () { return this.str; };
  ObjectId.prototype.getTimestamp = function () { return new Date(parseInt(this.str.slice(0, 8), 16) * 1000); };
  ObjectId.prototype.equals = function (other) { return other instanceof ObjectId && other.str === this.str; };

  function Timestamp(t, i) {
    if (!new.target) return new Timestamp(t, i);
    kinds.set(this, ["timestamp"]);
    this.t = Number(t === undefined ? 0 : t) >>> 0;
    this.i = Number(i === undefined ? 0 : i) >>> 0;
  }
  Timestamp.prototype.getTime = function () { return this.t; };
  Timestamp.prototype.getInc = function () { return this.i; };
  Timestamp.prototype.toString = function () { return `Timestamp(${this.t}, ${this.i})`; };
  Timestamp.prototype.tojson = Timestamp.prototype.toString;

  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const decode64 = (text) => {
    const bytes = [];
    let bits = 0, buffer = 0;
    for (const c of text.replace(/=+$/, "")) {
      const at = alphabet.indexOf(c);
      if (at < 0) throw new Error("invalid base64");
      buffer = (buffer << 6) | at;
      bits += 6;
      if (bits >= 8) { bits -= 8; bytes.push((buffer >> bits) & 0xff); }
    }
    return bytes;
  };
  const encode64 = (bytes) => {
    let out = "";
    for (let at = 0; at < bytes.length; at += 3) {
      const n = (bytes[at] << 16) | ((bytes[at + 1] || 0) << 8) | (bytes[at + 2] || 0);
      out += alphabet[(n >> 18) & 63] + alphabet[(n >> 12) & 63];
      out += at + 1 < bytes.length ? alphabet[(n >> 6) & 63] : "=";
      out += at + 2 < bytes.length ? alphabet[n & 63] : "=";
    }
    return out;
  };
  function BinData(subtype, base64) {
    if (!new.target) return new BinData(subtype, base64);
    const bytes = decode64(String(base64));
    kinds.set(this, ["binary", Number(subtype) & 0xff, String(base64)]);
    hide(this, "len", bytes.length);
    hide(this, "type", Number(subtype) & 0xff);
  }
  BinData.prototype.base64 = function () { return kinds.get(this)[2]; };
  BinData.prototype.hex = function () { return decode64(kinds.get(this)[2]).map((b) => hex(b, 2)).join(""); };
  BinData.prototype.subtype = function () { return kinds.get(this)[1]; };
  BinData.prototype.length = function () { return this.len; };
  BinData.prototype.toString = function () { return `BinData(${this.type},"${this.base64()}")`; };
  BinData.prototype.tojson = BinData.prototype.toString;
  const fromHex = (subtype, text) => {
    const clean = String(text).replace(/-/g, "");
    if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new Error("invalid hex string");
    const bytes = [];
    for (let at = 0; at < clean.length; at += 2) bytes.push(parseInt(clean.slice(at, at + 2), 16));
    return new BinData(subtype, encode64(bytes));
  };
  const HexData = (subtype, text) => fromHex(subtype, text);
  const UUID = (text) => {
    if (String(text).replace(/-/g, "").length !== 32) throw new Error("UUID string must have 32 hex digits");
    return fromHex(4, text);
  };
  const MD5 = (text) => fromHex(5, text);

  function MinKey() { return minKey; }
  function MaxKey() { return maxKey; }
  const minKey = Object.create(MinKey.prototype);
  const maxKey = Object.create(MaxKey.prototype);
  kinds.set(minKey, ["minKey"]);
  kinds.set(maxKey, ["maxKey"]);
  MinKey.prototype.tojson = MinKey.prototype.toString = () => "MinKey";
  MaxKey.prototype.tojson = MaxKey.prototype.toString = () => "MaxKey";

  function Code(code, scope) {
    if (!new.target) return new Code(code, scope);
    kinds.set(this, ["code"]);
    this.code = String(code);
    if (scope !== undefined) this.scope = scope;
  }
  Code.prototype.toString = function () { return `Code(${JSON.stringify(this.code)})`; };
  Code.prototype.tojson = Code.prototype.toString;

  const ISODate = (text) => {
    const date = text === undefined ? new Date() : new Date(text);
    if (isNaN(date.getTime())) throw new Error(`invalid ISO date: ${text}`);
    return date;
  };

  const tojson = (value, indent) => {
    const seen = new Set();
    const write = (v, depth) => {
      if (v === undefined) return "undefined";
      if (v === null) return "null";
      if (typeof v === "string") return JSON.stringify(v);
      if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
      if (typeof v === "function") return v.toString();
      if (v instanceof Date) return `ISODate("${isNaN(v.getTime()) ? "Invalid Date" : v.toISOString()}")`;
      if (v instanceof RegExp) return String(v);
      if (kinds.has(v) && typeof v.tojson === "function") return v.tojson();
      if (seen.has(v) || depth > 150) return "[recursive]";
      seen.add(v);
      const out = Array.isArray(v)
        ? `[ ${v.map((item) => write(item, depth + 1)).join(", ")} ]`
        : `{ ${Object.keys(v).map((k) => `${JSON.stringify(k)} : ${write(v[k], depth + 1)}`).join(", ")} }`;
      seen.delete(v);
      return out;
    };
    return write(value, 0);
  };

  const sum = (array) => array.reduce((total, v) => total + Number(v), 0);
  Object.defineProperty(Array, "sum", { value: sum, enumerable: false, writable: true, configurable: true });
  Object.defineProperty(Array, "avg", {
    value: (array) => (array.length === 0 ? null : sum(array) / array.length),
    enumerable: false, writable: true, configurable: true,
  });
  Object.defineProperty(Array, "contains", {
    value: (array, value) => array.includes(value),
    enumerable: false, writable: true, configurable: true,
  });

  for (const [name, value] of Object.entries({
    NumberLong, NumberInt, NumberDecimal, ObjectId, Timestamp, BinData, HexData, UUID, MD5, MinKey, MaxKey,
    Code, ISODate, tojson,
    tojsononeline: (value) => tojson(value),
    isNumber: (value) => typeof value === "number",
    isString: (value) => typeof value === "string",
    isObject: (value) => typeof value === "object" && value !== null,
  })) {
    define(name, value);
  }

  return {
    // BSON values into JavaScript.
    long: (text) => new NumberLong(text),
    decimal: (text) => new NumberDecimal(text),
    oid: (text) => new ObjectId(text),
    timestamp: (t, i) => new Timestamp(t, i),
    binary: (subtype, base64) => new BinData(subtype, base64),
    minKey: () => minKey,
    maxKey: () => maxKey,
    date: (ms) => new Date(ms),
    regex: (pattern, options) => {
      let made;
      try { made = new RegExp(pattern, options.replace(/[^imsu]/g, "")); } catch (e) { made = new RegExp("(?!)"); }
      kinds.set(made, ["regex", pattern, options]);
      return made;
    },
    code: (code) => new Code(code),
    codeWithScope: (code, scope) => new Code(code, scope),
    // JavaScript values into BSON: what a value is, and what it holds.
    kind: (value) => {
      const known = kinds.get(value);
      if (known !== undefined) {
        switch (known[0]) {
          case "long": return ["long", String(known[1])];
          case "timestamp": return ["timestamp", Number(value.t) >>> 0, Number(value.i) >>> 0];
          case "code": return value.scope === undefined ? ["code", String(value.code)] : ["codeWithScope", String(value.code), value.scope];
          default: return known;
        }
      }
      if (value instanceof Date) return ["date", value.getTime()];
      if (value instanceof RegExp) return ["regex", value.source, value.flags.replace(/[^ims]/g, "")];
      if (Array.isArray(value)) return ["array"];
      if (typeof value === "function") return ["function", value.toString()];
      return ["object"];
    },
  };
})(globalThis)
