import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EtcdError, UnavailableError } from 'etcdkit';
import { rejectionOf, useEtcd } from './helpers/etcd.js';

const file = (name: string) => fileURLToPath(new URL(`./fixtures/tls/${name}`, import.meta.url));
const pem = (name: string) => readFileSync(file(name));

const etcd = useEtcd({
  tls: {
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    caFile: file('ca.crt'),
    clientCertAuth: true,
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
  },
});

describe('TLS', () => {
  it('talks to a server that requires client certificates', async () => {
    const client = etcd.client({
      endpoints: [`https://${etcd.server.endpoint}`],
      tls: { ca: pem('ca.crt'), cert: pem('client.crt'), key: pem('client.key') },
    });
    const key = `${etcd.prefix()}secure`;
    await client.put(key, 'v');
    expect((await client.get(key))?.text()).toBe('v');
  });

  it('a client without a certificate is refused with a typed error within its deadline', async () => {
    const client = etcd.client({ endpoints: [`https://${etcd.server.endpoint}`], tls: { ca: pem('ca.crt') }, timeoutMs: 3_000 });
    const started = Date.now();
    const error = await rejectionOf(() => client.get('k'));
    expect(error).toBeInstanceOf(EtcdError);
    expect(Date.now() - started).toBeLessThan(3_500);
  });

  it('a server certificate the client does not trust is refused with a typed error', async () => {
    const client = etcd.client({ endpoints: [`https://${etcd.server.endpoint}`], timeoutMs: 3_000 });
    const error = await rejectionOf(() => client.get('k'));
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as EtcdError).serverMessage).toMatch(/certificate/i);
  });
});
