# The testbed's initial PKI, made with openssl only (independent of the product's PKI code),
# in aks-engine's layout and file names. Source it after common.sh; call tb_make_pki DIR.
# ETCD_CA=separate: a dedicated etcd-ca (kubeadm layout) signs the etcd certificates instead of ca.
#
# Validity: leaves valid from now-1h for CERT_DAYS days; CA for CA_DAYS days.
# EXPIRED=1: leaves valid from now-365d to now-1d (already expired); EXPIRED=2: the CAs too.
# `openssl ca` is used (not `x509 -req`) because OpenSSL 3.0 can only set explicit dates there.

_ossl_date() { date -u -d "@$1" +%Y%m%d%H%M%SZ; }

_tb_validity() { # kind(ca|leaf) -> "start end"
  local now kind=$1 days
  now=$(date +%s)
  if [[ $kind == leaf && $EXPIRED -ge 1 ]] || [[ $kind == ca && $EXPIRED -ge 2 ]]; then
    echo "$(_ossl_date $((now - 365 * 86400))) $(_ossl_date $((now - 86400)))"
    return
  fi
  if [[ $kind == ca ]]; then days=$CA_DAYS; else days=$CERT_DAYS; fi
  echo "$(_ossl_date $((now - 3600))) $(_ossl_date $((now + days * 86400)))"
}

_tb_ca_db() { # dir -> writes an `openssl ca` config for the CA whose files are in dir
  local d=$1
  mkdir -p "$d/db/new"
  : >"$d/db/index.txt"
  [[ -f $d/db/serial ]] || openssl rand -hex 16 >"$d/db/serial"
  cat >"$d/db/ca.cnf" <<EOF
[ca]
default_ca = tb
[tb]
dir = $d/db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir/new
default_md = sha256
policy = any
unique_subject = no
email_in_dn = no
copy_extensions = none
[any]
commonName = supplied
organizationName = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
EOF
}

# _tb_sign CADIR CANAME OUTBASE SUBJ KIND EXT_LINES...
#   CADIR holds CANAME.crt/.key (or, for KIND=ca, the CA being made); writes OUTBASE.crt/.key.
_tb_sign() {
  local cadir=$1 caname=$2 out=$3 subj=$4 kind=$5
  shift 5
  local ext="$out.ext" validity start end
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out.key" 2>/dev/null
  chmod 600 "$out.key"
  openssl req -new -key "$out.key" -subj "$subj" -out "$out.csr" -config "$cadir/db/ca.cnf"
  printf '[v3]\n' >"$ext"
  printf '%s\n' "$@" >>"$ext"
  read -r start end < <(_tb_validity "$kind")
  if [[ $kind == ca ]]; then
    openssl ca -batch -notext -selfsign -config "$cadir/db/ca.cnf" -keyfile "$out.key" -in "$out.csr" \
      -out "$out.crt" -startdate "$start" -enddate "$end" -extfile "$ext" -extensions v3 -preserveDN 2>/dev/null
  else
    openssl ca -batch -notext -config "$cadir/db/ca.cnf" -cert "$cadir/$caname.crt" -keyfile "$cadir/$caname.key" \
      -in "$out.csr" -out "$out.crt" -startdate "$start" -enddate "$end" -extfile "$ext" -extensions v3 \
      -preserveDN 2>/dev/null
  fi
  rm -f "$out.csr" "$out.ext"
}

CA_EXT=("basicConstraints = critical,CA:TRUE" "keyUsage = critical,keyCertSign,cRLSign,digitalSignature"
  "subjectKeyIdentifier = hash")
LEAF_BASE=("basicConstraints = critical,CA:FALSE" "keyUsage = critical,digitalSignature,keyEncipherment"
  "subjectKeyIdentifier = hash" "authorityKeyIdentifier = keyid")

# _tb_extra_ca DIR WORK NAME SUBJ: a CA besides the cluster CA, as DIR/NAME.crt/.key; it signs
# from DIR/WORK, which holds its own `openssl ca` database (own serials) and a copy of its files.
_tb_extra_ca() {
  local d=$1 work=$2 name=$3 subj=$4
  mkdir -p "$d/$work" && _tb_ca_db "$d/$work"
  _tb_sign "$d/$work" "$name" "$d/$name" "$subj" ca "${CA_EXT[@]}"
  cp "$d/$name.crt" "$d/$name.key" "$d/$work/"
}

tb_make_pki() {
  local d=$1 i san ecadir ecaname
  mkdir -p "$d" && chmod 700 "$d"
  _tb_ca_db "$d"
  # Cluster CA (signs everything else; etcd's certificates too unless separate) and the front-proxy CA.
  _tb_sign "$d" ca "$d/ca" "/CN=ca" ca "${CA_EXT[@]}"
  _tb_extra_ca "$d" proxy proxy-ca "/CN=proxyClientCA"
  # The etcd certificates' issuer: the cluster CA, or (separate) etcd-ca.
  ecadir=$d ecaname=ca
  if [[ $ETCD_CA == separate ]]; then
    _tb_extra_ca "$d" etcd etcd-ca "/CN=etcd-ca"
    ecadir=$d/etcd ecaname=etcd-ca
  fi

  san="subjectAltName = DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  san+=",DNS:kubernetes.default.svc.cluster.local,DNS:$FQDN,IP:10.0.0.1,IP:$LB_IP,IP:127.0.0.1"
  for i in "${!MASTER_IPS[@]}"; do san+=",IP:${MASTER_IPS[$i]},DNS:${MASTER_NAMES[$i]}"; done
  _tb_sign "$d" ca "$d/apiserver" "/CN=apiserver" leaf "${LEAF_BASE[@]}" "extendedKeyUsage = serverAuth" "$san"

  _tb_sign "$d" ca "$d/client" "/O=system:masters/CN=client" leaf "${LEAF_BASE[@]}" "extendedKeyUsage = clientAuth"
  _tb_sign "$d" ca "$d/kubectlClient" "/O=system:masters/CN=client" leaf "${LEAF_BASE[@]}" \
    "extendedKeyUsage = clientAuth"

  san="subjectAltName = DNS:localhost,IP:127.0.0.1"
  for i in "${!MASTER_IPS[@]}"; do san+=",IP:${MASTER_IPS[$i]},DNS:${MASTER_NAMES[$i]}"; done
  _tb_sign "$ecadir" "$ecaname" "$d/etcdserver" "/CN=etcdserver" leaf "${LEAF_BASE[@]}" \
    "extendedKeyUsage = serverAuth,clientAuth" "$san"
  _tb_sign "$ecadir" "$ecaname" "$d/etcdclient" "/CN=etcdclient" leaf "${LEAF_BASE[@]}" "extendedKeyUsage = clientAuth"
  for i in "${!MASTER_IPS[@]}"; do
    _tb_sign "$ecadir" "$ecaname" "$d/etcdpeer$i" "/CN=etcdpeer$i" leaf "${LEAF_BASE[@]}" \
      "extendedKeyUsage = serverAuth,clientAuth" \
      "subjectAltName = IP:${MASTER_IPS[$i]},IP:127.0.0.1,DNS:${MASTER_NAMES[$i]}"
  done
  _tb_sign "$d/proxy" proxy-ca "$d/proxy" "/O=system:masters/CN=aggregator" leaf "${LEAF_BASE[@]}" \
    "extendedKeyUsage = clientAuth"
  rm -rf "$d/proxy" "$d/etcd" "$d/db"
}
