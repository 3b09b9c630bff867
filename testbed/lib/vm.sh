# shellcheck shell=bash
# What every testbed VM gets, in its directory under the state dir (vm_dir): the filesystem it
# mounts privately (hostname, hosts, users with the admin user, /usr/local/bin with the shims and
# the components' binaries), the list of those mounts, its services (service) and an OpenSSH
# server with its own host key (all but the load balancer). Source it after common.sh; testbed/up
# sets ADMIN_PUB, RUNTIME_LIB and the BIN_* paths (bin.env) first.

hosts_file() {
  local vm n r ip
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n'
  for vm in "${VMS[@]}"; do
    read -r n r ip _ <<<"$vm"
    [[ $r == lb ]] && continue
    printf '%s\t%s\n' "$ip" "$n"
  done
  printf '%s\t%s\n' "$LB_IP" "$FQDN"
}

service() { # vmdir name (run script on stdin)
  local s="$1/services/$2"
  mkdir -p "$s"
  cat >"$s/run"
  echo running >"$s/desired"
}

# tb_vm_base DIR NAME: a fresh VM directory with its private filesystem and mounts list.
tb_vm_base() {
  local d=$1 name=$2 r b v
  rm -rf "$d"
  mkdir -p "$d"/{root,logs,services,ssh}
  r="$d/root"
  mkdir -p "$r"/{etc-kubernetes/certs,var-lib-kubelet,var-log-azure,var-lib-etcddisk,home,tmp,run,bin,etc}
  chmod 1777 "$r/tmp"
  chmod 700 "$r/var-lib-etcddisk"
  echo "$name" >"$d/hostname"
  echo "$name" >"$r/etc/hostname"
  hosts_file >"$r/etc/hosts"

  # users: the host's databases plus the admin user (only inside this VM)
  cp /etc/passwd /etc/group /etc/shadow "$r/etc/"
  if [[ -f /etc/gshadow ]]; then cp /etc/gshadow "$r/etc/"; fi
  echo "$ADMIN_USER:x:$ADMIN_UID:$ADMIN_UID::/home/$ADMIN_USER:/bin/bash" >>"$r/etc/passwd"
  echo "$ADMIN_USER:x:$ADMIN_UID:" >>"$r/etc/group"
  echo "$ADMIN_USER:*:20000:0:99999:7:::" >>"$r/etc/shadow"
  [[ -f $r/etc/gshadow ]] && echo "$ADMIN_USER:!::" >>"$r/etc/gshadow"
  mkdir -p "$r/etc/sudoers.d"
  cp -a /etc/sudoers.d/. "$r/etc/sudoers.d/" 2>/dev/null || true
  echo "$ADMIN_USER ALL=(ALL) NOPASSWD:ALL" >"$r/etc/sudoers.d/90-$ADMIN_USER"
  chmod 440 "$r/etc/sudoers.d/90-$ADMIN_USER"
  mkdir -p "$r/home/$ADMIN_USER/.ssh"
  echo "$ADMIN_PUB" >"$r/home/$ADMIN_USER/.ssh/authorized_keys"
  chmod 700 "$r/home/$ADMIN_USER/.ssh" && chmod 600 "$r/home/$ADMIN_USER/.ssh/authorized_keys"

  # the VM's /usr/local/bin: systemctl shim and the components' binaries
  printf '#!/bin/sh\nexec %q %q "$@"\n' "$RUNTIME_LIB/systemctl-shim" "$d" >"$r/bin/systemctl"
  printf '#!/bin/sh\nexec %q %q "$@"\n' "$RUNTIME_LIB/journalctl-shim" "$d" >"$r/bin/journalctl"
  chmod 755 "$r/bin/systemctl" "$r/bin/journalctl"
  for b in etcd etcdctl kube-apiserver kube-controller-manager kube-scheduler kubemark; do
    v="BIN_${b//-/_}"
    ln -s "${!v}" "$r/bin/$b"
  done

  cat >"$d/mounts" <<EOF
$r/etc-kubernetes /etc/kubernetes
$r/var-lib-kubelet /var/lib/kubelet
$r/var-log-azure /var/log/azure
$r/var-lib-etcddisk /var/lib/etcddisk
$r/home /home
$r/tmp /tmp
$r/run /run
$r/bin /usr/local/bin
$r/etc/hostname /etc/hostname
$r/etc/hosts /etc/hosts
$r/etc/passwd /etc/passwd
$r/etc/group /etc/group
$r/etc/shadow /etc/shadow
$r/etc/sudoers.d /etc/sudoers.d
EOF
  [[ -f $r/etc/gshadow ]] && echo "$r/etc/gshadow /etc/gshadow" >>"$d/mounts"
  if [[ -f /usr/bin/systemctl ]]; then echo "$r/bin/systemctl /usr/bin/systemctl" >>"$d/mounts"; fi
}

# tb_vm_etc_default DIR: the VM's own /etc/default, the host's to begin with: AKS Engine's units
# read their flags there, and the product's rotation edits them.
tb_vm_etc_default() {
  local d=$1 r="$1/root"
  mkdir -p "$r/etc-default"
  cp -a /etc/default/. "$r/etc-default/"
  echo "$r/etc-default /etc/default" >>"$d/mounts"
}

# tb_vm_sshd DIR NAME IP: the VM's sshd, with its own host key.
tb_vm_sshd() {
  local d=$1 name=$2 ip=$3
  ssh-keygen -q -t ed25519 -N '' -C "root@$name" -f "$d/ssh/ssh_host_ed25519_key"
  cat >"$d/ssh/sshd_config" <<EOF
ListenAddress $ip
Port 22
HostKey $d/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
AuthorizedKeysFile .ssh/authorized_keys
AllowTcpForwarding yes
PrintMotd no
AcceptEnv LANG LC_*
MaxStartups 100:30:200
MaxSessions 50
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
  service "$d" sshd <<EOF
exec /usr/sbin/sshd -D -e -f $d/ssh/sshd_config
EOF
}
