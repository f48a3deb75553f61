// The AWS SDK's Lightsail client, alone: bundled as dist/aws-lightsail.mjs beside the agent and
// imported only when an env deletes its own instance (lightsail-self-delete.ts), so the agent's
// start (and its 60 MB RSS budget) never loads it.
export { DeleteInstanceCommand, LightsailClient } from '@aws-sdk/client-lightsail';
