import { describe, expect, test } from "bun:test";
import { type FlagSpec, HelpRequested, parseBool, parseFlags, UsageError } from "../src/ground/flags.ts";

const specs: FlagSpec[] = [
  { name: "oci", aliases: ["layout"], kind: "bool", env: ["CNB_USE_OCI", "CNB_USE_LAYOUT"], usage: "" },
  { name: "oci-dir", aliases: ["layout-dir"], kind: "string", env: ["CNB_OCI_PATH", "CNB_LAYOUT_DIR"], default: "/oci", usage: "" },
  { name: "layers", kind: "string", env: ["CNB_LAYERS_DIR"], default: "/layers", usage: "" },
  { name: "analyzed", kind: "string", env: ["CNB_ANALYZED_PATH"], default: (v) => `${v.layers}/analyzed.toml`, usage: "" },
  { name: "tag", kind: "list", usage: "" },
  { name: "uid", kind: "int", env: ["CNB_USER_ID"], usage: "" },
];

// The expectations follow Go's flag package, which the reference lifecycle uses.
describe("Go-style flags", () => {
  test("-name value, -name=value, --name value", () => {
    for (const argv of [["-oci-dir", "/x"], ["-oci-dir=/x"], ["--oci-dir", "/x"], ["--oci-dir=/x"], ["-layout-dir", "/x"]]) {
      expect(parseFlags(specs, [...argv, "img"], {}).values["oci-dir"]).toBe("/x");
    }
  });
  test("bool flags take no separate value", () => {
    const p = parseFlags(specs, ["-oci", "true"], {});
    expect(p.values.oci).toBe(true);
    expect(p.positionals).toEqual(["true"]);
    expect(parseFlags(specs, ["-oci=false"], { CNB_USE_OCI: "true" }).values.oci).toBe(false);
    expect(parseFlags(specs, ["-layout=1"], {}).values.oci).toBe(true);
    expect(() => parseFlags(specs, ["-oci=yes"], {})).toThrow(/invalid boolean value "yes" for -oci/);
  });
  test("precedence: flag > env > default", () => {
    expect(parseFlags(specs, [], {}).values["oci-dir"]).toBe("/oci");
    expect(parseFlags(specs, [], { CNB_OCI_PATH: "/env" }).values["oci-dir"]).toBe("/env");
    expect(parseFlags(specs, [], { CNB_LAYOUT_DIR: "/env2" }).values["oci-dir"]).toBe("/env2");
    expect(parseFlags(specs, ["-oci-dir", "/flag"], { CNB_OCI_PATH: "/env" }).values["oci-dir"]).toBe("/flag");
    expect(parseFlags(specs, [], { CNB_USE_OCI: "true" }).values.oci).toBe(true);
    expect(parseFlags(specs, [], { CNB_USE_LAYOUT: "1" }).values.oci).toBe(true);
    expect(parseFlags(specs, [], { CNB_USE_OCI: "nonsense" }).values.oci).toBe(false);
  });
  test("defaults computed from other values see the resolved layers dir", () => {
    expect(parseFlags(specs, ["-layers", "/l"], {}).values.analyzed).toBe("/l/analyzed.toml");
    expect(parseFlags(specs, [], { CNB_LAYERS_DIR: "/e" }).values.analyzed).toBe("/e/analyzed.toml");
    expect(parseFlags(specs, ["-analyzed", "/a.toml"], {}).values.analyzed).toBe("/a.toml");
  });
  test("repeatable flags collect values", () => {
    expect(parseFlags(specs, ["-tag", "a", "-tag=b"], {}).values.tag).toEqual(["a", "b"]);
    expect(parseFlags(specs, [], {}).values.tag).toEqual([]);
  });
  test("parsing stops at the first positional and at --", () => {
    const p = parseFlags(specs, ["-oci", "img", "-oci-dir", "/x"], {});
    expect(p.positionals).toEqual(["img", "-oci-dir", "/x"]);
    expect(p.values["oci-dir"]).toBe("/oci");
    expect(p.warnings[0]).toContain("-oci-dir");
    expect(parseFlags(specs, ["--", "-oci"], {}).positionals).toEqual(["-oci"]);
  });
  test("errors", () => {
    expect(() => parseFlags(specs, ["-nope"], {})).toThrow(new UsageError("flag provided but not defined: -nope"));
    expect(() => parseFlags(specs, ["-oci-dir"], {})).toThrow(/flag needs an argument: -oci-dir/);
    expect(() => parseFlags(specs, ["-uid", "abc"], {})).toThrow(/invalid value "abc" for flag -uid/);
    expect(() => parseFlags(specs, ["---x"], {})).toThrow(/bad flag syntax/);
    expect(() => parseFlags(specs, ["-h"], {})).toThrow(HelpRequested);
  });
  test("strconv.ParseBool", () => {
    for (const t of ["1", "t", "T", "true", "TRUE", "True"]) expect(parseBool(t)).toBe(true);
    for (const f of ["0", "f", "F", "false", "FALSE", "False"]) expect(parseBool(f)).toBe(false);
    for (const x of ["yes", "", "tRUE"]) expect(parseBool(x)).toBeUndefined();
  });
});
