// One profile for the laptop and CI (issue 22), end to end: real Docker, the real CLI in two
// homes ("machines") sharing one S3 store (s3rver behind test-kit's conditional-write and IAM
// layer, reached by the real @aws-sdk/client-s3). The laptop makes the profile with --store;
// CI deploys through `prevu github action` with `profile: s3://...`; the laptop lists CI's env
// with the same fields and removes it; a refused IAM action is named in one line.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpGet, startS3StandIn, uniqueName, useKit, type S3StandIn } from '@prevu/test-kit';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliHome, embeddedCliHome, errorLines, helloCopy, projectLeftovers, type CliHome } from './cli.js';

const kit = useKit();
const BUCKET = 'prevu-team';
const STORE = `s3://${BUCKET}/${uniqueName('previews')}`;
const project = uniqueName('hello');
const envId = uniqueName('pr-');
let s3: S3StandIn;
let laptop: CliHome;
let ci: CliHome;
let accountKey: string;

interface Listing {
  envs: Record<string, unknown>[];
}

beforeAll(async () => {
  s3 = await startS3StandIn(kit, { buckets: [BUCKET] });
  // one Docker engine and one embedded tunnel server, two config folders
  laptop = await embeddedCliHome(kit);
  const { HOME: _home, XDG_CONFIG_HOME: _config, ...shared } = laptop.env;
  Object.assign(laptop.env, s3.env);
  ci = cliHome(kit, { ...shared, ...s3.env });
});

describe('a profile shared through S3 by the laptop and CI', () => {
  it('the laptop makes it with init --store; the store never holds the private key', async () => {
    const init = await laptop.run(['init', '--name', 'team', '--store', STORE]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`shared through ${STORE}: give CI and other machines the key above as a secret (PREVU_ACCOUNT_KEY); the store never holds it`);
    accountKey = readFileSync(join(laptop.env.XDG_CONFIG_HOME!, 'prevu', 'profiles', 'team', 'id_ed25519'), 'utf8');
    const again = await laptop.run(['init', '--name', 'team2', '--store', STORE]);
    expect([again.code, errorLines(again.stderr)]).toEqual([1, [`prevu: ${STORE} already holds a profile: use it with \`prevu profile import ${STORE}\`, or choose another prefix`]]);
    expect((await laptop.run(['profile', 'ls', '--json'])).stdout).not.toContain('team2'); // nothing half-made is left
  });

  it('CI deploys with the Action and `profile: s3://...`; the laptop lists the env with the fields CI lists', async () => {
    const dir = helloCopy(kit, project, 'main');
    kit.defer(`prevu down ${envId}`, () => laptop.run(['down', '--id', envId]));
    const action = await ci.run(['github', 'action'], {
      cwd: dir,
      env: { INPUT_COMMAND: 'up', INPUT_PROFILE: STORE, INPUT_ACCOUNT_KEY: accountKey, INPUT_ID: envId, INPUT_COMMENT: 'false', INPUT_STATUS: 'none', GITHUB_OUTPUT: join(ci.env.HOME!, 'output') },
    });
    expect(action.code, action.stderr).toBe(0);
    expect(`${action.stdout}${action.stderr}`).not.toContain('PRIVATE KEY');
    const outputs = readFileSync(join(ci.env.HOME!, 'output'), 'utf8');
    const url = /https?:\/\/web-[^"\s]+/.exec(outputs)?.[0];
    expect(url).toBeDefined();
    expect((await httpGet(url!)).status).toBe(200);

    const onCi = JSON.parse((await ci.run(['ls', '--json', '--profile', 'team'])).stdout) as Listing;
    const onLaptop = JSON.parse((await laptop.run(['ls', '--json'])).stdout) as Listing;
    expect(onLaptop.envs).toEqual([expect.objectContaining({ envId, profile: 'team', driver: 'local', status: 'up', dir, services: '2/2 running' })]);
    // the same fields, read a moment apart: only what counts seconds from now may differ
    const atRest = (envs: Listing['envs']) => envs.map(({ ageSeconds: _age, ttlLeftSeconds: _left, ...rest }) => rest);
    expect(atRest(onLaptop.envs)).toEqual(atRest(onCi.envs));
  });

  it('a refused IAM action is named with the bucket, in one line', async () => {
    s3.deny.add('s3:ListBucket');
    try {
      const ls = await laptop.run(['ls']);
      expect([ls.code, errorLines(ls.stderr)]).toEqual([1, [`prevu: S3 denied s3:ListBucket on bucket ${BUCKET}: allow s3:ListBucket on arn:aws:s3:::${BUCKET} in the IAM policy of these credentials`]]);
    } finally {
      s3.deny.delete('s3:ListBucket');
    }
  });

  it('the laptop removes CI\'s env: containers gone, CI lists nothing', async () => {
    const down = await laptop.run(['down', '--id', envId]);
    expect(down.code, down.stderr).toBe(0);
    expect(await projectLeftovers(`prevu-${envId}`)).toEqual([]);
    const onCi = JSON.parse((await ci.run(['ls', '--json', '--profile', 'team'])).stdout) as Listing;
    expect(onCi.envs).toEqual([]);
    expect(s3.calls.filter((c) => c.action === 's3:DeleteObject' && c.key.endsWith(`${envId}/state.json`)).map((c) => [c.condition?.split(':')[0], c.status])).toEqual([['If-Match', 204]]);
  });
});
