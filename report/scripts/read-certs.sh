# shellcheck shell=bash
# The expiry report's and the drift check's one remote script (npm run report, and
# components/rollout/drift.ts at every preview and up): sent over SSH on stdin to
# `sudo -n bash -s -- KIND PATH KEY [KIND PATH KEY]...` and run as root. Read-only: it changes no
# file. For each file it prints the certificates in it (PEM: public), and for its private key only
# the SHA-256 of the key's public half (DER SubjectPublicKeyInfo), computed here: no private key
# leaves the node. Of a public-key file (sa.pub) it prints the SHA-256 of each key's DER
# SubjectPublicKeyInfo, computed here too. The report parses the certificates itself, with the
# code that makes the stack's `certificates` output (openssl's own printout differs between 1.0.2
# on Ubuntu 16.04 and 3.x, and 1.0.2 has no -ext).
#
# Arguments, three per file:
#   cert PATH KEY         PEM certificates in PATH; KEY the private key file that goes with the
#                         first one ("-": none on this node; PATH itself for a pem holding both)
#   kubeconfig PATH -     a kubeconfig: its first user's client certificate and key, embedded
#                         (client-certificate-data, client-key-data) or named files
#   pubkeys PATH -        PEM public keys (-----BEGIN PUBLIC KEY-----) in PATH, e.g. sa.pub
# Output, per file (lines starting with @; PEM lines between them):
#   @file PATH
#   @status present | missing | unreadable REASON
#   @link TARGET          PATH is a symbolic link to TARGET
#   @mode OCTAL
#   @from embedded | FILE | none     (kubeconfig) where its client certificate is
#   @problem TEXT         something that keeps a certificate or key from being read; pubkeys: a
#                         PEM block that is not a PUBLIC KEY (named by its label alone: its
#                         content is never printed), or one that does not parse
#   <PEM certificate blocks>                            (cert, kubeconfig)
#   @key HEX | @key missing FILE | @key unreadable FILE | @key none   (cert, kubeconfig)
#   @pubkey HEX           (pubkeys) one per PUBLIC KEY block, in file order: the SHA-256 (lowercase
#                         hex) of its DER SubjectPublicKeyInfo
#   @end
# and @done after the last file: output without it was cut off.
# A missing file is reported, not an error; the exit status is 0 unless the arguments are wrong.
set -euo pipefail
umask 077

ROOT=${AZS_ROOT:-} # a prefix for every path: lets the unit tests read a scratch tree

# certs_of: the CERTIFICATE blocks of stdin, nothing else (a combined pem also holds its key)
certs_of() { sed -n '/^-----BEGIN CERTIFICATE-----/,/^-----END CERTIFICATE-----/p'; }

# key_hash: the SHA-256 of the public half of the private key on stdin; fails on no key
key_hash() {
  local out
  out=$(openssl pkey -pubout -outform DER 2>/dev/null | sha256sum) || return 1
  printf '%s\n' "${out%% *}"
}

# pubkey_hash: the SHA-256 of the DER SubjectPublicKeyInfo of the PEM public key on stdin; fails on none
pubkey_hash() {
  local out
  out=$(openssl pkey -pubin -pubout -outform DER 2>/dev/null | sha256sum) || return 1
  printf '%s\n' "${out%% *}"
}

# report_key FILE: the @key line for a private key file
report_key() {
  local key=$1 hash
  if [[ ! -e $ROOT$key ]]; then
    echo "@key missing $key"
  elif hash=$(key_hash <"$ROOT$key"); then
    echo "@key $hash"
  else
    echo "@key unreadable $key"
  fi
}

# kube_field FILE NAME: the first value of NAME in a kubeconfig, YAML or JSON (quotes and a
# trailing comma removed); nothing when absent
kube_field() {
  sed -n -E "/^[[:space:]]*\"?$2\"?[[:space:]]*:/{s/^[[:space:]]*\"?$2\"?[[:space:]]*:[[:space:]]*\"?([^\",[:space:]]*)\"?,?[[:space:]]*$/\\1/p;q;}" "$1"
}

# named FILE KUBECONFIG: a file a kubeconfig names, as a path on this node (relative to its directory)
named() {
  case $1 in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$(dirname "$2")" "$1" ;;
  esac
}

