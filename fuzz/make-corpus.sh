#!/usr/bin/env bash
# Regenerates the starting corpus in fuzz/corpus from real clients (fuzz/README.md, "Starting corpus"):
#   openssl cmp against a running node (requests and responses saved with -reqout / -rspout),
#   openssl ocsp -reqout, and TCP frames (protocol/Transport/CmpTcpFrame.cs) around those messages.
# Usage: fuzz/make-corpus.sh HOST:PORT DATA_DIR   (a node started as in README.md's quickstart, loopback only)
set -euo pipefail
SERVER=${1:?HOST:PORT of a running node}
DATA=${2:?the node\'s data directory (for pki/root-ca.pem)}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/corpus
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT/request" "$OUT/tcp" "$OUT/ocsp"
cd "$WORK"
ROOT=$DATA/pki/root-ca.pem
ISSUING=$DATA/pki/issuing-ca.pem
CMP=(openssl cmp -server "$SERVER" -path .well-known/cmp/p/ra -ref ra -secret pass:changeit -trusted "$ROOT")

openssl ecparam -genkey -name prime256v1 -noout -out ec.key
openssl genrsa -out rsa.key 2048 2>/dev/null
openssl ecparam -genkey -name secp384r1 -noout -out ec384.key

# ir with PBM, then certConf (two requests, two files); responses kept for the TCP client-side inputs.
"${CMP[@]}" -cmd ir -newkey ec.key -subject "/CN=fuzz-ir/O=Example" -certout ir.pem \
  -reqout req-ir-pbm.der,req-certconf-pbm.der -rspout rsp-ip.der,rsp-pkiconf.der
# ir with implicitConfirm, an RSA key, a SAN and policies from the template options.
"${CMP[@]}" -cmd ir -newkey rsa.key -subject "/CN=fuzz-rsa/O=Example/UID=u1" -implicit_confirm \
  -sans "fuzz.example.org,192.0.2.1,mail@example.org" -certout rsa.pem -reqout req-ir-implicit-rsa-san.der
# cr with P-384 and extended key usage requested.
"${CMP[@]}" -cmd cr -newkey ec384.key -subject "/CN=fuzz-cr" -certout cr.pem \
  -reqout req-cr-pbm.der,req-certconf-cr.der || true
# raVerified POP (refused by the alias: only the request matters).
"${CMP[@]}" -cmd ir -newkey ec.key -subject "/CN=fuzz-raverified" -popo 0 -certout x1.pem -reqout req-ir-raverified.der || true
# p10cr (a PKCS#10 inside CMP; not supported yet, but parsed).
openssl req -new -key ec.key -subj "/CN=fuzz-p10" -out p10.csr
"${CMP[@]}" -cmd p10cr -csr p10.csr -certout x5.pem -reqout req-p10cr.der || true
# Signature-protected: kur, rr and genm with the certificate from the first ir.
SIG=(openssl cmp -server "$SERVER" -path .well-known/cmp/p/ra -trusted "$ROOT" -cert ir.pem -key ec.key -extracerts "$ISSUING")
openssl ecparam -genkey -name prime256v1 -noout -out ec2.key
"${SIG[@]}" -cmd kur -newkey ec2.key -certout x2.pem -reqout req-kur-signed.der || true
"${SIG[@]}" -cmd rr -oldcert ir.pem -revreason 1 -reqout req-rr-signed.der || true
"${SIG[@]}" -cmd genm -infotype caCerts -reqout req-genm-cacerts-signed.der || true
# PBM-protected rr and genm variants.
"${CMP[@]}" -cmd rr -oldcert rsa.pem -revreason 4 -reqout req-rr-pbm.der || true
"${CMP[@]}" -cmd genm -infotype signKeyPairTypes -reqout req-genm-pbm.der || true
# kur in RA mode with oldCertID (PBM) and an ir without protection.
"${CMP[@]}" -cmd kur -oldcert rsa.pem -newkey ec2.key -subject "/CN=fuzz-rsa/O=Example/UID=u1" -certout x3.pem -reqout req-kur-pbm.der || true
openssl cmp -server "$SERVER" -path .well-known/cmp/p/ra -trusted "$ROOT" -unprotected_requests -cmd ir -newkey ec.key \
  -subject "/CN=fuzz-unprotected" -certout x4.pem -reqout req-ir-unprotected.der || true

cp req-*.der "$OUT/request/"
cp rsp-ip.der "$OUT/request/" 2>/dev/null || true
python3 "$HERE/make-corpus.py" "$OUT" "$WORK"

# OCSP requests (openssl ocsp writes the request and stops without -url).
openssl ocsp -issuer "$ISSUING" -cert ir.pem -reqout "$OUT/ocsp/ocsp-one-nonce.der" >/dev/null
openssl ocsp -issuer "$ISSUING" -cert ir.pem -no_nonce -reqout "$OUT/ocsp/ocsp-one-no-nonce.der" >/dev/null
openssl ocsp -issuer "$ISSUING" -sha256 -cert ir.pem -cert rsa.pem -serial 0x1234 -reqout "$OUT/ocsp/ocsp-three-sha256.der" >/dev/null
openssl ocsp -issuer "$ISSUING" -cert ir.pem -signer ir.pem -signkey ec.key -reqout "$OUT/ocsp/ocsp-signed.der" >/dev/null
openssl ocsp -issuer "$ROOT" -sha1 -serial 1 -reqout "$OUT/ocsp/ocsp-root-serial.der" >/dev/null
echo "corpus written to $OUT"
