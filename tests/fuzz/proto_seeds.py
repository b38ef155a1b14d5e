#!/usr/bin/env python3
"""tests/fuzz/proto_seeds.py - writes the seed corpus of proto_fuzz
(corpus/proto/): one valid message per topic type, hand-encoded in the
protobuf wire format (no protoc needed). The first byte of each seed is the
index of the message type in proto_fuzz.c's descs[] table.

    python3 tests/fuzz/proto_seeds.py    # rewrites tests/fuzz/corpus/proto/
"""
import os
import struct


def varint(n):
    n &= (1 << 64) - 1
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def vint(field, n):
    return varint(field << 3) + varint(n)


def ld(field, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(field << 3 | 2) + varint(len(data)) + data


def dbl(field, x):
    return varint(field << 3 | 1) + struct.pack("<d", x)


UUID = "cf719137-4417-4d49-a6fe-23748a4c3eac"
META = ld(1, ld(1, UUID) + ld(2, "content.submitted") + vint(3, 1763900000000)
          + ld(4, "ingest@host") + ld(5, "0123456789abcdef0123456789abcdef"))
CONTENT = (ld(1, UUID) + vint(2, 1) + vint(3, 1) + ld(4, "Panen raya") + ld(5, "Warga desa memanen.")
           + ld(6, "35.07.12.2003") + ld(7, UUID) + ld(8, UUID) + ld(9, "panen") + ld(10, "https://kim.id/p.jpg")
           + vint(11, 1) + vint(12, 1763900000000) + ld(13, "Budi") + ld(14, "0812"))
KIM = (ld(1, UUID) + ld(2, "KIM Maju") + ld(3, "35.07.12.2003") + ld(4, "SK 12/2024")
       + ld(5, "2024-02-29") + ld(6, "TIK") + ld(7, ld(1, "email") + ld(2, "kim@desa.id"))
       + ld(8, ld(1, "Ani") + ld(2, "ketua")) + vint(9, 1) + vint(10, 1763900000000) + ld(11, UUID))
SEEDS = {
    0: META + ld(2, "simpul_token") + ld(3, "key-1") + vint(4, 1) + ld(5, "Judul") + ld(6, "Isi berita")
       + ld(7, "35.07.12.2003") + ld(8, UUID) + ld(9, "tag") + ld(10, "https://a.id/x.png"),
    1: META + ld(2, CONTENT),
    2: META + ld(2, KIM) + ld(3, "registered"),
    3: META + ld(2, UUID) + vint(3, 1) + vint(4, 2) + dbl(5, 0.25)
       + ld(6, ld(1, "ABUSIVE_WORD") + ld(3, "kata") + ld(4, ld(1, "body") + vint(2, 3) + vint(3, 7)))
       + ld(7, "auto") + ld(10, "35.07.12.2003") + vint(12, 1) + vint(14, 1763900000000),
    4: META + ld(2, CONTENT) + vint(3, 0) + vint(4, 1763900000000),
    5: META + ld(2, UUID) + vint(3, 1) + vint(4, 1) + ld(5, UUID) + ld(6, "spam") + ld(7, "Judul") + ld(8, "Isi"),
    6: META + ld(2, UUID) + vint(3, 1) + vint(4, 1) + vint(5, 1763900000000) + ld(6, "35.07.12.2003"),
    7: META + ld(2, UUID) + ld(3, UUID) + ld(4, UUID) + ld(5, "webhook") + ld(6, "content.decided")
       + vint(7, 1) + vint(8, 2) + ld(9, "35.07") + vint(10, 1763900000000) + ld(11, "timeout"),
    8: META + ld(2, "35.07") + vint(3, 2) + ld(4, "2026-11-23") + ld(5, vint(1, 1) + vint(2, 3))
       + ld(6, vint(1, 2)) + ld(7, vint(1, 1)) + ld(8, vint(1, 1)) + vint(9, 7) + vint(10, 1763900000000),
    9: META + ld(2, UUID) + ld(3, "KIM Maju") + ld(4, "35.07.12.2003") + ld(5, "verified")
       + vint(6, 1763900000000) + vint(7, 4) + vint(8, 1) + vint(9, 7),
    10: CONTENT,
    11: KIM,
}

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "proto")
os.makedirs(out, exist_ok=True)
for idx, body in SEEDS.items():
    with open(os.path.join(out, "msg_%02d" % idx), "wb") as f:
        f.write(bytes([idx]) + body)
with open(os.path.join(out, "intake_bad_type"), "wb") as f:
    f.write(bytes([0]) + META + vint(4, 99) + ld(5, "t") + ld(7, "35"))
