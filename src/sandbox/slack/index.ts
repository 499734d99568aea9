export { startSlackSandbox, type SlackSandbox, type SlackSandboxOptions } from './server.ts';
export type { SlackState, SandboxChannel, SandboxMessage, SandboxUser, SandboxRequestRecord, MessageMetadata } from './state.ts';
export { SEED_BOT, SEED_TEAM } from './state.ts';
