#!/usr/bin/env bash
# Certificates for mutual TLS on the Orleans links of cluster mode (silo <-> silo, gateway -> silo): a cluster CA and one
# certificate per name given (default: silo gateway). Existing files are kept, so reruns add names without re-keying.
#   deploy/local/cluster-tls.sh DIR [NAME...]
# Each process then gets Cluster__Tls__CertificatePath=DIR/NAME.pem, Cluster__Tls__KeyPath=DIR/NAME.key.pem and
# Cluster__Tls__TrustedCaPath=DIR/cluster-ca.pem. Keep cluster-ca.key.pem offline in a real deployment.
set -euo pipefail
dir=${1:?usage: cluster-tls.sh DIR [NAME...]}
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(silo gateway)
mkdir -p "$dir"
cd "$dir"
umask 077
if [ ! -f cluster-ca.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout cluster-ca.key.pem -out cluster-ca.pem \
    -days 825 -subj "/CN=CmpCluster cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi
ext=$(mktemp)
trap 'rm -f "$ext"' EXIT
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:cmpcluster\n' >"$ext"
for name in "${names[@]}"; do
  [ -f "$name.pem" ] && continue
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$name.key.pem" -out "$name.csr" \
    -subj "/CN=cmpcluster-$name" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA cluster-ca.pem -CAkey cluster-ca.key.pem -CAcreateserial -days 397 \
    -extfile "$ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr"
done
chmod 644 ./*.pem
chmod 600 ./*.key.pem
echo "cluster TLS material in $dir: cluster-ca.pem ${names[*]/%/.pem}"
