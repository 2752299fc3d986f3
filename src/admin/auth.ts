import type { CallOptions } from '../connection/call-options.js';
import type { Connection } from '../connection/connection.js';
import { InvalidArgumentError, UnsupportedError } from '../connection/errors.js';
import { type Bytes, EMPTY_BYTES, FROM_KEY_END, prefixEnd, toKey } from '../encoding/bytes.js';
import { longToBigInt } from '../encoding/int64.js';
import { type Permission as RawPermission, Permission_Type } from '../generated/authpb/auth.js';
import { type ResponseHeader, toHeader } from '../kv/key-value.js';
import { Range } from '../kv/range.js';
import { authMethods, maintenanceMethods } from './methods.js';

/** What a permission allows: reads, writes, or both. */
export const PermissionType = { Read: 'read', Write: 'write', ReadWrite: 'readwrite' } as const;
/** One of the {@link PermissionType} values. */
export type PermissionType = (typeof PermissionType)[keyof typeof PermissionType];

/**
 * Which keys a permission covers, derived from its key and range end: one `key`, every key
 * with the key as `prefix`, the keys in `[key, rangeEnd)` (`range`), every key from the key on
 * (`fromKey`), or `all` keys.
 */
export type PermissionScope = 'key' | 'prefix' | 'range' | 'fromKey' | 'all';

/** A permission of a role, as {@link RoleAdmin.get} reports it. */
export interface Permission {
  type: PermissionType;
  /** The key, or the first key of the range. */
  key: Buffer;
  /** The exclusive end of the range; empty for a single key, `"\0"` for every key from `key` on. */
  rangeEnd: Buffer;
  /** The shape of the range, decoded from `key` and `rangeEnd`. */
  scope: PermissionScope;
}

/** A user, as {@link UserAdmin.get} reports it. */
export interface User {
  name: string;
  /** The roles granted to the user. */
  roles: string[];
}

/** A role, as {@link RoleAdmin.get} reports it. */
export interface Role {
  name: string;
  permissions: Permission[];
}

/** Whether auth is on (`etcd.auth.status()`, etcd 3.5+). */
export interface AuthStatus {
  header: ResponseHeader;
  enabled: boolean;
  /** The revision of the auth store (it changes with every user, role or permission change). */
  authRevision: bigint;
}

/** Creates a user that cannot log in with a password (for client-certificate authentication). */
export interface NoPassword {
  noPassword: true;
}

const spec = (source: string, mutation: boolean) => ({ source, mutation }) as const;
const VERSION = { source: 'Maintenance.Status', mutation: false, requireLeader: false } as const;

const permissionTypes: Record<PermissionType, Permission_Type> = {
  read: Permission_Type.READ,
  write: Permission_Type.WRITE,
  readwrite: Permission_Type.READWRITE,
};
const permissionNames: Partial<Record<Permission_Type, PermissionType>> = {
  [Permission_Type.READ]: 'read',
  [Permission_Type.WRITE]: 'write',
  [Permission_Type.READWRITE]: 'readwrite',
};

function name(value: unknown, argument: string, source: string): string {
  if (typeof value !== 'string' || value === '') throw new InvalidArgumentError(argument, 'expected a non-empty string', { source });
  return value;
}

function scopeOf(key: Buffer, rangeEnd: Buffer): PermissionScope {
  if (rangeEnd.length === 0) return 'key';
  if (rangeEnd.equals(FROM_KEY_END)) return key.equals(FROM_KEY_END) ? 'all' : 'fromKey';
  return rangeEnd.equals(prefixEnd(key)) ? 'prefix' : 'range';
}

/** @internal */
export function toPermission(raw: RawPermission): Permission {
  return {
    type: permissionNames[raw.permType] ?? 'read',
    key: raw.key,
    rangeEnd: raw.rangeEnd,
    scope: scopeOf(raw.key, raw.rangeEnd),
  };
}

