// The local driver: this machine's Docker engine, the embedded default. Nothing to create,
// nothing to upload (compose reads the user's files where they are).
import type { Driver, DockerEndpoint, Machine, MachineRecord, UploadPlan, UploadResult } from './driver.js';

class LocalMachine implements Machine {
  constructor(readonly envId: string) {}

  async docker(): Promise<DockerEndpoint> {
    return { env: {}, close: async () => {} };
  }

  async upload(plan: UploadPlan): Promise<UploadResult> {
    return { mapping: new Map(plan.paths.map((p) => [p, p])), filesSent: 0, filesUnchanged: 0 };
  }
}

export class LocalDriver implements Driver {
  readonly name = 'local';
  readonly thisEngine = true;

  async ensureMachine(envId: string): Promise<Machine> {
    return new LocalMachine(envId);
  }

  async findMachine(envId: string): Promise<Machine> {
    return new LocalMachine(envId);
  }

  /** The local engine is not a machine prevu made: envs are found by their compose projects. */
  async list(): Promise<MachineRecord[]> {
    return [];
  }

  async remove(): Promise<boolean> {
    return false;
  }

  async close(): Promise<void> {}
}
