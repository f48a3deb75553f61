// What `share` and `urls --share` both take and print: one meaning, one wording.
import { Flags } from '@oclif/core';
import type { ShareLink } from '@prevu/core/envs/share';

export const shareTtl = { description: 'hours the link stays valid [default: 24]', min: 1, max: 168 } as const;

export const sharePassword = Flags.string({
  description: 'on a private profile: the link also asks for this password (8+ characters; the browser prompts for it once); the environment variable keeps it out of shell history',
  env: 'PREVU_SHARE_PASSWORD',
});

export function describeShare(link: ShareLink): string[] {
  const who = link.password ? 'they open it with the password' : 'anyone holding it can open it';
  return [`Share link ${link.id} (valid until ${link.expiresAt}; ${who}; \`prevu share rm ${link.id}\` revokes it):`, ...link.urls.map((s) => `${s.service}:${s.port}  ${s.share}`)];
}
