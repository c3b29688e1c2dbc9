/** Types mirroring buildspec.v1.schema.json (the schema is the source of truth). */

export interface BlobRef {
  sha256: string;
  urls?: string[];
}

export interface SourceRef extends BlobRef {
  git?: { url: string; commit: string };
}

export interface InputRef extends BlobRef {
  name: string;
}

export interface DebianPackages {
  /** Path of the package lock inside the source tree. */
  lock: string;
}

export interface BaseImage {
  /** `name[:tag]@sha256:<manifest digest>` */
  image: string;
  /** Id of the bit4bit spec that produces this image. */
  spec?: string;
  /** A tar of an OCI image layout that holds the image. */
  layout?: BlobRef;
}

export interface DockerfileBuilder {
  type: 'dockerfile';
  version: string;
  dockerfile?: string;
  target?: string;
  platform?: 'linux/amd64';
  buildArgs?: Record<string, string>;
  baseImages: BaseImage[];
  packages?: DebianPackages;
}

export interface MkosiBuilder {
  type: 'mkosi';
  version: string;
  directory?: string;
  seed?: string;
  packages?: DebianPackages;
}

export interface RootfsBuilder {
  type: 'rootfs';
  version: string;
  suite: 'bookworm' | 'trixie';
  variant?: 'minbase' | 'apt';
  include?: string[];
  config?: { cmd?: string[]; entrypoint?: string[]; env?: string[]; workingDir?: string; user?: string };
  packages: DebianPackages;
}

export type BuilderSpec = DockerfileBuilder | MkosiBuilder | RootfsBuilder;
export type BuilderType = BuilderSpec['type'];

export interface BuildSpec {
  apiVersion: 'bit4bit/v1';
  kind: 'BuildSpec';
  name: string;
  description?: string;
  sourceDateEpoch: number;
  source: SourceRef;
  builder: BuilderSpec;
  inputs?: InputRef[];
}

/** A validated spec together with its id. */
export interface LoadedSpec {
  id: string;
  spec: BuildSpec;
}