# present PATH: the @status, @link and @mode lines; fails when there is nothing to read
present() {
  local file=$ROOT$1
  if [[ -L $file && ! -e $file ]]; then
    echo "@status unreadable a symbolic link to $(readlink "$file"), which does not exist"
    return 1
  fi
  if [[ ! -e $file ]]; then
    echo "@status missing"
    return 1
  fi
  if [[ ! -f $file || ! -r $file ]]; then
    echo "@status unreadable not a readable file"
    return 1
  fi
  echo "@status present"
  if [[ -L $file ]]; then echo "@link $(readlink "$file")"; fi
  echo "@mode $(stat -L -c %a "$file")"
}

read_cert() { # PATH KEY
  local path=$1 key=$2
  present "$path" || return 0
  certs_of <"$ROOT$path"
  if [[ $key == - ]]; then echo "@key none"; else report_key "$key"; fi
}

# pubkey_block N LABEL PEM: the line for the file's Nth PEM block, whose label is LABEL
pubkey_block() {
  local n=$1 label=$2 pem=$3 hash
  if [[ $label != "PUBLIC KEY" ]]; then
    echo "@problem block $n is a $label, not a PUBLIC KEY"
  elif hash=$(printf '%s' "$pem" | pubkey_hash); then
    echo "@pubkey $hash"
  else
    echo "@problem block $n, a PUBLIC KEY, does not parse"
  fi
}

read_pubkeys() { # PATH
  local path=$1 line label="" pem="" n=0
  local begin='^-----BEGIN (.+)-----$'
  present "$path" || return 0
  # text outside the blocks is left out; only a PUBLIC KEY block's lines are kept
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    if [[ -n $label && $line == "-----END $label-----" ]]; then
      pubkey_block "$n" "$label" "$pem$line"$'\n'
      label=""
      pem=""
    elif [[ $line =~ $begin ]]; then
      if [[ -n $label ]]; then echo "@problem block $n, a $label, has no END line"; fi
      label=${BASH_REMATCH[1]}
      n=$((n + 1))
      pem=$line$'\n'
    elif [[ $label == "PUBLIC KEY" ]]; then
      pem+=$line$'\n'
    fi
  done <"$ROOT$path"
  if [[ -n $label ]]; then echo "@problem block $n, a $label, has no END line"; fi
}

read_kubeconfig() { # PATH
  local path=$1 file=$ROOT$1 data ref hash
  present "$path" || return 0
  data=$(kube_field "$file" client-certificate-data)
  ref=$(kube_field "$file" client-certificate)
  if [[ -n $data ]]; then
    echo "@from embedded"
    if ! printf '%s' "$data" | base64 -d 2>/dev/null | certs_of; then echo "@problem client-certificate-data is not base64"; fi
  elif [[ -n $ref ]]; then
    ref=$(named "$ref" "$path")
    echo "@from $ref"
    if [[ -f $ROOT$ref && -r $ROOT$ref ]]; then certs_of <"$ROOT$ref"; else echo "@problem the client certificate it names, $ref, is missing or unreadable"; fi
  else
    echo "@from none"
  fi
  data=$(kube_field "$file" client-key-data)
  ref=$(kube_field "$file" client-key)
  if [[ -n $data ]]; then
    # the key only goes through pipes (a here-string would be a temporary file before bash 5.1)
    if hash=$(printf '%s' "$data" | base64 -d 2>/dev/null | key_hash); then echo "@key $hash"; else echo "@key unreadable client-key-data"; fi
  elif [[ -n $ref ]]; then
    report_key "$(named "$ref" "$path")"
  else
    echo "@key missing client-key-data"
  fi
}

main() {
  if (($# % 3 != 0)); then
    echo "read-certs: arguments come in threes: KIND PATH KEY" >&2
    exit 2
  fi
  while (($# > 0)); do
    local kind=$1 path=$2 key=$3
    shift 3
    echo "@file $path"
    case $kind in
      cert) read_cert "$path" "$key" ;;
      kubeconfig) read_kubeconfig "$path" ;;
      pubkeys)
        if [[ $key != - ]]; then
          echo "read-certs: pubkeys $path takes no key file (-), not $key" >&2
          exit 2
        fi
        read_pubkeys "$path"
        ;;
      *)
        echo "read-certs: unknown kind $kind" >&2
        exit 2
        ;;
    esac
    echo "@end"
  done
  echo "@done"
}

main "$@"
