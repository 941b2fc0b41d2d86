import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import { checkDigest, createOciValidator, OCI_SCHEMA_FILES, validateOci } from "./helpers/oci-schema.ts";

const SCHEMA_DIR = new URL("../../shared/fixtures/external/oci-schema/", import.meta.url);

interface Vector {
  source: string;
  mediaType: string;
  expectValid: boolean;
  comment: string;
  body: string;
}

const vectors = JSON.parse(fs.readFileSync(fileURLToPath(new URL("vectors.json", SCHEMA_DIR).href), "utf8")) as Vector[];
const validator = createOciValidator(SCHEMA_DIR);

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const INDEX = "application/vnd.oci.image.index.v1+json";
const CONFIG = "application/vnd.oci.image.config.v1+json";
const DESCRIPTOR = "application/vnd.oci.descriptor.v1+json";
const LAYOUT = "application/vnd.oci.layout.header.v1+json";
const SHA = "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270";

test("vectors.json holds 84 documents, 44 valid and 40 invalid", () => {
  expect(vectors.length).toBe(84);
  expect(vectors.filter((v) => v.expectValid).length).toBe(44);
  expect(vectors.filter((v) => !v.expectValid).length).toBe(40);
  for (const v of vectors) expect(Object.keys(OCI_SCHEMA_FILES)).toContain(v.mediaType);
});

describe("image-spec vectors", () => {
  vectors.forEach((v, i) => {
    const name = `#${i} ${v.source} ${v.mediaType.replace("application/vnd.oci.", "")} ${v.expectValid ? "valid" : "invalid"}${
      v.comment ? `: ${v.comment.split("\n")[0]}` : ""
    }`;
    test(name, () => {
      const errors = validator.validateJson(v.mediaType, v.body);
      if (v.expectValid) expect(errors).toEqual([]);
      else {
        expect(errors.length).toBeGreaterThan(0);
        for (const e of errors) expect(e).toMatch(/^\/\S*: /);
      }
    });
  });
});

describe("errors name the JSON path", () => {
  test("digest of an index entry", () => {
    const errors = validator.validate(INDEX, {
      schemaVersion: 2,
      manifests: [{ mediaType: MANIFEST, size: 1, digest: SHA }, { mediaType: MANIFEST, size: 1, digest: "nope" }],
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toStartWith("/manifests/1/digest: ");
    expect(errors[0]).toContain("does not match pattern");
  });

  test("sha256 digest of the wrong length", () => {
    const errors = validator.validate(MANIFEST, {
      schemaVersion: 2,
      config: { mediaType: CONFIG, size: 2, digest: "sha256:abc" },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", size: 1, digest: SHA }],
    });
    expect(errors).toEqual([expect.stringMatching(/^\/config\/digest: invalid digest .*64 lowercase hex/)]);
  });

  test("missing required properties name the property", () => {
    const errors = validator.validate(MANIFEST, { schemaVersion: 2, layers: [{ mediaType: "a/b", size: 1 }] });
    expect(errors).toContain("/config: required property is missing");
    expect(errors).toContain("/layers/0/digest: required property is missing");
  });

  test("type errors, minimum and minItems", () => {
    expect(validator.validate(DESCRIPTOR, { mediaType: "a/b", size: -1, digest: SHA })).toEqual(["/size: must be >= 0, got -1"]);
    expect(validator.validate(DESCRIPTOR, { mediaType: "a/b", size: "1", digest: SHA })).toEqual([
      "/size: expected type integer, got string",
    ]);
    expect(validator.validate(MANIFEST, { schemaVersion: 2, config: { mediaType: "a/b", size: 1, digest: SHA }, layers: [] })).toEqual([
      "/layers: must have at least 1 item, has 0",
    ]);
    expect(validator.validate(LAYOUT, { imageLayoutVersion: "2.0.0" })[0]).toStartWith("/imageLayoutVersion: must be one of");
    expect(validator.validate(LAYOUT, [])).toEqual(["/: expected type object, got array"]);
  });

  test("patternProperties inside a oneOf report the offending key", () => {
    const errors = validator.validate(CONFIG, {
      architecture: "amd64",
      os: "linux",
      config: { Labels: { "a/b": 1 }, Volumes: ["/data"] },
      rootfs: { type: "layers", diff_ids: [] },
    });
    expect(errors).toContain("/config/Labels/a~1b: expected type string, got integer");
    expect(errors.some((e) => e.startsWith("/config/Volumes: matches none of the oneOf alternatives"))).toBe(true);
  });

  test("Env entries, base64 data, uri and date-time formats", () => {
    const config = { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } };
    expect(validator.validate(CONFIG, { ...config, config: { Env: ["A=1", "B"] } })).toEqual([
      '/config/Env/1: environment entry "B" does not match ^[^=]+=.*$',
    ]);
    expect(validator.validate(CONFIG, { ...config, created: "yesterday" })).toEqual(['/created: "yesterday" is not a valid date-time']);
    expect(validator.validate(CONFIG, { ...config, history: [{ created: "2015-10-31T22:22:54.690851953Z" }] })).toEqual([]);
    expect(validator.validate(DESCRIPTOR, { mediaType: "a/b", size: 2, digest: SHA, data: "e30" })).toEqual([
      "/data: is not valid padded base64",
    ]);
    expect(validator.validate(DESCRIPTOR, { mediaType: "a/b", size: 2, digest: SHA, urls: ["https://x.test/a", "no"] })).toEqual([
      '/urls/1: "no" is not a valid uri',
    ]);
  });

  test("invalid JSON is reported at the root", () => {
    expect(validator.validateJson(LAYOUT, "{")[0]).toStartWith("/: invalid JSON");
  });

  test("unknown media types are refused", () => {
    expect(() => validator.validate("application/vnd.docker.distribution.manifest.v2+json", {})).toThrow(/no OCI schema/);
    expect(validator.supports(MANIFEST)).toBe(true);
  });

  test("validateOci uses the shared schemas by default", () => {
    expect(validateOci(LAYOUT, { imageLayoutVersion: "1.0.0" })).toEqual([]);
  });
});

test("checkDigest follows go-digest", () => {
  expect(checkDigest(SHA)).toBeUndefined();
  expect(checkDigest("sha512:" + "a".repeat(128))).toBeUndefined();
  expect(checkDigest("sha512:" + "a".repeat(64))).toContain("128");
  expect(checkDigest(SHA.toUpperCase().replace("SHA256", "sha256"))).toContain("lowercase");
  expect(checkDigest("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")).toBeUndefined();
  expect(checkDigest("sha256")).toBeDefined();
  expect(checkDigest("Foo:bar")).toBeDefined();
});
