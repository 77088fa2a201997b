'use strict';

// Seed 001's OrderProcessor with the contract's rules: strict validation (no unknown
// fields, real integers), quantities of one product summed before the stock check,
// all-or-nothing decrement (409 otherwise), unique order ids. `processor` below is this
// server's only state, shared by every request of the one process.

const ARTICLE_INVENTORY = Object.freeze({ item1: 100, item2: 50, item3: 200 });
const MAX_QUANTITY = 1000000;
const MAX_TOTAL_AMOUNT = 1e9;

class OrderError extends Error {
  constructor(statusCode, message) {
    super(message);
    this.name = 'OrderError';
    this.statusCode = statusCode;
    this.status = statusCode;
    this.expose = true;
  }
}

function isPlainObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

// Exactly these fields: none missing, none extra.
function checkFields(object, fields, where) {
  for (const key of Object.keys(object)) {
    if (!fields.includes(key)) throw new OrderError(400, `${where}: unknown field "${key}"`);
  }
  for (const key of fields) {
    if (!Object.hasOwn(object, key)) throw new OrderError(400, `${where}: missing field "${key}"`);
  }
}

// The seed's validate_order, strict: returns the order, or throws a 400 OrderError.
function validateOrder(data) {
  if (!isPlainObject(data)) throw new OrderError(400, 'the order must be a JSON object');
  checkFields(data, ['customer_id', 'items', 'total_amount'], 'order');
  const { customer_id: customerId, items, total_amount: totalAmount } = data;
  if (typeof customerId !== 'string' || customerId.length === 0) {
    throw new OrderError(400, 'customer_id must be a non-empty string');
  }
  if (!Array.isArray(items) || items.length === 0) {
    throw new OrderError(400, 'items must be a non-empty array');
  }
  items.forEach((item, i) => {
    if (!isPlainObject(item)) throw new OrderError(400, `items[${i}] must be an object`);
    checkFields(item, ['product_id', 'quantity'], `items[${i}]`);
    if (typeof item.product_id !== 'string') {
      throw new OrderError(400, `items[${i}].product_id must be a string`);
    }
    // typeof excludes booleans and strings; Number.isInteger excludes 1.5.
    if (typeof item.quantity !== 'number' || !Number.isInteger(item.quantity)
        || item.quantity < 1 || item.quantity > MAX_QUANTITY) {
      throw new OrderError(400, `items[${i}].quantity must be an integer from 1 to ${MAX_QUANTITY}`);
    }
  });
  if (typeof totalAmount !== 'number' || !Number.isFinite(totalAmount)
      || totalAmount <= 0 || totalAmount > MAX_TOTAL_AMOUNT) {
    throw new OrderError(400, `total_amount must be a number above 0 and at most ${MAX_TOTAL_AMOUNT}`);
  }
  return data;
}

// POST /orders/reset's optional body: nothing, {} or {"inventory": {product: integer >= 0}}.
// Returns the inventory to reset to, or throws a 400 OrderError.
function validateReset(body) {
  if (body === undefined) return ARTICLE_INVENTORY;
  if (!isPlainObject(body)) throw new OrderError(400, 'the body must be a JSON object');
  for (const key of Object.keys(body)) {
    if (key !== 'inventory') throw new OrderError(400, `unknown field "${key}"`);
  }
  if (body.inventory === undefined) return ARTICLE_INVENTORY;
  if (!isPlainObject(body.inventory)) throw new OrderError(400, 'inventory must be an object');
  for (const [product, stock] of Object.entries(body.inventory)) {
    // The contract refuses a `__proto__` key, as Fastify's JSON parser does by default
    // (prototype poisoning); JSON.parse makes it an own property that would pass here.
    if (product === '__proto__') throw new OrderError(400, 'a product may not be named __proto__');
    if (typeof stock !== 'number' || !Number.isSafeInteger(stock) || stock < 0) {
      throw new OrderError(400, `inventory.${product} must be an integer >= 0`);
    }
  }
  return body.inventory;
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
  ARTICLE_INVENTORY, OrderError, OrderProcessor, processor, validateOrder, validateReset,
};
