// A TCP proxy a test can stop and start, reset or stall, to make a server unreachable, cut or silent.
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** Closes the listener and destroys every connection: the server is unreachable (connection refused). */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
  /** Open connections and new ones stay up but carry nothing either way: a partition without resets. */
  stall(): void;
  /** Every open connection and each new one is reset (TCP RST). */
  reset(): void;
  /** Back to forwarding for new connections (stalled ones stay stalled, reset ones are gone). */
  forward(): void;
  /** New connections are forwarded only after `ms` (a server slow to accept, as on a loaded machine); open ones are untouched. */
  delayNewConnections(ms: number): void;
}

type Mode = 'forward' | 'stall' | 'reset';

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  let mode: Mode = 'forward';
  let connectDelayMs = 0;
  const delayed = new Set<NodeJS.Timeout>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const stallAll = () => {
    for (const socket of sockets) {
      socket.unpipe();
      socket.pause();
    }
  };
  const onClient = (client: net.Socket) => {
    track(client);
    if (mode === 'reset') return void client.resetAndDestroy();
    if (mode === 'stall') return void client.pause();
    const connect = () => {
      const upstream = net.connect(targetPort, targetHost);
      track(upstream);
      client.pipe(upstream).pipe(client);
    };
    if (connectDelayMs === 0) {
      connect();
      return;
    }
    const timer = setTimeout(() => {
      delayed.delete(timer);
      if (!client.destroyed) connect();
    }, connectDelayMs);
    delayed.add(timer);
  };
  const start = () =>
    new Promise<void>((resolve) => {
      server = net.createServer(onClient);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const timer of delayed) clearTimeout(timer);
      delayed.clear();
      for (const socket of sockets) socket.destroy();
      server?.close(() => { resolve(); });
    });
  await start();
  return {
    get port() {
      return port;
    },
    start,
    stop,
    close: stop,
    stall() {
      mode = 'stall';
      stallAll();
    },
    reset() {
      mode = 'reset';
      for (const socket of sockets) socket.resetAndDestroy();
    },
    forward() {
      mode = 'forward';
    },
    delayNewConnections(ms) {
      connectDelayMs = ms;
    },
  };
}

/** A proxy in front of the PostgreSQL server of `databaseUrl`, and the same URL through it (port replaced). */
export async function proxyDatabase(databaseUrl: string): Promise<{ proxy: TcpProxy; url: string }> {
  const target = new URL(databaseUrl);
  const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
  const viaProxy = new URL(databaseUrl);
  viaProxy.port = String(proxy.port);
  return { proxy, url: viaProxy.toString() };
}
