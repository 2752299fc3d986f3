/**
 * etcd.auth against a real 3-node cluster: users and roles round-trip (add, get, list, grant,
 * revoke, change password, delete), permissions on a key, a prefix, a range and from a key,
 * enable and disable, and status() refused on 3.4 from the server's version (asked once).
 */
import { describe, expect, it } from 'vitest';
import {
  AuthFailedError,
  type Etcd,
  type EtcdOptions,
  InvalidArgumentError,
  PermissionDeniedError,
  Range,
  ServerRejectedError,
  UnsupportedError,
} from 'etcdkit';
import { rejectionOf } from '../helpers/etcd.js';
import { useCluster } from './support.js';

const env = useCluster();
const client = (options?: EtcdOptions): Etcd => env.client(options);

const ROOT = { username: 'root', password: 'root-secret' };

describe('auth administration', () => {
  it('rejects bad input before sending anything', async () => {
    const etcd = client();
    for (const call of [
      () => etcd.auth.users.add('', 'pw'),
      () => etcd.auth.users.add('bob', ''),
      () => etcd.auth.users.add('bob', { noPassword: false } as unknown as { noPassword: true }),
      () => etcd.auth.users.grantRole('bob', ''),
      () => etcd.auth.roles.add(''),
      () => etcd.auth.roles.grantPermission('app', 'all' as 'read', 'k'),
      () => etcd.auth.roles.grantPermission('app', 'read', ''),
      () => etcd.auth.roles.revokePermission('app', 42 as unknown as string),
    ]) {
      expect(await rejectionOf(call)).toBeInstanceOf(InvalidArgumentError);
    }
  });

  it('users, roles and permissions round-trip; enable, use, revoke, disable', async () => {
    const statusCalls: string[] = [];
    // The admin client has root's credentials from the start, while auth is still off.
    const admin = client({ auth: ROOT, hooks: { onCallStart: (e) => statusCalls.push(e.method) } });
    const { auth } = admin;
    expect(await auth.users.list()).toEqual([]);
    expect(await auth.roles.list()).toEqual([]);

    await auth.users.add(ROOT.username, ROOT.password);
    await auth.users.grantRole('root', 'root');
    await auth.users.add('alice', 'alice-1');
    await auth.users.add('device', { noPassword: true });
    expect(await rejectionOf(() => auth.users.add('alice', 'again'))).toBeInstanceOf(ServerRejectedError);
    expect((await auth.users.list()).sort()).toEqual(['alice', 'device', 'root']);
    expect(await auth.users.get('device')).toEqual({ name: 'device', roles: [] });

    await auth.roles.add('app');
    await auth.roles.grantPermission('app', 'readwrite', Range.key('app/').withPrefix());
    await auth.roles.grantPermission('app', 'read', 'config');
    await auth.roles.grantPermission('app', 'write', Range.key('logs/a').withRange('logs/m'));
    await auth.roles.grantPermission('app', 'read', Range.key('zz').withFromKey());
    const role = await auth.roles.get('app');
    expect(role.name).toBe('app');
    const decoded = role.permissions
      .map((p) => ({ type: p.type, key: p.key.toString(), rangeEnd: p.rangeEnd.toString(), scope: p.scope }))
      .sort((a, b) => a.key.localeCompare(b.key));
    expect(decoded).toEqual([
      { type: 'readwrite', key: 'app/', rangeEnd: 'app0', scope: 'prefix' },
      { type: 'read', key: 'config', rangeEnd: '', scope: 'key' },
      { type: 'write', key: 'logs/a', rangeEnd: 'logs/m', scope: 'range' },
      { type: 'read', key: 'zz', rangeEnd: '\0', scope: 'fromKey' },
    ]);
    expect((await auth.roles.list()).sort()).toContain('app');
    await auth.users.grantRole('alice', 'app');
    expect(await auth.users.get('alice')).toEqual({ name: 'alice', roles: ['app'] });

    await auth.enable();
    // The admin client logs in by itself now that auth is on.
    await admin.put('app/by-root', 'r');
    const alice = client({ auth: { username: 'alice', password: 'alice-1' } });
    await alice.put('app/a', '1');
    expect((await alice.get('config'))).toBeUndefined();
    expect(await rejectionOf(() => alice.put('config', 'x'))).toBeInstanceOf(PermissionDeniedError);
    expect(await rejectionOf(() => alice.put('elsewhere', 'x'))).toBeInstanceOf(PermissionDeniedError);
    await alice.put('logs/b', 'w');
    expect(await rejectionOf(() => alice.get('logs/b'))).toBeInstanceOf(PermissionDeniedError);
    expect(await rejectionOf(() => client().get('app/a'))).toBeInstanceOf(AuthFailedError);

    await auth.users.changePassword('alice', 'alice-2');
    expect(await rejectionOf(() => client({ auth: { username: 'alice', password: 'alice-1' } }).get('app/a'))).toBeInstanceOf(
      AuthFailedError,
    );
    expect((await client({ auth: { username: 'alice', password: 'alice-2' } }).get('app/a'))?.text()).toBe('1');

    await auth.roles.revokePermission('app', Range.key('app/').withPrefix());
    expect((await auth.roles.get('app')).permissions.map((p) => p.scope).sort()).toEqual(['fromKey', 'key', 'range']);
    const aliceNow = client({ auth: { username: 'alice', password: 'alice-2' } });
    expect(await rejectionOf(() => aliceNow.put('app/a', '2'))).toBeInstanceOf(PermissionDeniedError);
    await auth.users.revokeRole('alice', 'app');
    expect((await auth.users.get('alice')).roles).toEqual([]);

    // status() is etcd 3.5+: refused on 3.4, from the server version, which is asked once.
    const before = statusCalls.filter((method) => method === 'Maintenance.Status').length;
    for (let i = 0; i < 2; i++) {
      const error = await rejectionOf(() => auth.status());
      expect(error).toBeInstanceOf(UnsupportedError);
      expect((error as UnsupportedError).message).toMatch(/3\.5.*3\.4\.\d+/);
    }
    expect(statusCalls.filter((method) => method === 'Maintenance.Status').length - before).toBe(1);

    await auth.users.delete('device');
    await auth.roles.delete('app');
    expect((await auth.users.list()).sort()).toEqual(['alice', 'root']);
    expect(await auth.roles.list()).not.toContain('app');

    await auth.disable();
    expect((await client().get('app/a'))?.text()).toBe('1');
  }, 30_000);
});
