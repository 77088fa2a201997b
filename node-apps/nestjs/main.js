// faceoff targets "nestjs" (`node main.js express`) and "nestjs-fastify"
// (`node main.js fastify`): the shared HTTP contract on NestJS, one process, on Nest's
// Express adapter or its Fastify adapter. The same module, controllers and filter on both;
// only the adapter and the few lines that reach into it below differ.
import 'reflect-metadata';
import { NestFactory, HttpAdapterHost } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { controllers } from './controllers.js';
import { ContractExceptionFilter, knownRoutes, serverHeader } from './contract.js';

// How long in-flight requests may take to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE_MS = 2000;

async function createApp(platform) {
  // Nest's body parsers are off on both adapters: the JSON routes read their body with
  // contract.js's readJsonBody, so both adapters apply the contract's body rules alike.
  const options = { logger: false, bodyParser: false };
  if (platform === 'express') {
    const app = await NestFactory.create(AppModule, options);
    app.getHttpAdapter().getInstance().disable('x-powered-by');
    return app;
  }
  if (platform === 'fastify') {
    const { FastifyAdapter } = await import('@nestjs/platform-fastify');
    const adapter = new FastifyAdapter({
      logger: false,
      // Errors Fastify raises before routing (a malformed URL) get the JSON error shape.
      frameworkErrors: (err, request, reply) => {
        reply.code(400).header('server', 'NestJS').send({ error: 'bad request' });
      },
    });
    // Fastify reads a body before the handler only through a content-type parser, and
    // refuses types it has none for with its own 415. One catch-all parser that reads
    // nothing hands every body, of any type or none, to the handler's readJsonBody.
    const fastify = adapter.getInstance();
    fastify.removeAllContentTypeParsers();
    fastify.addContentTypeParser('*', (request, payload, done) => done(null, undefined));
    return NestFactory.create(AppModule, adapter, options);
  }
  throw new Error(`unknown adapter "${platform}": use express or fastify`);
}

async function main() {
  const platform = process.argv[2] || 'express';
  const app = await createApp(platform);
  app.use(serverHeader);
  const { httpAdapter } = app.get(HttpAdapterHost);
  app.useGlobalFilters(new ContractExceptionFilter(httpAdapter, knownRoutes(controllers)));

  // On SIGTERM/SIGINT: Nest's shutdown hooks (app.module.js), the server closed, in-flight
  // requests given SHUTDOWN_GRACE_MS.
  let closing = false;
  function shutdown() {
    if (closing) return;
    closing = true;
    setTimeout(() => process.exit(0), SHUTDOWN_GRACE_MS).unref();
    app.close().then(() => process.exit(0), (err) => {
      console.error(err);
      process.exit(1);
    });
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  const host = process.env.HOST || '127.0.0.1';
  const port = Number(process.env.PORT || 3000);
  try {
    await app.listen(port, host);
  } catch (err) {
    console.error(`nestjs (${platform}) failed to listen on ${host}:${port}: ${err.message}`);
    process.exit(1);
  }
  const { address, port: bound } = app.getHttpServer().address();
  const shown = address.includes(':') ? `[${address}]` : address;
  console.log(`nestjs (${platform}) listening on http://${shown}:${bound}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
