// The user-data script a new Lightsail instance runs at first boot (cloud-init, as root): Docker
// Engine + Compose v2 from Docker's apt repository (Debian 12's own docker-compose is v1), the
// engine started, the SSH user allowed on its socket. A TS module rather than a .sh asset because
// tsc copies no .sh files into dist.
//
// Idempotent: every step checks before it changes anything, so a re-run (or a run after a half
// finished one) converges. `PREVU_ROOT` prefixes every file path so a test can run the script
// against a fake root with fake apt-get/systemctl/docker on PATH.

export interface UserDataOptions {
  /** The login user that must reach the Docker socket (Lightsail's Debian images: `admin`). */
  sshUser: string;
  /** sshd listens here too when it is not 22 (the firewall port is opened by the driver). */
  sshPort: number;
  /**
   * The profile's public key (`<type> <base64>`), authorized for the SSH user. Lightsail's
   * ImportKeyPair documents ssh-rsa keys only and prevu's account keys are ed25519, so the key
   * pair alone may not let prevu in.
   */
  authorizedKey: string;
}

const shellWord = /^[a-z_][a-z0-9_-]*$/;
const publicKeyLine = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+={0,3}$/;

export function lightsailUserData({ sshUser, sshPort, authorizedKey }: UserDataOptions): string {
  // Type and key only: the comment is free text and has no business in a root script.
  const key = authorizedKey.trim().split(/\s+/).slice(0, 2).join(' ');
  if (!publicKeyLine.test(key)) throw new Error('invalid public key for user-data');
  // Both are validated by the settings schema; checked again because they land in a root script.
  if (!shellWord.test(sshUser)) throw new Error(`invalid SSH user for user-data: ${sshUser}`);
  if (!Number.isInteger(sshPort) || sshPort < 1 || sshPort > 65535) throw new Error(`invalid SSH port for user-data: ${sshPort}`);
  return `#!/bin/bash
# prevu: Docker Engine + Compose v2 for the SSH user, on Debian 12. Safe to run again.
set -euo pipefail

root="\${PREVU_ROOT:-}"
ssh_user='${sshUser}'
ssh_port='${sshPort}'
authorized_key='${key}'
export DEBIAN_FRONTEND=noninteractive
# cloud-init may race unattended-upgrades for the dpkg lock: wait for it instead of failing.
apt=(apt-get -q -y -o DPkg::Lock::Timeout=600)

if [ "$ssh_port" != 22 ]; then
  conf="$root/etc/ssh/sshd_config.d/prevu-port.conf"
  want="$(printf 'Port 22\\nPort %s' "$ssh_port")"
  if [ "$(cat "$conf" 2>/dev/null || true)" != "$want" ]; then
    mkdir -p "$(dirname "$conf")"
    printf '%s\\n' "$want" >"$conf"
    systemctl restart ssh
  fi
fi

if ! docker compose version >/dev/null 2>&1; then
  keyring="$root/etc/apt/keyrings/docker.asc"
  if [ ! -s "$keyring" ]; then
    "\${apt[@]}" update
    "\${apt[@]}" install ca-certificates curl
    install -m 0755 -d "$root/etc/apt/keyrings"
    curl -fsSL --retry 5 https://download.docker.com/linux/debian/gpg -o "$keyring.tmp"
    chmod a+r "$keyring.tmp"
    mv "$keyring.tmp" "$keyring"
  fi
  # shellcheck source=/dev/null
  codename="$(. "$root/etc/os-release" && echo "$VERSION_CODENAME")"
  printf 'deb [arch=%s signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian %s stable\\n' \\
    "$(dpkg --print-architecture)" "$codename" >"$root/etc/apt/sources.list.d/docker.list"
  "\${apt[@]}" update
  "\${apt[@]}" install docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin
fi

home="$(getent passwd "$ssh_user" | cut -d: -f6)"
keys="$root$home/.ssh/authorized_keys"
if ! grep -qxF "$authorized_key" "$keys" 2>/dev/null; then
  mkdir -p "$root$home/.ssh"
  chmod 700 "$root$home/.ssh"
  printf '%s\n' "$authorized_key" >>"$keys"
  chmod 600 "$keys"
  chown -R "$ssh_user:" "$root$home/.ssh"
fi

systemctl enable --now docker
if ! id -nG "$ssh_user" | grep -qw docker; then
  usermod -aG docker "$ssh_user"
fi
`;
}