/** The key and range end a permission target selects: a key, or what a {@link Range} selects. */
function permissionRange(target: unknown, source: string): { key: Buffer; rangeEnd: Buffer } {
  if (target instanceof Range) {
    const { key, rangeEnd } = target.toRequest();
    return { key, rangeEnd };
  }
  return { key: toKey(target, 'target', source), rangeEnd: EMPTY_BYTES };
}

/**
 * Users: add, get, list, delete, change password, grant and revoke roles. Every call needs the
 * `root` role once auth is enabled.
 */
export class UserAdmin {
  /** @internal */
  constructor(private readonly connection: Connection) {}

  /** Adds a user with a password, or with `{ noPassword: true }` a user that can only use client certificates. */
  async add(user: string, password: string | NoPassword, options?: CallOptions): Promise<void> {
    const source = 'Auth.users.add';
    const request = {
      name: name(user, 'user', source),
      password: '',
      options: { noPassword: false },
    };
    if (typeof password === 'string') {
      request.password = name(password, 'password', source);
    } else if (typeof password === 'object' && password !== null && password.noPassword === true) {
      request.options.noPassword = true;
    } else {
      throw new InvalidArgumentError('password', 'expected a non-empty string or { noPassword: true }', { source });
    }
    await this.connection.unary(authMethods.userAdd, request, spec('Auth.UserAdd', true), options);
  }

  /** A user and its roles. */
  async get(user: string, options?: CallOptions): Promise<User> {
    const request = { name: name(user, 'user', 'Auth.users.get') };
    const response = await this.connection.unary(authMethods.userGet, request, spec('Auth.UserGet', false), options);
    return { name: request.name, roles: response.roles };
  }

  /** Every user's name (empty while auth is disabled and no user exists). */
  async list(options?: CallOptions): Promise<string[]> {
    const response = await this.connection.unary(authMethods.userList, {}, spec('Auth.UserList', false), options);
    return response.users;
  }

  /** Deletes a user. */
  async delete(user: string, options?: CallOptions): Promise<void> {
    const request = { name: name(user, 'user', 'Auth.users.delete') };
    await this.connection.unary(authMethods.userDelete, request, spec('Auth.UserDelete', true), options);
  }

  /** Sets a user's password. */
  async changePassword(user: string, password: string, options?: CallOptions): Promise<void> {
    const source = 'Auth.users.changePassword';
    const request = { name: name(user, 'user', source), password: name(password, 'password', source) };
    await this.connection.unary(authMethods.userChangePassword, request, spec('Auth.UserChangePassword', true), options);
  }

  /** Grants a role to a user (`root` is the role that may administer etcd). */
  async grantRole(user: string, role: string, options?: CallOptions): Promise<void> {
    const source = 'Auth.users.grantRole';
    const request = { user: name(user, 'user', source), role: name(role, 'role', source) };
    await this.connection.unary(authMethods.userGrantRole, request, spec('Auth.UserGrantRole', true), options);
  }

  /** Revokes a role from a user. */
  async revokeRole(user: string, role: string, options?: CallOptions): Promise<void> {
    const source = 'Auth.users.revokeRole';
    const request = { name: name(user, 'user', source), role: name(role, 'role', source) };
    await this.connection.unary(authMethods.userRevokeRole, request, spec('Auth.UserRevokeRole', true), options);
  }
}

/** Roles: add, get, list, delete, grant and revoke permissions on a key, a range or a prefix. */
export class RoleAdmin {
  /** @internal */
  constructor(private readonly connection: Connection) {}

  /** Adds a role with no permissions. */
  async add(role: string, options?: CallOptions): Promise<void> {
    const request = { name: name(role, 'role', 'Auth.roles.add') };
    await this.connection.unary(authMethods.roleAdd, request, spec('Auth.RoleAdd', true), options);
  }

  /** A role and its permissions, decoded. */
  async get(role: string, options?: CallOptions): Promise<Role> {
    const request = { role: name(role, 'role', 'Auth.roles.get') };
    const response = await this.connection.unary(authMethods.roleGet, request, spec('Auth.RoleGet', false), options);
    return { name: request.role, permissions: response.perm.map(toPermission) };
  }

