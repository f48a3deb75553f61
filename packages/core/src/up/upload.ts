// Step 4 of `prevu up`: the agent's own key registered with the tunnel server, the project's files
// on the machine, and the compose files (the user's and prevu's overlay) the next steps run.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentKeyRegistration, ensureAgentKey, type AgentKey } from '../agent-key.js';
import { AGENT_IMAGE, imageBuild } from '../artifacts.js';
import { isIdentity, loadComposeProject, rewritePaths, uploadPlan } from '../compose.js';
import { composeFiles } from '../compose-runner.js';
import { deleteCredential, DELETE_KEY_ID_ENV, writeDeleteCredential } from '../drivers/lightsail-delete-credential.js';
import type { AgentSettings } from '../overlay.js';
import { profileCa, type Session, type TunnelEndpoint } from '../session.js';
import { pinFingerprint } from '../ssh-fingerprint.js';
import type { Step, UpContext } from './context.js';

/** How the env's agent is run: its image, the tunnel server as it reaches it, its key file on the machine, its labels. */
export function agentSettings(session: Session, envId: string, endpoint: TunnelEndpoint, agentKey: AgentKey, keyFile: string): AgentSettings {
  const agentBuild = imageBuild(AGENT_IMAGE);
  const ca = profileCa(session.profile);
  return {
    // read here by the compose CLI and streamed to the engine, like every build context
    buildContext: agentBuild.context,
    image: agentBuild.image,
    tunnelServer: endpoint.agentAddress,
    ...(endpoint.hostKey ? { tunnelHostKey: pinFingerprint(endpoint.hostKey) } : {}),
    ...(endpoint.agentTlsName ? { tunnelTlsName: endpoint.agentTlsName } : {}),
    ...(ca ? { tunnelCa: ca } : {}),
    keyFile,
    private: session.profile.private,
    externalNetworks: endpoint.externalNetworks,
    // the key's fingerprint too: compose recreates the agent when the key changes (a secret's
    // file content is not part of the service's config)
    labels: { 'dev.prevu.env-id': envId, 'dev.prevu.profile': session.profile.name, 'dev.prevu.account': session.key.accountId, 'dev.prevu.agent-key': pinFingerprint(agentKey.publicKey) },
  };
}

export const upload: Step<UpContext> = {
  title: 'Upload the project files',
  async run(ctx, report) {
    const { session, loaded } = ctx;
    const plan = uploadPlan(loaded.model, ctx.selected());
    // The agent logs in with the env's own key, which the account authorizes on the server
    // now: the account key itself never goes to the machine.
    const agentKey = ensureAgentKey(ctx.states.dir(ctx.envId));
    await ctx.tunnel!.exec('agent-key', JSON.stringify(agentKeyRegistration(agentKey, session.key.accountId, ctx.envId)));
    // nothing else to ask the server until the agent connects
    ctx.tunnel!.close();
    const dir = ctx.states.dir(ctx.envId);
    // A machine that can delete itself at the TTL (a Lightsail instance) gets the delete-only credential as a secret file.
    const target = ctx.machine.selfDelete;
    const credential = target ? deleteCredential(session.env ?? process.env) : undefined;
    const credentialFile = writeDeleteCredential(dir, credential);
    if (target && !credential && hasTtl(ctx)) {
      ctx.warnings.push(`${target.instanceName} has a TTL but no delete credential (${DELETE_KEY_ID_ENV}...): it is deleted only by \`prevu gc\` or \`down\`, not at its TTL; see the Lightsail driver's self-delete in the docs`);
    }
    const uploaded = await ctx.machine.upload({ ...plan, paths: [...plan.paths, agentKey.file, ...(credentialFile ? [credentialFile] : [])] }, session.signal);
    if (uploaded.filesSent || uploaded.filesUnchanged) report(`${uploaded.filesSent} sent, ${uploaded.filesUnchanged} unchanged`);
    ctx.agent = {
      ...agentSettings(session, ctx.envId, ctx.endpoint, agentKey, uploaded.mapping.get(agentKey.file) ?? agentKey.file),
      ...(ctx.lifecycle ? { lifecycle: ctx.lifecycle } : {}),
      ...(target && credentialFile ? { selfDelete: { ...target, credentialFile: uploaded.mapping.get(credentialFile) ?? credentialFile } } : {}),
    };
    const overlayFile = ctx.writeOverlay();
    if (isIdentity(uploaded.mapping)) {
      // compose reads the user's files as they are (relative paths, .env, profiles intact)
      ctx.composeArgs = ['-p', ctx.project, ...composeFiles(loaded), '-f', overlayFile];
    } else {
      // the resolved model is what the machine gets: resolve it again with the URL variables
      const resolved = await loadComposeProject({ ...ctx.options.source, env: { ...ctx.options.source.env, ...ctx.discovery } }, ctx.project);
      const modelFile = join(dir, 'compose.json');
      writeFileSync(modelFile, JSON.stringify(rewritePaths(resolved.model, uploaded.mapping), null, 2));
      ctx.composeArgs = ['-p', ctx.project, '--project-directory', dir, '-f', modelFile, '-f', overlayFile];
    }
    for (const [name, service] of Object.entries(loaded.model.services)) {
      if (service.build && (!ctx.selected() || ctx.selected()!.includes(name))) ctx.emit('build_registered', name, { context: service.build.context });
    }
  },
};

/** The env has a TTL: as this `up` recorded it (prepareMachine), or the profile's default. */
function hasTtl(ctx: UpContext): boolean {
  return Boolean(ctx.lifecycle?.expiresAt ?? ctx.session.profile.lifecycle?.ttlSeconds);
}
