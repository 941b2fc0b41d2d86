import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { canonicalLayoutPath, canonicalName, parseReference, PathEscapeError, ReferenceError, rfcLayoutPath, sameReference } from "../src/image/reference.ts";
import { appImageLocation, candidateLocations } from "../src/image/locate.ts";

const HEX = "a".repeat(64);
const DIR = "/oci";

// Expected values follow Docker's reference normalisation (distribution/reference) and go-containerregistry's
// name package: docker.io → index.docker.io, library/ for one-segment Hub names, tag latest, a digest drops the tag.
const cases: { input: string; canonical: string; rfc: string; layout: string; tag?: string; writtenTag?: string }[] = [
  {
    input: "my-full-stack-run",
    canonical: "index.docker.io/library/my-full-stack-run:latest",
    rfc: "/oci/my-full-stack-run",
    layout: "/oci/index.docker.io/library/my-full-stack-run/latest",
    tag: "latest",
  },
  {
    input: "my-full-stack-run:bionic",
    canonical: "index.docker.io/library/my-full-stack-run:bionic",
    rfc: "/oci/my-full-stack-run",
    layout: "/oci/index.docker.io/library/my-full-stack-run/bionic",
    tag: "bionic",
    writtenTag: "bionic",
  },
  {
    input: "cnb/my-full-stack-run:bionic",
    canonical: "index.docker.io/cnb/my-full-stack-run:bionic",
    rfc: "/oci/cnb/my-full-stack-run",
    layout: "/oci/index.docker.io/cnb/my-full-stack-run/bionic",
    tag: "bionic",
    writtenTag: "bionic",
  },
  {
    input: "my-registry.com/my-full-stack-run",
    canonical: "my-registry.com/my-full-stack-run:latest",
    rfc: "/oci/my-registry.com/my-full-stack-run",
    layout: "/oci/my-registry.com/my-full-stack-run/latest",
    tag: "latest",
  },
  {
    input: `my-registry.com/cnb/x@sha256:${HEX}`,
    canonical: `my-registry.com/cnb/x@sha256:${HEX}`,
    rfc: "/oci/my-registry.com/cnb/x",
    layout: `/oci/my-registry.com/cnb/x/sha256/${HEX}`,
  },
  {
    input: "localhost:5000/app:v1",
    canonical: "localhost:5000/app:v1",
    rfc: "/oci/localhost:5000/app",
    layout: "/oci/localhost:5000/app/v1",
    tag: "v1",
    writtenTag: "v1",
  },
  { input: "localhost/app", canonical: "localhost/app:latest", rfc: "/oci/localhost/app", layout: "/oci/localhost/app/latest", tag: "latest" },
  {
    input: "docker.io/busybox",
    canonical: "index.docker.io/library/busybox:latest",
    rfc: "/oci/docker.io/busybox",
    layout: "/oci/index.docker.io/library/busybox/latest",
    tag: "latest",
  },
  {
    input: "index.docker.io/library/busybox:1.36",
    canonical: "index.docker.io/library/busybox:1.36",
    rfc: "/oci/index.docker.io/library/busybox",
    layout: "/oci/index.docker.io/library/busybox/1.36",
    tag: "1.36",
    writtenTag: "1.36",
  },
  {
    input: `busybox:1.36@sha256:${HEX}`,
    canonical: `index.docker.io/library/busybox@sha256:${HEX}`,
    rfc: "/oci/busybox",
    layout: `/oci/index.docker.io/library/busybox/sha256/${HEX}`,
    writtenTag: "1.36",
  },
  {
    input: "gcr.io/a/b/c:t_1.0-x",
    canonical: "gcr.io/a/b/c:t_1.0-x",
    rfc: "/oci/gcr.io/a/b/c",
    layout: "/oci/gcr.io/a/b/c/t_1.0-x",
    tag: "t_1.0-x",
    writtenTag: "t_1.0-x",
  },
  {
    input: "a__b/c.d-e",
    canonical: "index.docker.io/a__b/c.d-e:latest",
    rfc: "/oci/a__b/c.d-e",
    layout: "/oci/index.docker.io/a__b/c.d-e/latest",
    tag: "latest",
  },
  { input: "[::1]:5000/app", canonical: "[::1]:5000/app:latest", rfc: "/oci/[::1]:5000/app", layout: "/oci/[::1]:5000/app/latest", tag: "latest" },
];

