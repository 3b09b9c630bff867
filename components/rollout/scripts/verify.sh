# shellcheck shell=bash
# Checks of staged files, before anything on the node changes: the preflight checks every file of
# the node's CA stage together and records the ones it found good (by content hash and path); a
# step then swaps those without checking them again, and checks itself any file the preflight did
# not record (a rerun after the preflight, a file changed since).

# verify_staged STAGE: every certificate parses and is within its validity, every key matches its
# certificate, and leaves chain to one of the CA certificates (staged or installed). Nothing on
# the node has changed when this fails.
verify_staged() {
  local stage=$1 dest staged key key_dest key_pub trust cert_pub leaves=() chains
  trust=$(mktemp)
  for dest in ${PARAM[ca_certs]}; do
    dest=$ROOT$dest
    if [[ -n ${STAGED_RESTARTS[$dest]+x} ]]; then cat "$(staged_path "$stage" "$dest")" >>"$trust"
    elif [[ -f $dest ]]; then cat "$dest" >>"$trust"; fi
  done
  for dest in ${STAGED_FILES[@]+"${STAGED_FILES[@]}"}; do
    staged=$(staged_path "$stage" "$dest")
    case $dest in
      *.crt)
        # one openssl run parses it, checks it is still valid and prints its public key
        cert_pub=$(openssl x509 -noout -checkend 0 -pubkey -in "$staged" 2>/dev/null) \
          || die "$dest: not a PEM certificate, or it has expired; nothing was changed"
        is_ca_cert "$dest" || leaves+=("$staged")
        # its key: the staged one, else the installed one (agents have apiserver.crt without a key)
        key_dest=$(key_of "$dest")
        key=$key_dest
        if [[ -n ${STAGED_RESTARTS[$key]+x} ]]; then key=$(staged_path "$stage" "$key"); fi
        # a CA bundle matches its key when any generation in it does (during a CA rotation the key
        # may be installed by a later step than the bundle)
        if is_ca_cert "$dest"; then cert_pub=$(bundle_public_keys "$staged"); fi
        # both print the public key as the same PEM block: one matches when the text holds the other
        if [[ -f $key ]]; then
          key_pub=$(openssl pkey -pubout -in "$key" 2>/dev/null) || key_pub=""
          [[ -n $key_pub && $cert_pub == *"$key_pub"* ]] || die "$dest does not match the private key $key_dest; nothing was changed"
        fi
        ;;
      *.key) openssl pkey -noout -in "$staged" 2>/dev/null || die "$dest: not a PEM private key; nothing was changed" ;;
      *.pub)
        # the public keys that verify tokens must include the signing key's (staged or installed):
        # else the apiserver refuses the tokens it issues, which its /readyz would not show
        key_pub=$(public_key_lines "$staged") || key_pub=""
        [[ -n $key_pub ]] || die "$dest: not PEM public keys; nothing was changed"
        key_dest=$(key_of "$dest")
        key=$key_dest
        if [[ -n ${STAGED_RESTARTS[$key]+x} ]]; then key=$(staged_path "$stage" "$key"); fi
        if [[ -f $key ]] && ! grep -qxF "$(openssl pkey -pubout -in "$key" 2>/dev/null | pem_lines)" <<<"$key_pub"; then
          die "$dest does not hold the public key of the signing key $key_dest; nothing was changed"
        fi
        ;;
    esac
  done
  # every leaf's chain in one openssl run: it prints "<file>: OK" for each one that verifies
  if ((${#leaves[@]})); then
    chains=$'\n'$(openssl verify -CAfile "$trust" -- ${leaves[@]+"${leaves[@]}"} 2>/dev/null)$'\n' || true
    for staged in ${leaves[@]+"${leaves[@]}"}; do
      [[ $chains == *$'\n'"$staged: OK"$'\n'* ]] || die "$ROOT${staged#"$stage"}: not signed by any of the cluster's CAs; nothing was changed"
    done
  fi
  rm -f "$trust"
}

# key_of DEST: the private key of the certificate (or public keys) DEST: named after it, unless
# PARAM[cert_keys] names another (ca-signing.crt: ca.key; sa.pub: apiserver.key in AKS Engine's layout).
key_of() {
  local pair
  for pair in ${PARAM[cert_keys]:-}; do
    [[ $ROOT${pair%%=*} == "$1" ]] && { printf '%s' "$ROOT${pair#*=}"; return 0; }
  done
  printf '%s' "${1%.crt}.key"
}

is_ca_cert() { [[ " ${PARAM[ca_certs]} " == *" ${1#"$ROOT"} "* ]]; } # DEST

# bundle_public_keys FILE: the public key of every certificate in a PEM bundle.
bundle_public_keys() {
  local block=""
  while IFS= read -r line; do
    block+="$line"$'\n'
    if [[ $line == "-----END CERTIFICATE-----" ]]; then
      openssl x509 -noout -pubkey <<<"$block"
      block=""
    fi
  done <"$1"
}

# public_key_lines FILE: each public key in a PEM file as one line (pem_lines); fails when a block
# is not a public key.
public_key_lines() {
  local line block=""
  while IFS= read -r line; do
    block+="$line"$'\n'
    if [[ $line == "-----END PUBLIC KEY-----" ]]; then
      openssl pkey -pubin -pubout <<<"$block" 2>/dev/null | pem_lines || return 1
      block=""
    fi
  done <"$1"
  [[ -z ${block//[[:space:]]/} ]]
}

# pem_lines: each PEM block on stdin joined into one line (base64 only), for whole-key comparisons.
pem_lines() {
  awk '/^-----BEGIN/ { k = ""; next } /^-----END/ { print k; next } { k = k $0 }'
}

# The preflight's record of the files it verified: one file per preflight, a line per file with
# the hash of its content and its path (each CA stage of a one-shot has its own preflight: their
# records add up). A record is good for a day: a file re-sent later is checked again (it may have
# expired since). One sha256sum per preflight and per step, whatever the number of files.
VERIFIED_DIR=$WORK_DIR/verified
VERIFIED_MINUTES=1440

# staged_hashes STAGE [ALL]: "<sha256>  <path on the node without its leading />" of each staged
# certificate, key and public-key file (with ALL, of every staged file).
staged_hashes() {
  local stage=$1 dest paths=()
  for dest in ${STAGED_FILES[@]+"${STAGED_FILES[@]}"}; do
    case $dest in *.crt | *.key | *.pub) ;; *) [[ -n ${2:-} ]] || continue ;; esac
    paths+=("${dest#"$ROOT"/}")
  done
  ((${#paths[@]})) || return 0
  (cd "$stage" && sha256sum -- ${paths[@]+"${paths[@]}"})
}

# record_verified STAGE: after verify_staged passed in the preflight, records every staged file
# (and forgets the records older than a day).
record_verified() {
  local record
  make_work_dir
  mkdir -p "$VERIFIED_DIR"
  find "$VERIFIED_DIR" -type f -mmin +"$VERIFIED_MINUTES" -delete
  record=$(mktemp "$VERIFIED_DIR/.new.XXXXXX")
  staged_hashes "$1" all >"$record"
  mv "$record" "$VERIFIED_DIR/$(date -u +%Y%m%dT%H%M%S)-$$"
}

# verified_by_preflight STAGE: every staged certificate, key and public-key file is one a preflight
# verified at this path within the day (flag files and kubeconfigs are not checked either way).
verified_by_preflight() {
  local mine fresh
  mine=$(staged_hashes "$1")
  if [[ -n $mine ]]; then
    fresh=$(find "$VERIFIED_DIR" -maxdepth 1 -type f -name '[0-9]*' -mmin -"$VERIFIED_MINUTES" -exec cat {} + 2>/dev/null) || return 1
    [[ -n $fresh && -z $(grep -vxF -f <(printf '%s\n' "$fresh") <<<"$mine") ]] || return 1
  fi
  log "every file was verified by the preflight"
}
