import type { ChildProcess } from 'node:child_process';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * The SDK's stdio transport, except that the messages sent during one turn of the event loop reach
 * the server's stdin in one write. Many steps share one server process, and their calls tend to go
 * out together (the Redis answers that let them go arrive together); each write to a pipe is a
 * system call, and on a busy machine one of the dearest things a step does. The stream is corked
 * at the first send of a turn and uncorked when the turn's I/O is done (setImmediate), so nothing
 * waits beyond the turn it was sent in, and the order of the messages is kept. The child process is
 * the SDK's own field; without it (another SDK version) sends go out one by one, as the SDK's do.
 */
export class BatchingStdioTransport extends StdioClientTransport {
  private corked = false;

  override send(message: JSONRPCMessage): Promise<void> {
    const stdin = (this as unknown as { _process?: ChildProcess })._process?.stdin;
    if (stdin && !this.corked && stdin.writable) {
      this.corked = true;
      stdin.cork();
      setImmediate(() => {
        this.corked = false;
        stdin.uncork();
      });
    }
    return super.send(message);
  }
}
