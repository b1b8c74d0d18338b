/**
 * The few Bun, Deno and Workers globals that examples/runtimes/ and bench/runtimes/ use, declared by hand: the type
 * check runs under @types/node, and a whole @types/bun or Deno's lib for five names would bring their conflicting
 * declarations of the Node globals.
 */
declare const Bun: {
  readonly version: string;
  serve(options: { fetch: (request: Request) => Response | Promise<Response>; hostname?: string; port?: number }): {
    readonly port: number;
    stop(closeActiveConnections?: boolean): Promise<void>;
  };
};

declare const Deno: {
  readonly version: { readonly deno: string };
  readonly env: { get(name: string): string | undefined; toObject(): Record<string, string> };
  serve(
    options: { hostname?: string; port?: number; onListen?: (address: { hostname: string; port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: 'SIGTERM' | 'SIGINT', handler: () => void): void;
  exit(code?: number): never;
};

/** Node 21+, Bun, Deno and workerd have it; Node 20 does not, hence optional. */
declare const navigator: { readonly userAgent: string } | undefined;
