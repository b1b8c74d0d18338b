/**
 * restjwt — JWT authentication for REST APIs, the djangorestframework-simplejwt experience in TypeScript.
 *
 * The root entry point is the framework-neutral core. Adapters and stores have their own entry points:
 * `restjwt/adapters/{fastify,express,hono,nest}`, `restjwt/stores/sqlite`, `restjwt/stores/memory`.
 *
 * @packageDocumentation
 */
export * from '@restjwt/core';
