import type { Socket } from 'node:net';

/** What the proxy child is started with. @internal */
export interface FaultProxyChildConfig {
  targetHost: string;
  targetPort: number;
  /** 0 picks a free port. */
  listenPort: number;
  delayMs: number;
}

/**
 * The fault proxy's child program. It is sent to `node -e` as source text
 * (`faultProxyMain.toString()`), so it must stay self-contained: no references to anything
 * outside its own body, and modules only through `req`.
 *
 * @remarks It prints `{"listenPort":…,"controlPort":…}` as one line on stdout once both ports
 * listen. The control port answers `POST /mode?mode=…`, `POST /delay?ms=…`,
 * `POST /block-senders?ids=…` and `GET /stats`, each with the stats as JSON after the change
 * is applied. It exits when stdin ends, that is
 * when its parent dies.
 * @internal
 */
export function faultProxyMain(req: NodeJS.Require, config: FaultProxyChildConfig): void {
  const net = req('node:net') as typeof import('node:net');
  const http = req('node:http') as typeof import('node:http');

  interface Pair {
    client: Socket;
    upstream: Socket | undefined;
    closed: boolean;
    /** The etcd member that opened the connection, from its `X-Server-From` header. */
    sender: string | undefined;
    /** The start of what the client sent, scanned for that header. */
    head: string;
  }

  let mode = 'normal';
  let delayMs = config.delayMs;
  /** Member IDs (hex) whose connections are dropped: a peer partition. */
  let blockedSenders: string[] = [];
  const SENDER = /x-server-from:[ \t]*([0-9a-f]+)/i;
  const pairs = new Set<Pair>();
  const counters = {
    accepted: 0,
    refused: 0,
    blocked: 0,
    bytesFromClient: 0,
    bytesToServer: 0,
    bytesFromServer: 0,
    bytesToClient: 0,
  };

  const closePair = (pair: Pair): void => {
    if (pair.closed) return;
    pair.closed = true;
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const forward = (pair: Pair, from: Socket, to: Socket, upward: boolean): void => {
    // Delayed chunks keep their order even when the delay shrinks meanwhile.
    let releaseAt = 0;
    from.on('data', (chunk: Buffer) => {
      if (upward) counters.bytesFromClient += chunk.length;
      else counters.bytesFromServer += chunk.length;
      if (upward && pair.sender === undefined && pair.head.length < 8_192) {
        pair.head += chunk.toString('latin1');
        pair.sender = SENDER.exec(pair.head)?.[1]?.toLowerCase();
      }
      if (pair.sender !== undefined && blockedSenders.includes(pair.sender)) {
        counters.blocked++;
        closePair(pair);
        return;
      }
      if (mode === 'blackhole') return;
      const send = (): void => {
        if (pair.closed) return;
        if (upward) counters.bytesToServer += chunk.length;
        else counters.bytesToClient += chunk.length;
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => {
            if (mode !== 'freeze') from.resume();
          });
        }
      };
      const now = Date.now();
      if (delayMs <= 0 && releaseAt <= now) {
        send();
        return;
      }
      releaseAt = Math.max(now + delayMs, releaseAt);
      setTimeout(send, releaseAt - now);
    });
  };

  const applyFlow = (pair: Pair): void => {
    const sockets = pair.upstream ? [pair.client, pair.upstream] : [pair.client];
    for (const socket of sockets) {
      if (mode === 'freeze') socket.pause();
      else socket.resume();
    }
  };

  const dial = (pair: Pair): void => {
    const upstream = net.connect({ host: config.targetHost, port: config.targetPort });
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('error', () => closePair(pair));
    upstream.on('close', () => closePair(pair));
    forward(pair, pair.client, upstream, true);
    forward(pair, upstream, pair.client, false);
    applyFlow(pair);
  };

  const proxy = net.createServer((client) => {
    counters.accepted++;
    if (mode === 'refuse') {
      counters.refused++;
      client.resetAndDestroy();
      return;
    }
    client.setNoDelay(true);
    const pair: Pair = { client, upstream: undefined, closed: false, sender: undefined, head: '' };
    pairs.add(pair);
    client.on('error', () => closePair(pair));
    client.on('close', () => closePair(pair));
    if (mode === 'hold') client.pause();
    else dial(pair);
  });

  const cutAll = (): void => {
    for (const pair of [...pairs]) closePair(pair);
  };

  const setMode = (next: string): void => {
    if (next === 'cut') {
      cutAll();
      mode = 'normal';
      return;
    }
    if (next === 'refuse') cutAll();
    mode = next;
    for (const pair of pairs) {
      if (pair.upstream === undefined) {
        if (mode !== 'hold') dial(pair);
      } else {
        applyFlow(pair);
      }
    }
  };

  const stats = (): string => {
    let held = 0;
    for (const pair of pairs) if (pair.upstream === undefined) held++;
    return JSON.stringify({ mode, delayMs, live: pairs.size, held, blockedSenders, ...counters });
  };

  const modes = ['normal', 'cut', 'refuse', 'hold', 'freeze', 'blackhole'];
  const control = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://control');
    let error = '';
    if (url.pathname === '/mode') {
      const next = url.searchParams.get('mode') ?? '';
      if (modes.includes(next)) setMode(next);
      else error = `unknown mode ${next}`;
    } else if (url.pathname === '/delay') {
      const ms = Number(url.searchParams.get('ms'));
      if (Number.isFinite(ms) && ms >= 0) delayMs = ms;
      else error = 'ms must be a non-negative number';
    } else if (url.pathname === '/block-senders') {
      blockedSenders = (url.searchParams.get('ids') ?? '').split(',').filter((id) => id !== '').map((id) => id.toLowerCase());
      for (const pair of [...pairs]) {
        if (pair.sender !== undefined && blockedSenders.includes(pair.sender)) {
          counters.blocked++;
          closePair(pair);
        }
      }
    } else if (url.pathname !== '/stats') {
      error = `unknown path ${url.pathname}`;
    }
    request.resume();
    response.writeHead(error ? 400 : 200, { 'content-type': 'application/json', connection: 'close' });
    response.end(error ? JSON.stringify({ error }) : stats());
  });

  const fail = (err: Error): void => {
    process.stderr.write(`fault proxy: ${err.message}\n`);
    process.exit(1);
  };
  proxy.on('error', fail);
  control.on('error', fail);

  const portOf = (server: import('node:net').Server): number => {
    const address = server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  };
  proxy.listen(config.listenPort, '127.0.0.1', () => {
    control.listen(0, '127.0.0.1', () => {
      process.stdout.write(`${JSON.stringify({ listenPort: portOf(proxy), controlPort: portOf(control) })}\n`);
    });
  });

  // Stdin is a pipe from the parent: its end means the parent is gone.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  const parentPid = process.ppid;
  setInterval(() => {
    if (process.ppid !== parentPid) process.exit(0);
  }, 500);
}
