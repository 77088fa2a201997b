// The one module: the controllers, the order state as a provider, and the shutdown hooks.
import { Module } from '@nestjs/common';
import { decorate } from './decorate.js';
import { controllers } from './controllers.js';
import ordersLib from './lib/orders.js';
import jobs from './lib/jobs.js';
import db from './lib/db.js';

// Nest's shutdown hooks (app.close(), from main.js's signal handler): kill the offload
// workers before the server stops (their requests get a 503 now rather than at their
// timeout), close the database pool after.
export class Lifecycle {
  beforeApplicationShutdown() {
    jobs.stopAllJobs();
  }

  onApplicationShutdown() {
    return db.close();
  }
}

export class AppModule {}
decorate(AppModule, [Module({
  controllers,
  providers: [
    { provide: ordersLib.OrderProcessor, useValue: ordersLib.processor },
    Lifecycle,
  ],
})]);