  /** Every role's name. */
  async list(options?: CallOptions): Promise<string[]> {
    const response = await this.connection.unary(authMethods.roleList, {}, spec('Auth.RoleList', false), options);
    return response.roles;
  }

  /** Deletes a role (users that had it lose it). */
  async delete(role: string, options?: CallOptions): Promise<void> {
    const request = { role: name(role, 'role', 'Auth.roles.delete') };
    await this.connection.unary(authMethods.roleDelete, request, spec('Auth.RoleDelete', true), options);
  }

  /**
   * Grants `type` access to one key, or to what a {@link Range} selects:
   * `Range.key('app/').withPrefix()`, `Range.key('a').withRange('m')`, `Range.key('a').withFromKey()`,
   * `Range.all()`.
   *
   * @example
   * ```ts
   * await etcd.auth.roles.grantPermission('app', 'readwrite', Range.key('app/').withPrefix());
   * ```
   */
  async grantPermission(role: string, type: PermissionType, target: Bytes | Range, options?: CallOptions): Promise<void> {
    const source = 'Auth.roles.grantPermission';
    const permType = permissionTypes[type];
    if (permType === undefined) {
      throw new InvalidArgumentError('type', `expected 'read', 'write' or 'readwrite', got ${String(type)}`, { source });
    }
    const request = { name: name(role, 'role', source), perm: { permType, ...permissionRange(target, source) } };
    await this.connection.unary(authMethods.roleGrantPermission, request, spec('Auth.RoleGrantPermission', true), options);
  }

  /** Revokes the permission on exactly this key or range (as granted). */
  async revokePermission(role: string, target: Bytes | Range, options?: CallOptions): Promise<void> {
    const source = 'Auth.roles.revokePermission';
    const request = { role: name(role, 'role', source), ...permissionRange(target, source) };
    await this.connection.unary(authMethods.roleRevokePermission, request, spec('Auth.RoleRevokePermission', true), options);
  }
}

/**
 * Auth administration: turning auth on and off, and the users and roles of
 * {@link AuthAdmin.users} and {@link AuthAdmin.roles}.
 *
 * @remarks
 * Enabling needs a `root` user with the `root` role. A client created with credentials logs in
 * by itself once auth is on, even if it was off when the client started.
 */
export class AuthAdmin {
  /** Users. */
  readonly users: UserAdmin;
  /** Roles. */
  readonly roles: RoleAdmin;
  private version: Promise<string> | undefined;

  /** @internal */
  constructor(private readonly connection: Connection) {
    this.users = new UserAdmin(connection);
    this.roles = new RoleAdmin(connection);
  }

  /** Turns auth on; fails unless a `root` user with the `root` role exists. */
  async enable(options?: CallOptions): Promise<void> {
    await this.connection.unary(authMethods.enable, {}, spec('Auth.AuthEnable', true), options);
  }

  /** Turns auth off (needs the `root` role). */
  async disable(options?: CallOptions): Promise<void> {
    await this.connection.unary(authMethods.disable, {}, spec('Auth.AuthDisable', true), options);
  }

  /**
   * Whether auth is enabled, and the auth store's revision.
   *
   * @throws `UnsupportedError` on servers older than 3.5 (which have no such call), decided
   * from the server's version, asked once per client.
   */
  async status(options?: CallOptions): Promise<AuthStatus> {
    const version = await this.serverVersion(options);
    const [major = 0, minor = 0] = version.split('.').map(Number);
    if (major < 3 || (major === 3 && minor < 5)) {
      throw new UnsupportedError(`needs etcd 3.5 or later; the server runs ${version}`, { source: 'Auth.AuthStatus' });
    }
    const response = await this.connection.unary(authMethods.status, {}, spec('Auth.AuthStatus', false), options);
    return { header: toHeader(response.header), enabled: response.enabled, authRevision: longToBigInt(response.authRevision) };
  }

  private serverVersion(options: CallOptions | undefined): Promise<string> {
    this.version ??= this.connection.unary(maintenanceMethods.status, {}, VERSION, options).then(
      (status) => status.version,
      (error: unknown) => {
        this.version = undefined;
        throw error;
      },
    );
    return this.version;
  }
}
