/**
 * The NestJS 11 adapter (Express platform, Nest's default).
 *
 * ```ts
 * @Module({ imports: [RestJwtModule.forRoot({ restjwt, prefix: '/api/' })], controllers: [ProtectedController] })
 * class AppModule {}
 *
 * @Controller('api')
 * class ProtectedController {
 *   @Get('protected') @UseGuards(AuthGuard)
 *   hello(@CurrentUser() user: UserRecord) { return { message: 'Hello, authenticated user!' }; }
 * }
 * ```
 *
 * Written without emitted decorator metadata: every injection names its token (`@Inject(RESTJWT)`), so it works
 * whatever the application's compiler emits.
 */
import 'reflect-metadata';
import {
  Catch,
  HttpException,
  Inject,
  Module,
  SetMetadata,
  createParamDecorator,
  mixin,
  type ArgumentsHost,
  type CanActivate,
  type DynamicModule,
  type ExceptionFilter,
  type ExecutionContext,
  type FactoryProvider,
  type ModuleMetadata,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_FILTER, HttpAdapterHost, Reflector } from '@nestjs/core';
import type { Subscription } from 'rxjs';
import { accessPolicy, type Authentication, type CoreResponse, type GuardArgs, type Permission, type RestJwt, type UserRecord } from '@restjwt/core';
import { headerRecord, nodeHeaderMap, responseText, outgoingHeaders, type HeaderInput, type HeaderMap, type NodeHeaders } from '@restjwt/core/adapter-kit';
import { tokenMiddleware } from '@restjwt/core/node';

/** Injection token of the `RestJwt` service (`@Inject(RESTJWT) restjwt: RestJwt`). */
export const RESTJWT = Symbol('restjwt:RestJwt');
/** Injection token of the module's options. */
export const RESTJWT_OPTIONS = Symbol('restjwt:options');
const TOKEN_ENDPOINTS = Symbol('restjwt:token-endpoints');
const PERMISSIONS = 'restjwt:permissions';

export interface RestJwtModuleOptions {
  /** The service built by `createRestJwt`. */
  restjwt: RestJwt;
  /**
   * Where the token endpoints go. Default: the service's own (`createRestJwt({ prefix })`, `/api/` unless set: so
   * `/api/token/`, `/api/token/refresh/`, …). Another one only without cookie mode: see `RestJwt.routes`.
   */
  prefix?: string;
}

export interface RestJwtModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  useFactory: FactoryProvider<RestJwtModuleOptions | Promise<RestJwtModuleOptions>>['useFactory'];
  inject?: FactoryProvider['inject'];
}

/** The request as the guard leaves it: `req.auth` is the authentication (null when anonymous). */
export interface RestJwtRequest<U = UserRecord> {
  headers: HeaderInput;
  /** Node's raw header lines (Express platform): how the guard sees a repeated auth header that `headers` dropped. */
  rawHeaders?: readonly string[];
  method?: string;
  auth?: Authentication<U> | null;
}

/** A refusal by the core (401 with `WWW-Authenticate`, 403, 503), carrying the core's whole answer. */
export class RestJwtException extends HttpException {
  constructor(readonly answer: CoreResponse) {
    super(answer.body as Record<string, unknown>, answer.status);
  }
}

/** Writes a `RestJwtException` as the core rendered it: status, headers (`WWW-Authenticate`…) and body. */
@Catch(RestJwtException)
export class RestJwtExceptionFilter implements ExceptionFilter<RestJwtException> {
  constructor(@Inject(HttpAdapterHost) private readonly host: HttpAdapterHost) {}

  catch(exception: RestJwtException, context: ArgumentsHost): void {
    const res: unknown = context.switchToHttp().getResponse();
    const adapter = this.host.httpAdapter;
    for (const [name, value] of Object.entries(outgoingHeaders(exception.answer))) adapter.setHeader(res, name, value as string);
    adapter.reply(res, responseText(exception.answer), exception.answer.status);
  }
}

/**
 * The token endpoints are answered by a middleware put on the HTTP adapter as soon as it exists, that is before
 * Nest's body parsers: the core must read the raw body. (So Nest middleware, guards and `enableCors()` do not run
 * on these paths; Nest's global prefix does not apply to them either: `prefix` is the whole path.)
 */
function mountTokenEndpoints(host: HttpAdapterHost, options: RestJwtModuleOptions): Subscription {
  // Built here, so that a prefix `routes` refuses fails the module's creation rather than a later callback.
  const middleware = tokenMiddleware(options.restjwt, options.prefix);
  return host.init$.subscribe(() => host.httpAdapter.use(middleware));
}

