// The articles' routes as Nest controllers, each from a seed snippet. Handlers return plain
// objects, which Nest serializes as JSON on either adapter. The contract's plumbing (input
// rules, the body reader, 405/404 and JSON errors) is in contract.js; the framework-neutral
// work (orders, offload, database, data server) is in lib/, shared with the Express app.

import { setTimeout as sleep } from 'node:timers/promises';
import {
  Controller, Get, Post, HttpCode, Inject, Query, Req,
} from '@nestjs/common';
import { decorate, param } from './decorate.js';
import { queryInt, readJsonBody, validateJob } from './contract.js';
import ordersLib from './lib/orders.js';
import leibnizLib from './lib/leibniz.js';
import jobs from './lib/jobs.js';
import db from './lib/db.js';
import hybrid from './lib/hybrid.js';
import periodic from './lib/periodic.js';

const { validateOrder, validateReset, OrderProcessor } = ordersLib;
const { leibniz } = leibnizLib;

// The contract's bounds.
const MAX_SLEEP_MS = 10000;
const MAX_COMPUTE_N = 100000000;

// Seed 004: the Express and FastAPI `/status` snippet.
export class StatusController {
  status() {
    return { service: 'edge-metrics', status: 'ok', t_ms: 4 };
  }
}
decorate(StatusController, [Controller('status')], { status: [Get()] });

// Seed 001's simulated I/O: awaited (other requests go on), or blocking the one event loop
// the way synchronous code does (Atomics.wait sleeps the thread without spinning the CPU).
export class IoController {
  async sleep(raw) {
    const ms = queryInt(raw, 'ms', 0, MAX_SLEEP_MS);
    await sleep(ms);
    return { slept_ms: ms, blocking: false };
  }

  sleepBlocking(raw) {
    const ms = queryInt(raw, 'ms', 0, MAX_SLEEP_MS);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
    return { slept_ms: ms, blocking: true };
  }
}
decorate(IoController, [Controller('io')], {
  sleep: [Get('sleep'), param(0, Query('ms'))],
  sleepBlocking: [Get('sleep-blocking'), param(0, Query('ms'))],
});

// Seed 001's OrderProcessor, a provider (app.module.js): the app's one piece of state.
export class OrdersController {
  constructor(processor) {
    this.processor = processor;
  }

  async create(req) {
    return this.processor.processOrder(validateOrder(await readJsonBody(req)));
  }

  inventory() {
    return this.processor.snapshot();
  }

  // No body, an empty body or {} restores the article's inventory.
  async reset(req) {
    this.processor.reset(validateReset(await readJsonBody(req)));
    return this.processor.snapshot();
  }
}
decorate(OrdersController, [Controller('orders'), param(0, Inject(OrderProcessor))], {
  create: [Post(), param(0, Req())],
  inventory: [Get('inventory')],
  reset: [Post('reset'), HttpCode(200), param(0, Req())],
});

// Seed 004's compute test, on the event loop.
export class ComputeController {
  leibniz(raw) {
    const n = queryInt(raw, 'n', 1, MAX_COMPUTE_N);
    return { n, pi: leibniz(n) };
  }
}
decorate(ComputeController, [Controller('compute')], {
  leibniz: [Get('leibniz'), param(0, Query('n'))],
});

// Seed 004's offload: the same loop in a worker process per job (lib/jobs.js).
export class JobsController {
  async leibniz(req) {
    const { n, timeoutMs } = validateJob(await readJsonBody(req));
    return jobs.runLeibnizJob(n, timeoutMs);
  }
}
decorate(JobsController, [Controller('jobs')], {
  leibniz: [Post('leibniz'), HttpCode(200), param(0, Req())],
});

// Seed 003's database test (TechEmpower's single and multiple queries), in lib/db.js.
export class DbController {
  single() {
    return db.singleRow();
  }

  multiple(count) {
    return db.multipleRows(db.queryCount(count));
  }
}
decorate(DbController, [Controller('db')], {
  single: [Get('single')],
  multiple: [Get('multiple'), param(0, Query('count'))],
});

// Seed 001's hybrid notifications, served by Node alone (lib/hybrid.js).
export class HybridController {
  notifications(userId) {
    return hybrid.notifications(userId);
  }
}
decorate(HybridController, [Controller('hybrid')], {
  notifications: [Get('notifications'), param(0, Query('user_id'))],
});

// Sharkbench's web test, which seed 004 quotes: each request fetches a JSON document from
// the data server with fetch, parses it and answers a few fields (lib/periodic.js).
export class PeriodicTableController {
  element(symbol) {
    return periodic.element(symbol);
  }

  shells(symbol) {
    return periodic.shells(symbol);
  }
}
decorate(PeriodicTableController, [Controller('api/v1/periodic-table')], {
  element: [Get('element'), param(0, Query('symbol'))],
  shells: [Get('shells'), param(0, Query('symbol'))],
});

export const controllers = [
  StatusController, IoController, OrdersController, ComputeController, JobsController,
  DbController, HybridController, PeriodicTableController,
];
