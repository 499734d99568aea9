/**
 * Points a third-party MCP server that uses the `stripe` Node SDK (e.g. `@stripe/mcp`, whose
 * toolkit hard-codes api.stripe.com) at the Stripe sandbox, without changing its code:
 *
 *   node --require <this file> node_modules/@stripe/mcp/dist/index.js --tools=all
 *   with INTERLOCK_STRIPE_API_URL=http://127.0.0.1:12111 in the server's environment
 *
 * Every `require('stripe')` gets a constructor that adds host, port and protocol from that URL to
 * the options the server passes. Without the variable this file changes nothing.
 */
'use strict';
const Module = require('node:module');

const target = process.env.INTERLOCK_STRIPE_API_URL;
if (target) {
  const url = new URL(target);
  const where = {
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    protocol: url.protocol.replace(':', ''),
  };
  const patched = new WeakMap();
  const wrap = (Stripe) => {
    if (typeof Stripe !== 'function') return Stripe;
    if (patched.has(Stripe)) return patched.get(Stripe);
    function SandboxStripe(key, config) {
      return new Stripe(key, { ...(config || {}), ...where });
    }
    Object.setPrototypeOf(SandboxStripe, Stripe);
    SandboxStripe.prototype = Stripe.prototype;
    SandboxStripe.Stripe = SandboxStripe;
    SandboxStripe.default = SandboxStripe;
    patched.set(Stripe, SandboxStripe);
    return SandboxStripe;
  };
  const load = Module._load;
  Module._load = function (request, parent, isMain) {
    const loaded = load.call(this, request, parent, isMain);
    return request === 'stripe' ? wrap(loaded) : loaded;
  };
}
