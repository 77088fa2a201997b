'use strict';

// Seed 001's OrderProcessor with the contract's rules: quantities of one product summed
// before the stock check, all-or-nothing decrement (409 otherwise), unique order ids.
// `processor` below is this server's only state, shared by every request of the one
// process. The seed's validate_order is the JSON schema `orderBodySchema`, which Fastify
// applies before the handler runs (strict: no unknown fields, real integers).

const ARTICLE_INVENTORY = Object.freeze({ item1: 100, item2: 50, item3: 200 });

const orderBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['customer_id', 'items', 'total_amount'],
  properties: {
    customer_id: { type: 'string', minLength: 1 },
    items: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['product_id', 'quantity'],
        properties: {
          product_id: { type: 'string' },
          quantity: { type: 'integer', minimum: 1, maximum: 1000000 },
        },
      },
    },
    total_amount: { type: 'number', exclusiveMinimum: 0, maximum: 1e9 },
  },
};

// POST /orders/reset's optional body: nothing, {} or {"inventory": {product: integer >= 0}}.
const resetBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    inventory: {
      type: 'object',
      additionalProperties: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
    },
  },
};

const orderRecordSchema = {
  type: 'object',
  required: ['customer_id', 'items', 'total_amount', 'order_id', 'status', 'processed_at'],
  properties: {
    customer_id: { type: 'string' },
    items: {
      type: 'array',
      items: {
        type: 'object',
        required: ['product_id', 'quantity'],
        properties: { product_id: { type: 'string' }, quantity: { type: 'integer' } },
      },
    },
    total_amount: { type: 'number' },
    order_id: { type: 'string' },
    status: { type: 'string' },
    processed_at: { type: 'string' },
  },
};

const orderResultSchema = {
  type: 'object',
  required: ['status', 'order'],
  properties: { status: { type: 'string' }, order: orderRecordSchema },
};

const snapshotSchema = {
  type: 'object',
  required: ['inventory', 'orders'],
  properties: {
    inventory: { type: 'object', additionalProperties: { type: 'integer' } },
    orders: { type: 'integer' },
  },
};

class OrderError extends Error {
  constructor(statusCode, message) {
    super(message);
    this.name = 'OrderError';
    this.statusCode = statusCode;
    this.expose = true;
  }
}

let sequence = 0;

// The seed's `ORD` + YYYYMMDDHHMMSS, plus a per-process counter so that two orders in the
// same second (or millisecond) never share an id.
function nextOrderId(now) {
  sequence += 1;
  const stamp = now.toISOString().replace(/[^0-9]/g, '').slice(0, 14);
  return `ORD${stamp}-${sequence}`;
}

class OrderProcessor {
  constructor(inventory = ARTICLE_INVENTORY) {
    this.reset(inventory);
  }

  reset(inventory = ARTICLE_INVENTORY) {
    this.inventory = new Map(Object.entries(inventory));
    // A count, not the seed's list of records: a long load run must not grow memory
    // (the Python targets count too, so memory compares like for like).
    this.orderCount = 0;
  }

  // {"inventory": {...}, "orders": successful orders since the last reset}
  snapshot() {
    return { inventory: Object.fromEntries(this.inventory), orders: this.orderCount };
  }

  // A validated order: checks every product and the summed quantities first, then takes
  // all the stock at once. Synchronous from check to decrement, so concurrent requests on
  // the one event loop cannot oversell.
  processOrder(order) {
    const wanted = new Map();
    for (const { product_id: product, quantity } of order.items) {
      if (!this.inventory.has(product)) throw new OrderError(400, `unknown product "${product}"`);
      wanted.set(product, (wanted.get(product) || 0) + quantity);
    }
    for (const [product, quantity] of wanted) {
      const stock = this.inventory.get(product);
      if (stock < quantity) {
        throw new OrderError(409, `insufficient stock for "${product}": ${quantity} requested, ${stock} left`);
      }
    }
    for (const [product, quantity] of wanted) {
      this.inventory.set(product, this.inventory.get(product) - quantity);
    }
    const now = new Date();
    const record = {
      ...order,
      order_id: nextOrderId(now),
      status: 'completed',
      processed_at: now.toISOString(),
    };
    this.orderCount += 1;
    return { status: 'success', order: record };
  }
}

const processor = new OrderProcessor();

module.exports = {
  ARTICLE_INVENTORY,
  OrderError,
  OrderProcessor,
  processor,
  orderBodySchema,
  resetBodySchema,
  orderResultSchema,
  snapshotSchema,
};
