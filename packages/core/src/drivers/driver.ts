// The machine an environment runs on. Implementations live side by side (local.ts, ssh.ts,
// lightsail.ts, kube.ts); a driver that builds on another (lightsail on ssh) takes it through this
// interface and never imports it.

/** How the docker CLI (and compose) reach the machine's engine: environment for the child process. */
export interface DockerEndpoint {
  /** e.g. { DOCKER_HOST: 'unix:///tmp/prevu-xyz/docker.sock' }; empty for the local engine. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Files the project needs on the machine: build contexts and bind-mount sources. */
export interface UploadPlan {
  /** Absolute local paths (files or directories). */
  paths: string[];
  /** .dockerignore rules of a path that is only a build context: what the build never reads stays here. */
  ignore?: Record<string, string[]>;
}

export interface UploadResult {
  /** Local absolute path -> path on the machine. Identity on the local driver. */
  mapping: Map<string, string>;
  filesSent: number;
  filesUnchanged: number;
}

export interface MachineRecord {
  envId: string;
  driver: string;
  state: string;
  /** Where the machine is (host name or address); undefined for local. */
  host?: string;
  createdAt?: Date;
}

/** A cloud instance the env's agent can delete itself at its TTL (Lightsail; see lightsail-delete-credential.ts). */
export interface SelfDeleteTarget {
  instanceName: string;
  region: string;
  /** The API endpoint the CLI used, when not the cloud's own (AWS_ENDPOINT_URL_LIGHTSAIL). */
  endpoint?: string;
}

export interface Machine {
  readonly envId: string;
  /** Set when the machine is an instance the driver made, which its agent may delete at the TTL. */
  readonly selfDelete?: SelfDeleteTarget;
  docker(): Promise<DockerEndpoint>;
  upload(plan: UploadPlan, signal?: AbortSignal): Promise<UploadResult>;
}

export interface Driver {
  readonly name: string;
  /**
   * Its machines' Docker is this machine's engine (the local driver): nothing to check about
   * reaching the embedded server, and `ls` reads the env's containers here directly.
   */
  readonly thisEngine: boolean;
  /** Finds or creates the env's machine, ready to take Docker commands. Idempotent. */
  ensureMachine(envId: string, signal?: AbortSignal): Promise<Machine>;
  /** The machine of an existing env, without creating anything; undefined when there is none. */
  findMachine(envId: string): Promise<Machine | undefined>;
  /** Machines this driver made for the profile (for `ls` and `purge`). */
  list(): Promise<MachineRecord[]>;
  /** Deletes the env's machine when the driver created it (no-op on local/ssh). Idempotent. True: a machine was deleted (its volumes with it). */
  remove(envId: string): Promise<boolean>;
  close(): Promise<void>;
}
