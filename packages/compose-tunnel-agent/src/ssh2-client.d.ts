// ssh2's client module alone: its index also loads the SSH server, SFTP helpers and HTTP agents
// (0.7 MB more RSS in the agent, which only needs the client).
declare module 'ssh2/lib/client.js' {
  import { Client } from 'ssh2';
  export default Client;
}
