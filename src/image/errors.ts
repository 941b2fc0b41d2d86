/** The image errors every store raises the same way, so that callers tell "not there" from "broken" by type. */

/** No image by that name where the store looks: `path` is where it looked first (the RFC's rule for layouts). */
export class ImageNotFoundError extends Error {
  constructor(readonly input: string, readonly path: string, readonly tried: string[]) {
    super(`image "${input}" not found at ${tried.join(" or ")}`);
    this.name = "ImageNotFoundError";
  }
}
