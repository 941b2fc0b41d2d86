import { describe, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { globMatch, planAppLayers } from "../src/layer/slices.ts";
import { tmpDir } from "./helpers/images.ts";

// Cases from the documented behaviour of Go's path/filepath.Match (the reference lifecycle matches slices with it):
// '*' and '?' never match '/', classes with ranges and negation, '\' escapes.
const cases: [string, string, boolean][] = [
  ["abc", "abc", true],
  ["*", "abc", true],
  ["*c", "abc", true],
  ["a*", "a", true],
  ["a*", "abc", true],
  ["a*", "ab/c", false],
  ["a*/b", "abc/b", true],
  ["a*/b", "a/c/b", false],
  ["a*b*c*d*e*/f", "axbxcxdxe/f", true],
  ["a*b*c*d*e*/f", "axbxcxdxexxx/f", true],
  ["a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false],
  ["a*b*c*d*e*/f", "axbxcxdxexxx/fff", false],
  ["a*b?c*x", "abxbbxdbxebxczzx", true],
  ["a*b?c*x", "abxbbxdbxebxczzy", false],
  ["ab[c]", "abc", true],
  ["ab[b-d]", "abc", true],
  ["ab[e-g]", "abc", false],
  ["ab[^c]", "abc", false],
  ["ab[^b-d]", "abc", false],
  ["ab[^e-g]", "abc", true],
  ["a\\*b", "a*b", true],
  ["a\\*b", "ab", false],
  ["a?b", "a/b", false],
  ["a*b", "a/b", false],
  ["public/**", "public/x", true],
  ["public/**", "public/x/y", false],
  ["*.html", "index.html", true],
  ["*.html", "sub/index.html", false],
];

describe("globMatch (Go filepath.Match)", () => {
  for (const [pattern, name, want] of cases) {
    test(`${pattern} ~ ${name} = ${want}`, () => expect(globMatch(pattern, name)).toBe(want));
  }
});

describe("planAppLayers", () => {
  function app(): string {
    const d = tmpDir("slices-");
    for (const f of ["index.html", "public/a.css", "public/img/b.png", "src/main.js", "src/lib/util.js", "README"]) {
      fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
      fs.writeFileSync(path.join(d, f), f);
    }
    return d;
  }
  const rel = (root: string, files: { image: string }[]) => files.map((f) => path.relative(root, f.image) || ".");

  test("no slices: one layer with everything, sorted by full path", () => {
    const d = app();
    const [only] = planAppLayers({ disk: d, image: d }, []);
    expect(rel(d, only.files)).toEqual([
      ".",
      "README",
      "index.html",
      "public",
      "public/a.css",
      "public/img",
      "public/img/b.png",
      "src",
      "src/lib",
      "src/lib/util.js",
      "src/main.js",
    ]);
  });

  test("a matched directory takes its subtree; ancestors come along; the rest is the last layer", () => {
    const d = app();
    const plans = planAppLayers({ disk: d, image: d }, [{ paths: ["public"] }, { paths: ["*.html"] }]);
    expect(plans.length).toBe(3);
    expect(rel(d, plans[0].files)).toEqual([".", "public", "public/a.css", "public/img", "public/img/b.png"]);
    expect(rel(d, plans[1].files)).toEqual([".", "index.html"]);
    expect(rel(d, plans[2].files)).toEqual([".", "README", "src", "src/lib", "src/lib/util.js", "src/main.js"]);
  });

  test("a path goes into the first slice that matches it; a slice matching nothing is empty", () => {
    const d = app();
    const plans = planAppLayers({ disk: d, image: d }, [{ paths: ["src/*"] }, { paths: ["src/main.js"] }, { paths: ["nothing/*"] }]);
    expect(rel(d, plans[0].files)).toEqual([".", "src", "src/lib", "src/lib/util.js", "src/main.js"]);
    expect(plans[1].files).toEqual([]);
    expect(plans[2].files).toEqual([]);
    expect(rel(d, plans[3].files)).toEqual([".", "README", "index.html", "public", "public/a.css", "public/img", "public/img/b.png"]);
  });

  test("patterns that leave the app dir match nothing", () => {
    const d = app();
    const plans = planAppLayers({ disk: d, image: d }, [{ paths: ["../*", "/etc/*"] }]);
    expect(plans[0].files).toEqual([]);
  });
});
