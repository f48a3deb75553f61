// SSH_MSG_DISCONNECT with a description. ssh2's own disconnect() sends an empty one, and the
// description is the only way to tell a bare SSH client (OpenSSH prints it, ssh2 clients get it as
// the error message) why the server closed: a takeover or a limit, so it does not retry blindly.
import type { Connection } from 'ssh2';
// @ts-expect-error ssh2 ships no types for its protocol internals
import protocolUtils from 'ssh2/lib/protocol/utils.js';

export const DisconnectReason = { tooManyConnections: 12, byApplication: 11, noMoreAuthMethods: 14 } as const;

interface Internals {
  _protocol: {
    _packetRW: { write: { allocStartKEX: number; alloc(n: number, force: boolean): Buffer; finalize(p: Buffer, force: boolean): Buffer } };
  };
  _sock?: { end(): void; writable: boolean };
}

export function disconnect(connection: Connection, reason: number, description: string): void {
  const { _protocol: proto, _sock: sock } = connection as unknown as Internals;
  if (!sock?.writable) return;
  const text = Buffer.from(description, 'utf8');
  const write = proto._packetRW.write;
  let p = write.allocStartKEX;
  const packet = write.alloc(1 + 4 + 4 + text.length + 4, true);
  packet[p] = 1; // SSH_MSG_DISCONNECT
  packet.writeUInt32BE(reason, ++p);
  packet.writeUInt32BE(text.length, (p += 4));
  text.copy(packet, (p += 4));
  packet.writeUInt32BE(0, p + text.length); // empty language tag
  (protocolUtils as { sendPacket(proto: unknown, packet: Buffer, bypass: boolean): void }).sendPacket(proto, write.finalize(packet, true), true);
  sock.end();
}
