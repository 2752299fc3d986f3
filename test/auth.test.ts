import { beforeAll, describe, expect, it } from 'vitest';
import { AuthFailedError, type EtcdError, PermissionDeniedError } from 'etcdkit';
import { rejectionOf, useEtcd } from './helpers/etcd.js';

// Simple tokens expire after 3 s idle (RELIABILITY 6.2 "token idle > --auth-token-ttl").
const etcd = useEtcd({ extraArgs: ['--auth-token-ttl', '3'] });
const ROOT = { username: 'root', password: 'root-pw' };
const ALICE = { username: 'alice', password: 'alice-pw' };
const b64 = (text: string) => Buffer.from(text).toString('base64');

async function gateway(path: string, body: unknown, token?: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${etcd.server.clientUrl}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: token ? { Authorization: token } : {},
  });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`${path}: ${JSON.stringify(json)}`);
  return json;
}

/** Authenticate RPCs the server has handled so far. */
async function authenticateCalls(): Promise<number> {
  let total = 0;
  for (const [sample, value] of await etcd.server.metrics()) {
    if (sample.startsWith('grpc_server_handled_total{') && sample.includes('grpc_method="Authenticate"')) total += value;
  }
  return total;
}

beforeAll(async () => {
  await gateway('/v3/auth/role/add', { name: 'root' });
  await gateway('/v3/auth/user/add', { name: ROOT.username, password: ROOT.password });
  await gateway('/v3/auth/user/grant', { user: ROOT.username, role: 'root' });
  await gateway('/v3/auth/role/add', { name: 'app' });
  await gateway('/v3/auth/role/grant', {
    name: 'app',
    perm: { permType: 'READWRITE', key: b64('app/'), range_end: b64('app0') },
  });
  await gateway('/v3/auth/user/add', { name: ALICE.username, password: ALICE.password });
  await gateway('/v3/auth/user/grant', { user: ALICE.username, role: 'app' });
  await gateway('/v3/auth/enable', {});
});

describe('authentication', () => {
  it('logs in once and sends the token with every call', async () => {
    const before = await authenticateCalls();
    const client = etcd.client({ auth: ROOT });
    await Promise.all(Array.from({ length: 10 }, (_, i) => client.put(`auth/k${i}`, 'v')));
    expect((await client.get('auth/k3'))?.text()).toBe('v');
    expect((await authenticateCalls()) - before).toBe(1);
  });

  it('re-authenticates transparently once the idle token has expired', async () => {
    const client = etcd.client({ auth: ROOT });
    await client.put('auth/refresh', '1');
    const before = await authenticateCalls();
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    await client.put('auth/refresh', '2');
    expect((await client.get('auth/refresh'))?.text()).toBe('2');
    expect((await authenticateCalls()) - before).toBe(1);
  });

  it('wrong credentials fail with AuthFailedError after exactly one Authenticate, and never loop', async () => {
    const client = etcd.client({ auth: { username: 'root', password: 'wrong' } });
    const before = await authenticateCalls();
    const error = await rejectionOf(() => client.get('auth/k0'));
    expect(error).toBeInstanceOf(AuthFailedError);
    expect((error as EtcdError).retryable).toBe(false);
    expect((await authenticateCalls()) - before).toBe(1);
    // A second call tries once more, still exactly one Authenticate.
    await rejectionOf(() => client.get('auth/k0'));
    expect((await authenticateCalls()) - before).toBe(2);
  });

  it('a call without credentials is refused with AuthFailedError (user name is empty)', async () => {
    const client = etcd.client();
    expect(await rejectionOf(() => client.get('auth/k0'))).toBeInstanceOf(AuthFailedError);
  });

  it('uses a preset token as given', async () => {
    const { token } = (await gateway('/v3/auth/authenticate', { name: ROOT.username, password: ROOT.password })) as { token: string };
    const client = etcd.client({ authToken: token });
    await client.put('auth/preset', 'ok');
    expect((await client.get('auth/preset'))?.text()).toBe('ok');
  });

  it('reports writes outside the role as PermissionDeniedError, and allows those inside', async () => {
    const client = etcd.client({ auth: ALICE });
    await client.put('app/x', '1');
    const error = await rejectionOf(() => client.put('other/x', '1'));
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect((error as EtcdError).maybeApplied).toBe(false);
    const view = client.namespace('app/');
    expect((await view.get('x'))?.text()).toBe('1');
  });
});
