import type { ChildProcess } from 'node:child_process';
import { StdioClientTransport, type StdioServerParameters } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ReadBuffer } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { parseJsonRpcLine } from './jsonrpc-message.ts';

/**
 * The SDK's line buffer, except that each line is checked by parseJsonRpcLine (jsonrpc-message.ts):
 * a plain answer is taken as parsed instead of copied by the SDK's schema. It reads the SDK's own
 * `_buffer` field; when another SDK version keeps its bytes elsewhere, the SDK's own readMessage runs.
 */
class LeanReadBuffer extends ReadBuffer {
  override readMessage(): JSONRPCMessage | null {
    const self = this as unknown as { _buffer?: unknown };
    const buf = self._buffer;
    if (!Buffer.isBuffer(buf)) return super.readMessage();
    const index = buf.indexOf(10);
    if (index === -1) return null;
    const line = buf.toString('utf8', 0, index).replace(/\r$/, '');
    self._buffer = buf.subarray(index + 1);
    return parseJsonRpcLine(line);
  }
}

/**
 * The SDK's stdio transport, except that the messages sent during one turn of the event loop reach
 * the server's stdin in one write. Many steps share one server process, and their calls tend to go
 * out together (the Redis answers that let them go arrive together); each write to a pipe is a
 * system call, and on a busy machine one of the dearest things a step does. The stream is corked
 * at the first send of a turn and uncorked when the turn's I/O is done (setImmediate), so nothing
 * waits beyond the turn it was sent in, and the order of the messages is kept. The child process is
 * the SDK's own field; without it (another SDK version) sends go out one by one, as the SDK's do.
 * What comes back is read by LeanReadBuffer.
 */
export class BatchingStdioTransport extends StdioClientTransport {
  private corked = false;

  constructor(server: StdioServerParameters) {
    super(server);
    // The SDK's own field (see LeanReadBuffer); a version without it keeps its own buffer.
    const self = this as unknown as { _readBuffer?: unknown };
    if (self._readBuffer instanceof ReadBuffer)
      self._readBuffer = new LeanReadBuffer(server.maxBufferSize === undefined ? {} : { maxBufferSize: server.maxBufferSize });
  }

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
