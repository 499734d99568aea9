import { Hono } from 'hono';
import type { InteractionAnswer, SlackSignedRequest } from '../../approvals/slack/index.ts';
import type { ServerEnv } from '../request.ts';

export const SLACK_INTERACTIONS_PATH = '/slack/interactions';

/**
 * Slack's interactivity request URL. Slack carries no Interlock token: the request's signature is
 * its authentication, checked before the body is parsed (so the body is read raw here). A refusal
 * after the signature check answers 200, as Slack expects, with the reason in the body and in an
 * ephemeral message to whoever clicked.
 */
export function slackRoutes(handle: (req: SlackSignedRequest) => Promise<InteractionAnswer>): Hono<ServerEnv> {
  const r = new Hono<ServerEnv>();
  r.post(SLACK_INTERACTIONS_PATH, async (c) => {
    const answer = await handle({
      body: await c.req.text(),
      timestamp: c.req.header('x-slack-request-timestamp'),
      signature: c.req.header('x-slack-signature'),
    });
    return c.json(answer, 200);
  });
  return r;
}
