/**
 * Points a third-party MCP server that calls Slack's Web API with `fetch` (e.g.
 * `@modelcontextprotocol/server-slack`, which hard-codes https://slack.com/api/) at the Slack
 * sandbox, without changing its code:
 *
 *   node --import <this file> node_modules/@modelcontextprotocol/server-slack/dist/index.js
 *   with INTERLOCK_SLACK_API_URL=http://127.0.0.1:12112/api/ in the server's environment
 *
 * Only URLs under https://slack.com/api/ are rewritten; without the variable nothing changes.
 */
const target = process.env.INTERLOCK_SLACK_API_URL;
const SLACK = 'https://slack.com/api/';

if (target) {
  const base = target.endsWith('/') ? target : `${target}/`;
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.startsWith(SLACK)) return realFetch(input, init);
    const moved = base + url.slice(SLACK.length);
    return realFetch(typeof input === 'string' || input instanceof URL ? moved : new Request(moved, input), init);
  };
}
