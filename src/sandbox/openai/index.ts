export { startOpenAISandbox, type OpenAISandbox, type OpenAISandboxOptions, type RecordedRequest } from './server.ts';
export {
  lastUserText,
  latestToolResults,
  textOf,
  type ChatRequest,
  type Reply,
  type Script,
  type ScriptedToolCall,
  type Turn,
} from './script.ts';
export { demoScript } from './demo.ts';
