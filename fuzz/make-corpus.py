#!/usr/bin/env python3
"""Derived corpus inputs for fuzz/corpus, built from the real openssl requests that fuzz/make-corpus.sh saved.

OpenSSL 3.0 cannot send nested, pollReq, or the genm types of RFC 9483 section 4.3, nor a certConf that rejects; these
are made here from a real request's header (protection removed: RFC 9810 section 5.1.3 wants protectionAlg and
protection together) with hand-built bodies. TCP inputs wrap messages in the frames of protocol/Transport/CmpTcpFrame.cs,
behind the control byte of the tcp harness (fuzz/Harness/FuzzTargets.cs).
Usage: make-corpus.py CORPUS_DIR WORK_DIR (WORK_DIR holds req-*.der, rsp-*.der, ir.pem from make-corpus.sh)
"""
import os
import struct
import subprocess
import sys


def length(n):
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag, content):
    return bytes([tag]) + length(len(content)) + content


def seq(*items):
    return tlv(0x30, b"".join(items))


def integer(value):
    return tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True))


def oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, out)


def read_tlv(data, pos=0):
    tag = data[pos]
    first = data[pos + 1]
    if first < 0x80:
        size, header = first, 2
    else:
        count = first & 0x7F
        size, header = int.from_bytes(data[pos + 2:pos + 2 + count], "big"), 2 + count
    return tag, data[pos + header:pos + header + size], pos + header + size


def children(content):
    pos, out = 0, []
    while pos < len(content):
        tag, value, end = read_tlv(content, pos)
        out.append((tag, content[pos:end]))
        pos = end
    return out


def unprotected_header(message, transaction_id=None):
    """The header of a PKIMessage without protectionAlg ([1]), optionally with another transactionID ([4])."""
    _, content, _ = read_tlv(message)
    header = children(content)[0][1]
    _, header_content, _ = read_tlv(header)
    fields = []
    for tag, raw in children(header_content):
        if tag == 0xA1:
            continue
        if tag == 0xA4 and transaction_id is not None:
            raw = tlv(0xA4, tlv(0x04, transaction_id))
        fields.append(raw)
    return seq(*fields)


def body(message):
    _, content, _ = read_tlv(message)
    return children(content)[1][1]


def message(header, body_tag, body_content):
    return seq(header, tlv(body_tag, body_content))


def cert_der(pem):
    return subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER"], check=True, capture_output=True).stdout


def issuer_and_serial(der):
    _, cert, _ = read_tlv(der)
    tbs = children(cert)[0][1]
    _, tbs_content, _ = read_tlv(tbs)
    fields = children(tbs_content)
    offset = 1 if fields[0][0] == 0xA0 else 0
    return fields[offset + 2][1], fields[offset][1]  # issuer Name, serialNumber INTEGER


def frame(value, msg_type=0, flags=0, version=10, declared=None):
    n = len(value) + 3 if declared is None else declared
    return struct.pack(">I", n) + bytes([version, flags, msg_type]) + value


def main():
    corpus, work = sys.argv[1], sys.argv[2]
    req = lambda name: open(os.path.join(work, name), "rb").read()
    write = lambda folder, name, data: open(os.path.join(corpus, folder, name), "wb").write(data)

    ir = req("req-ir-pbm.der")
    cert_conf = req("req-certconf-pbm.der")
    genm = req("req-genm-pbm.der")
    header = unprotected_header(genm)
    ir_cert = cert_der(os.path.join(work, "ir.pem"))
    issuer, serial = issuer_and_serial(ir_cert)

    # genm (RFC 9483 section 4.3): caCerts, certReqTemplate, rootCaCert with the client's root, crlStatusList by issuer and by URL.
    it = "1.3.6.1.5.5.7.4."
    items = [seq(oid(it + "17")), seq(oid(it + "19"))]
    write("request", "gen-genm-catalogue.der", message(header, 0xB5, seq(*items)))
    write("request", "gen-genm-rootcacert.der", message(header, 0xB5, seq(seq(oid(it + "20"), ir_cert))))
    # CRLSource ::= CHOICE { dpn [0], issuer [1] }, explicit tags (RFC 9810 Appendix F: DEFINITIONS EXPLICIT TAGS).
    crl_by_issuer = seq(tlv(0xA1, seq(tlv(0xA4, issuer))), tlv(0x17, b"250101000000Z"))
    crl_by_url = seq(tlv(0xA0, tlv(0xA0, tlv(0x86, b"http://127.0.0.1:8080/crl/issuing.crl"))))
    write("request", "gen-genm-crlstatuslist.der", message(header, 0xB5, seq(seq(oid(it + "22"), seq(crl_by_issuer, crl_by_url)))))

    # pollReq (RFC 9810 section 5.3.22) for certReqId 0.
    write("request", "gen-pollreq.der", message(header, 0xB9, seq(seq(integer(0)))))

    # certConf that rejects, with hashAlg (RFC 9480 section 2.10) and statusInfo.
    status = seq(tlv(0x04, bytes(32)), integer(0), seq(integer(2), seq(tlv(0x0C, b"rejected"))),
                 tlv(0xA0, seq(oid("2.16.840.1.101.3.4.2.1"))))
    write("request", "gen-certconf-reject.der", message(header, 0xB8, seq(status)))

    # rr with reason code and invalidity date entry extensions (RFC 5280 sections 5.3.1, 5.3.2).
    template = seq(tlv(0x81, read_tlv(serial)[1]), tlv(0xA3, issuer))
    extensions = seq(seq(oid("2.5.29.21"), tlv(0x04, tlv(0x0A, b"\x01"))),
                     seq(oid("2.5.29.24"), tlv(0x04, tlv(0x18, b"20250101000000Z"))))
    write("request", "gen-rr-reason-invalidity.der", message(header, 0xAB, seq(seq(template, extensions))))

    # nested (RFC 9810 section 5.1.3.4): an RA's envelope around the real ir and certConf, outer unprotected.
    outer = unprotected_header(ir, transaction_id=bytes(range(16)))
    write("request", "gen-nested-ir-certconf.der", message(outer, 0xB4, seq(ir, cert_conf)))

    # TCP frames. Control byte: bit 0 clear = server side (reads pkiReq), bits 1..7 = bytes per read (0: all).
    write("tcp", "tcp-ir.bin", b"\x00" + frame(ir))
    write("tcp", "tcp-ir-certconf-close.bin", b"\x00" + frame(ir) + frame(cert_conf, flags=1))
    write("tcp", "tcp-ir-trickle.bin", bytes([3 << 1]) + frame(ir, flags=1))
    write("tcp", "tcp-genm-then-garbage.bin", b"\x00" + frame(genm) + b"\x00\x00\x00")
    write("tcp", "tcp-bad-version.bin", b"\x00" + frame(ir, version=2))
    write("tcp", "tcp-too-large.bin", b"\x00" + frame(b"", declared=0xFFFFFFFF))
    write("tcp", "tcp-too-short.bin", b"\x00" + struct.pack(">I", 2) + b"\x0a\x00")
    write("tcp", "tcp-pollreq-type.bin", b"\x00" + frame(b"", msg_type=2))
    rsp = os.path.join(work, "rsp-ip.der")
    if os.path.exists(rsp):
        ip = open(rsp, "rb").read()
        write("tcp", "tcp-client-pkirep-finrep.bin", b"\x01" + frame(ip, msg_type=5) + frame(b"\x00", msg_type=3, flags=1))
    write("tcp", "tcp-client-errormsgrep.bin", b"\x01" + frame(b"\x00\x03bad message", msg_type=6, flags=1))


if __name__ == "__main__":
    main()
