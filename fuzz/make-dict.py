#!/usr/bin/env python3
"""Writes fuzz/cmp.dict: AFL dictionary of DER tokens and the OIDs the CMP, CRMF, PBM and OCSP parsers look for.
Usage: python3 fuzz/make-dict.py > fuzz/cmp.dict"""


def oid_der(dotted):
    parts = [int(p) for p in dotted.split(".")]
    out = bytes([40 * parts[0] + parts[1]])
    for p in parts[2:]:
        chunk = [p & 0x7F]
        p >>= 7
        while p:
            chunk.append(0x80 | (p & 0x7F))
            p >>= 7
        out += bytes(reversed(chunk))
    return bytes([0x06, len(out)]) + out


OIDS = {
    # RFC 4211 section 4.4 / RFC 9481 section 6.1.1 PasswordBasedMac and its functions
    "passwordBasedMac": "1.2.840.113533.7.66.13",
    "sha1": "1.3.14.3.2.26",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
    "hmacWithSHA1": "1.2.840.113549.2.7",
    "hmacWithSHA256": "1.2.840.113549.2.9",
    "hmacWithSHA512": "1.2.840.113549.2.11",
    "hmac_sha1_ipsec": "1.3.6.1.5.5.8.1.2",
    # keys and signatures (RFC 9481 sections 2, 3)
    "ecPublicKey": "1.2.840.10045.2.1",
    "prime256v1": "1.2.840.10045.3.1.7",
    "secp384r1": "1.3.132.0.34",
    "secp521r1": "1.3.132.0.35",
    "rsaEncryption": "1.2.840.113549.1.1.1",
    "sha256WithRSA": "1.2.840.113549.1.1.11",
    "rsassaPss": "1.2.840.113549.1.1.10",
    "ecdsaWithSHA256": "1.2.840.10045.4.3.2",
    "ecdsaWithSHA384": "1.2.840.10045.4.3.3",
    "ed25519": "1.3.101.112",
    # CMP InfoTypeAndValue types (RFC 9810 section 5.3.19, RFC 9483 section 4.3)
    "it_implicitConfirm": "1.3.6.1.5.5.7.4.13",
    "it_confirmWaitTime": "1.3.6.1.5.5.7.4.14",
    "it_caCerts": "1.3.6.1.5.5.7.4.17",
    "it_rootCaKeyUpdate": "1.3.6.1.5.5.7.4.18",
    "it_certReqTemplate": "1.3.6.1.5.5.7.4.19",
    "it_rootCaCert": "1.3.6.1.5.5.7.4.20",
    "it_crlStatusList": "1.3.6.1.5.5.7.4.22",
    "it_crls": "1.3.6.1.5.5.7.4.23",
    # CRMF controls (RFC 4211 section 6)
    "regToken": "1.3.6.1.5.5.7.5.1.1",
    "authenticator": "1.3.6.1.5.5.7.5.1.2",
    "oldCertID": "1.3.6.1.5.5.7.5.1.5",
    # X.509 names and extensions (RFC 5280)
    "commonName": "2.5.4.3",
    "organizationName": "2.5.4.10",
    "uid": "0.9.2342.19200300.100.1.1",
    "subjectAltName": "2.5.29.17",
    "reasonCode": "2.5.29.21",
    "invalidityDate": "2.5.29.24",
    "keyUsage": "2.5.29.15",
    "extKeyUsage": "2.5.29.37",
    # OCSP (RFC 6960 section 4.4.1, RFC 8954)
    "ocspNonce": "1.3.6.1.5.5.7.48.1.2",
    "ocspBasic": "1.3.6.1.5.5.7.48.1.1",
}

TOKENS = {
    "seq_indef": b"\x30\x80",
    "eoc": b"\x00\x00",
    "seq_long2": b"\x30\x82",
    "seq_long4": b"\x30\x84\x7f\xff\xff\xff",
    "int_0": b"\x02\x01\x00",
    "int_2": b"\x02\x01\x02",
    "int_neg": b"\x02\x01\xff",
    "int_big": b"\x02\x09\x01\x00\x00\x00\x00\x00\x00\x00\x00",
    "null": b"\x05\x00",
    "bool_true": b"\x01\x01\xff",
    "octets_16": b"\x04\x10",
    "bitstring_0": b"\x03\x01\x00",
    "utf8": b"\x0c\x04fuzz",
    "gentime": b"\x18\x0f20250101000000Z",
    "utctime": b"\x17\x0d250101000000Z",
    "pvno_ctx0": b"\xa0\x03\x02\x01\x02",
    "ctx1": b"\xa1\x00",
    "ctx2": b"\xa2\x00",
    "ctx4": b"\xa4\x00",
    "ctx0_prim": b"\x80\x00",
    "body_ir": b"\xa0",
    "body_cr": b"\xa2",
    "body_p10cr": b"\xa4",
    "body_kur": b"\xa7",
    "body_rr": b"\xab",
    "body_nested": b"\xb4",
    "body_genm": b"\xb5",
    "body_certconf": b"\xb8",
    "body_pollreq": b"\xb9",
    "tcp_version10": b"\x0a\x00\x00",
    "tcp_close": b"\x0a\x01\x00",
    "tcp_len_max": b"\xff\xff\xff\xff",
}


def escape(data):
    return "".join(f"\\x{b:02x}" for b in data)


print("# DER tokens and OIDs for the CmpCluster harnesses (fuzz/make-dict.py writes this file).")
for name, value in TOKENS.items():
    print(f'{name}="{escape(value)}"')
for name, dotted in OIDS.items():
    print(f'oid_{name}="{escape(oid_der(dotted))}"')
