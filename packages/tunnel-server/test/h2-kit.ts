// HTTP/2 test helpers shared by h2.test.ts and cluster.test.ts: a gRPC echo service (h2c) and
// its client, and plain node:http2 sessions and requests.
import http2, { type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { Kit } from '@prevu/test-kit';

const identity = (b: Buffer) => b;
const method = (name: string, requestStream: boolean, responseStream: boolean) => ({
  path: `/prevu.test.Echo/${name}`,
  requestStream,
  responseStream,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});
const echoService = { echo: method('Echo', false, false), chat: method('Chat', true, true) };

/** What the service saw: the message, and headers that prove the proxy's rules held. */
const seen = (message: Buffer, metadata: grpc.Metadata) =>
  Buffer.from(JSON.stringify({ message: message.toString(), proto: metadata.get('x-forwarded-proto')[0], for: metadata.get('x-forwarded-for')[0], auth: metadata.get('authorization').length }));

/** A gRPC echo service (h2c on loopback): unary `Echo`, and `Chat` answering each message in turn. */
export async function startGrpcEcho(kit: Pick<Kit, 'defer'>, options: grpc.ServerOptions = {}): Promise<number> {
  const server = new grpc.Server(options);
  server.addService(echoService, {
    echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, seen(call.request, call.metadata)),
    chat: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', (message: Buffer) => call.write(seen(message, call.metadata)));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, p) => (error ? reject(error) : resolve(p))));
  kit.defer('grpc echo server', () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  return port;
}

const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo');
type Echo = InstanceType<typeof EchoClient> & {
  echo(message: Buffer, metadata: grpc.Metadata, callback: (error: grpc.ServiceError | null, reply: Buffer) => void): void;
  chat(metadata: grpc.Metadata): grpc.ClientDuplexStream<Buffer, Buffer>;
};

export function grpcClient(kit: Pick<Kit, 'defer'>, port: number, host: string, ca?: Buffer): Echo {
  const credentials = ca ? grpc.credentials.createSsl(ca) : grpc.credentials.createInsecure();
  const client = new EchoClient(`127.0.0.1:${port}`, credentials, { 'grpc.default_authority': host, ...(ca ? { 'grpc.ssl_target_name_override': host } : {}) }) as Echo;
  kit.defer('grpc client', () => client.close());
  return client;
}

export const unary = (client: Echo, message: string, metadata = new grpc.Metadata()) =>
  new Promise<Record<string, unknown>>((resolve, reject) => client.echo(Buffer.from(message), metadata, (error, reply) => (error ? reject(error) : resolve(JSON.parse(reply.toString())))));

/** Bidi streaming: each message is written only after the previous answer arrived, so both directions stay open together. */
export async function chat(client: Echo, messages: string[], metadata = new grpc.Metadata()): Promise<Array<Record<string, unknown>>> {
  const call = client.chat(metadata);
  const answers: Array<Record<string, unknown>> = [];
  const ended = new Promise<void>((resolve, reject) => {
    call.on('end', resolve);
    call.on('error', reject);
  });
  let next: (() => void) | undefined;
  call.on('data', (reply: Buffer) => {
    answers.push(JSON.parse(reply.toString()) as Record<string, unknown>);
    next?.();
  });
  for (const message of messages) {
    const answered = new Promise<void>((resolve) => (next = resolve));
    call.write(Buffer.from(message));
    await Promise.race([answered, ended]);
  }
  call.end();
  await ended;
  return answers;
}

export interface H2Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export function h2request(session: ClientHttp2Session, host: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':authority': host, ':path': path, ':method': body ? 'POST' : 'GET', ...headers }, { endStream: !body });
    let responseHeaders: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (responseHeaders = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: Buffer.concat(chunks).toString() }));
    stream.on('error', reject);
    if (body) stream.end(body);
  });
}

export function h2connect(kit: Pick<Kit, 'defer'>, url: string, options: http2.SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url, options);
    session.once('connect', () => resolve(session));
    session.once('error', reject);
    kit.defer('h2 session', () => void session.destroy());
  });
}