describe("parseReference", () => {
  for (const c of cases) {
    test(c.input, () => {
      const r = parseReference(c.input);
      expect(canonicalName(r)).toBe(c.canonical);
      expect(r.tag).toBe(c.tag);
      expect(r.writtenTag).toBe(c.writtenTag);
      expect(rfcLayoutPath(DIR, r)).toBe(c.rfc);
      expect(canonicalLayoutPath(DIR, r)).toBe(c.layout);
    });
  }

  // Docker refuses these (distribution/reference): uppercase repositories, '..' components, empty parts, bad tags.
  const bad: [string, RegExp][] = [
    ["MyApp", /"MyApp".*lowercase/],
    ["a/../../etc", /"a\/\.\.\/\.\.\/etc".*path component "\.\."/],
    ["", /empty/],
    ["app:", /"app:".*not a valid tag/],
    ["app:-x", /not a valid tag/],
    [":tag", /repository name is empty/],
    ["app@sha256:abc", /not a valid digest/],
    [`app@sha256:${"A".repeat(64)}`, /64 lowercase/],
    ["app//x", /path component ""/],
    ["-app", /path component "-app"/],
    ["ex ample/app", /path component/],
    ["/abs/path", /path component ""/],
  ];
  for (const [input, re] of bad) {
    test(`refuses ${JSON.stringify(input)}`, () => {
      let err: unknown;
      try {
        parseReference(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ReferenceError);
      expect((err as Error).message).toContain(`"${input}"`);
      expect((err as Error).message).toMatch(re);
    });
  }

  test("sameReference compares normalised names", () => {
    expect(sameReference("docker.io/library/x:latest", "x")).toBe(true);
    expect(sameReference("index.docker.io/library/x", "x:latest")).toBe(true);
    expect(sameReference("x:1", "x:2")).toBe(false);
    expect(sameReference("my.reg/x", "x")).toBe(false);
  });
});

describe("reference to layout path", () => {
  test("candidate order: the RFC's form, then the canonical form", () => {
    const locs = candidateLocations(DIR, "cnb/my-full-stack-run:bionic");
    expect(locs.map((l) => [l.form, l.path, l.refName])).toEqual([
      ["rfc", "/oci/cnb/my-full-stack-run", "bionic"],
      ["canonical", "/oci/index.docker.io/cnb/my-full-stack-run/bionic", undefined],
    ]);
  });

  test("a reference with no tag selects by no ref.name in the RFC form", () => {
    expect(candidateLocations(DIR, "bar/my-previous-app")[0]).toMatchObject({ path: "/oci/bar/my-previous-app", refName: undefined });
  });

  test("a path inside the directory is used as is; one outside is refused", () => {
    expect(candidateLocations(DIR, "/oci/x/y")[0]).toMatchObject({ form: "path", path: "/oci/x/y" });
    expect(candidateLocations(DIR, "./x/y")[0]).toMatchObject({ form: "path", path: "/oci/x/y" });
    expect(() => candidateLocations(DIR, "/etc/passwd")).toThrow(PathEscapeError);
    expect(() => candidateLocations(DIR, "../etc")).toThrow(/outside the layout directory/);
  });

  test("a symlink inside the directory that points outside is refused", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ref-"));
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), "outside-"));
    fs.mkdirSync(path.join(dir, "cnb"));
    fs.symlinkSync(outside, path.join(dir, "cnb", "evil"));
    expect(() => candidateLocations(dir, "cnb/evil:latest")).toThrow(PathEscapeError);
    expect(() => candidateLocations(dir, "cnb/evil/deeper")).toThrow(/outside the layout directory/);
    // A symlink that stays inside is fine.
    fs.mkdirSync(path.join(dir, "real"));
    fs.symlinkSync(path.join(dir, "real"), path.join(dir, "cnb", "ok"));
    expect(candidateLocations(dir, "cnb/ok")[0].path).toBe(path.join(dir, "cnb", "ok"));
  });

  test("app image location: RFC names write <dir>/<repository as written> with the tag as ref.name", () => {
    expect(appImageLocation(DIR, "my-app-image", "rfc")).toMatchObject({ path: "/oci/my-app-image", refName: "latest" });
    expect(appImageLocation(DIR, "cnb/app:v2", "rfc")).toMatchObject({ path: "/oci/cnb/app", refName: "v2" });
    expect(appImageLocation(DIR, "cnb/app:v2", "canonical")).toMatchObject({ path: "/oci/index.docker.io/cnb/app/v2", refName: "v2" });
  });
});
