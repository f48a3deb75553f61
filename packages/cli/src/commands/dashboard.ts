import { spawn } from 'node:child_process';
import { Flags } from '@oclif/core';
import { dashboardLink } from '@prevu/core/dashboard';
import { PrevuCommand } from '../base.js';

/** The platform's own opener; best effort: the link is printed either way. */
function openInBrowser(url: string): void {
  const [command, ...args] = process.platform === 'darwin' ? ['open'] : process.platform === 'win32' ? ['cmd', '/c', 'start', '""'] : ['xdg-open'];
  const child = spawn(command!, [...args, url], { stdio: 'ignore', detached: true });
  child.on('error', () => undefined);
  child.unref();
}

export default class Dashboard extends PrevuCommand<typeof Dashboard> {
  static override description = "Open the tunnel server's dashboard (envs, health, live events, logs, share links) in the browser, logged in";
  static override examples = ['<%= config.bin %> dashboard', '<%= config.bin %> dashboard --no-open'];
  static override flags = {
    open: Flags.boolean({ description: 'open the link in the browser (the default on a terminal); --no-open only prints it', allowNo: true }),
  };

  async run(): Promise<{ url: string; expiresAt: string }> {
    const link = await dashboardLink(this.session());
    if (!this.jsonEnabled()) this.log(`Dashboard login link (works once, until ${link.expiresAt}):\n${link.url}`);
    if (this.flags.open ?? (process.stdout.isTTY && !this.jsonEnabled())) openInBrowser(link.url);
    return link;
  }
}
