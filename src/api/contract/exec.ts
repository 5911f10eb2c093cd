/**
 * `berth ssh`: a command inside a running replica's world over an upgraded connection (`Upgrade: berth-exec`)
 * on `GET /v1/projects/:project/environments/:env/services/:service/exec`. After `101 Switching Protocols`
 * both sides send frames: one type byte, a 4-byte big-endian length, the payload.
 */
import type { Static } from './schema.js';

export const EXEC_PROTOCOL = 'berth-exec';

export const execQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    /** The replica number (default: the first running one). */
    replica: { type: 'string', pattern: '^[0-9]+$' },
    /** The command as a JSON array of strings (no shell); absent: an interactive shell. */
    argv: { type: 'string' },
    /** '1': the client has a terminal; an interactive shell then gets a pseudo-terminal (`script`). */
    tty: { type: 'string', enum: ['0', '1'] },
    /** The client terminal's size, passed on as COLUMNS and LINES (the pseudo-terminal starts at 0×0). */
    cols: { type: 'string', pattern: '^[0-9]{1,4}$' },
    rows: { type: 'string', pattern: '^[0-9]{1,4}$' },
  },
} as const;
export type ExecQuery = Static<typeof execQuerySchema>;

/** Client → server: stdin bytes, then STDIN_END once stdin is closed. */
export const FRAME_STDIN = 0;
export const FRAME_STDIN_END = 1;
/** Server → client: output, then one EXIT frame (JSON ExitFrame) or ERROR (one sentence), then the end. */
export const FRAME_STDOUT = 2;
export const FRAME_STDERR = 3;
export const FRAME_EXIT = 4;
export const FRAME_ERROR = 5;

export interface ExitFrame {
  /** The exit code; 128 + n when signal n ended the command. */
  code: number;
}

const HEADER = 5;
/** Bigger writes go out as several frames. */
export const MAX_FRAME_PAYLOAD = 1024 * 1024;

export function encodeFrame(type: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const head = Buffer.alloc(HEADER);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream back into frames, however it was chunked. */
export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { type: number; payload: Buffer }[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const frames: { type: number; payload: Buffer }[] = [];
    while (this.buffered.length >= HEADER) {
      const length = this.buffered.readUInt32BE(1);
      if (length > MAX_FRAME_PAYLOAD) throw new Error(`an exec frame of ${length} bytes is over the limit`);
      if (this.buffered.length < HEADER + length) break;
      frames.push({ type: this.buffered[0], payload: this.buffered.subarray(HEADER, HEADER + length) });
      this.buffered = this.buffered.subarray(HEADER + length);
    }
    return frames;
  }
}