/**
 * `RestJwtModule.forRoot({ restjwt, prefix })`: mounts the token endpoints, provides `RESTJWT` to every module
 * (global) and renders the guards' refusals in the core's words.
 */
@Module({})
export class RestJwtModule {
  static forRoot(options: RestJwtModuleOptions): DynamicModule {
    return RestJwtModule.with({ provide: RESTJWT_OPTIONS, useValue: options });
  }

  /** The same, with options from other providers: `{ imports: [ConfigModule], inject: [ConfigService], useFactory }`. */
  static forRootAsync(options: RestJwtModuleAsyncOptions): DynamicModule {
    return {
      ...RestJwtModule.with({ provide: RESTJWT_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] }),
      imports: options.imports ?? [],
    };
  }

  private static with(optionsProvider: Provider): DynamicModule {
    return {
      module: RestJwtModule,
      global: true,
      providers: [
        optionsProvider,
        { provide: RESTJWT, useFactory: (o: RestJwtModuleOptions) => o.restjwt, inject: [RESTJWT_OPTIONS] },
        { provide: TOKEN_ENDPOINTS, useFactory: mountTokenEndpoints, inject: [HttpAdapterHost, RESTJWT_OPTIONS] },
        { provide: APP_FILTER, useClass: RestJwtExceptionFilter },
      ],
      exports: [RESTJWT, RESTJWT_OPTIONS],
    };
  }
}

/** Replaces the guard's permissions on a handler or a controller: `@Permissions(isStaff)`. */
export const Permissions = <U = UserRecord>(...permissions: Permission<U>[]) => SetMetadata(PERMISSIONS, permissions);

/**
 * A guard class: authenticates (`req.auth`), then applies the permissions, refusing with the core's 401/403.
 * Takes what every adapter's `guard` takes: `createAuthGuard()`, `createAuthGuard(isStaff)`,
 * `createAuthGuard({ stateless: true })`, `createAuthGuard({ permissions: [] })` (authenticate only).
 * `@Permissions(...)` on the route overrides the permissions.
 */
export function createAuthGuard<S extends boolean = false>(...args: GuardArgs<S>): Type<CanActivate> {
  const defaults = accessPolicy(args);
  class RestJwtAuthGuard implements CanActivate {
    constructor(
      @Inject(RESTJWT) private readonly restjwt: RestJwt,
      @Inject(Reflector) private readonly reflector: Reflector,
    ) {}

    async canActivate(context: ExecutionContext): Promise<boolean> {
      const permissions = this.reflector.getAllAndOverride<typeof defaults.permissions | undefined>(PERMISSIONS, [context.getHandler(), context.getClass()]);
      const req = context.switchToHttp().getRequest<RestJwtRequest<unknown>>();
      const result = await this.restjwt.authorize(guardHeaders(req, this.restjwt), permissions === undefined ? defaults : { ...defaults, permissions }, req.method);
      if (result.response !== undefined) throw new RestJwtException(result.response);
      req.auth = result.auth;
      return true;
    }
  }
  return mixin(RestJwtAuthGuard);
}

/** Node's headers as they are, with every copy of the auth header (Express platform); any other request's, normalised. */
function guardHeaders(req: RestJwtRequest<unknown>, restjwt: RestJwt): HeaderMap {
  // With rawHeaders, `headers` is Node's IncomingMessage object (a plain record), not an iterable of pairs.
  if (req.rawHeaders !== undefined) return nodeHeaderMap(req.headers as NodeHeaders, req.rawHeaders, restjwt.settings.authHeaderName);
  return headerRecord(req.headers);
}

/** DRF's IsAuthenticated with JWTAuthentication: `@UseGuards(AuthGuard)`. */
export const AuthGuard = createAuthGuard();

const fromRequest = <T>(pick: (req: RestJwtRequest<unknown>) => T) =>
  createParamDecorator((_data: unknown, context: ExecutionContext) => pick(context.switchToHttp().getRequest<RestJwtRequest<unknown>>()));

/** The authenticated user (null when anonymous): `hello(@CurrentUser() user: UserRecord)`. */
export const CurrentUser = fromRequest((req) => req.auth?.user ?? null);

/** The whole authentication, user and token (null when anonymous): `@CurrentAuth() auth: Authentication`. */
export const CurrentAuth = fromRequest((req) => req.auth ?? null);
