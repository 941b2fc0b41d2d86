/** OCI and Docker v2 image document types and media types. */

/** Media types the lifecycle reads and writes. */
export const MediaType = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayerNondistGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerLayerForeignGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  layoutHeader: "application/vnd.oci.layout.header.v1+json",
} as const;

/** The annotation that names an image inside a layout. */
export const REF_NAME = "org.opencontainers.image.ref.name";

/** Is this media type an image manifest (OCI or Docker v2)? */
export function isManifestType(mt: string | undefined): boolean {
  return mt === MediaType.ociManifest || mt === MediaType.dockerManifest;
}

/** Is this media type an image index (OCI index or Docker manifest list)? */
export function isIndexType(mt: string | undefined): boolean {
  return mt === MediaType.ociIndex || mt === MediaType.dockerManifestList;
}

/** The platform of an index entry or an image config. */
export interface Platform {
  architecture: string;
  os: string;
  "os.version"?: string;
  "os.features"?: string[];
  variant?: string;
  features?: string[];
}

/** A content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  data?: string;
  artifactType?: string;
}

/** An image manifest (OCI or Docker v2 schema 2). */
export interface Manifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
  subject?: Descriptor;
  artifactType?: string;
}

/** An image index (OCI) or manifest list (Docker). */
export interface Index {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[] | null;
  annotations?: Record<string, string>;
  subject?: Descriptor;
}

/** The runtime part of an image config. */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  [key: string]: unknown;
}

/** One history entry of an image config. */
export interface History {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

/** An image config (OCI or Docker). */
export interface ImageConfig {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  "os.version"?: string;
  variant?: string;
  config?: ContainerConfig;
  rootfs: { type: string; diff_ids: string[] };
  history?: History[];
  [key: string]: unknown;
}
