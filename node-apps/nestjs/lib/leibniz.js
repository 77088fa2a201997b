'use strict';

// Seed 004's compute test (Sharkbench's Leibniz approximation of pi), in the contract's exact
// order of operations so that every target returns the same double for the same n.
function leibniz(n) {
  let s = 0.0;
  let sign = 1.0;
  for (let k = 0; k < n; k++) {
    s += sign / (2 * k + 1);
    sign = -sign;
  }
  return 4 * s;
}

module.exports = { leibniz };
