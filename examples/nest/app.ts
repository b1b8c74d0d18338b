/** The seed's example in NestJS 11 (Express platform). */
import 'reflect-metadata';
import { Controller, Get, Module, UseGuards, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AuthGuard, RestJwtModule } from '@restjwt/nest';
import type { RestJwt } from '@restjwt/core';
import { isMain, PORT, seedRestJwt, type ExampleOptions } from '../settings.js';

// ProtectedView, permission_classes = [IsAuthenticated]
@Controller('api')
export class ProtectedController {
  @Get('protected/')
  @UseGuards(AuthGuard)
  hello() {
    return { message: 'Hello, authenticated user!' };
  }
}

@Module({ controllers: [ProtectedController] })
export class AppModule {
  // urls.py: token/, token/refresh/, token/verify/, token/blacklist/, token/sliding/…
  static forRoot(restjwt: RestJwt): DynamicModule {
    return { module: AppModule, imports: [RestJwtModule.forRoot({ restjwt, prefix: '/api/' })] };
  }
}

export async function buildApp(options: ExampleOptions = {}) {
  const restjwt = await seedRestJwt(options);
  const app = await NestFactory.create(AppModule.forRoot(restjwt), { logger: false });
  await app.init();
  return { app, restjwt };
}

if (isMain(import.meta.url)) await (await buildApp()).app.listen(PORT);
