#!/usr/bin/env python3
"""inject.py - send crafted Ethernet frames through an AF_PACKET socket.

Standard library only.  Used by the eBPF metrics agent integration tests.

Usage:
  python3 inject.py --iface IF --src-mac MAC --dst-mac MAC \
      --src-ip A --dst-ip B [--src-ip6 A6 --dst-ip6 B6] --spec SPEC
  python3 inject.py --selftest

SPEC is a comma separated list of ``kind:count[:payload_len]``.

Kinds (payload is payload_len bytes of 0x61, default 32):
  udp            IPv4 / UDP  sport 40000 dport 40001
  tcp            IPv4 / TCP SYN (20 byte header, no options) sport 40000
                 dport 40002; the payload is carried as SYN data
                 (use ``tcp:N:0`` for a bare SYN)
  icmp           IPv4 / ICMP echo request (8 byte header + payload)
  udp6, tcp6     same as udp/tcp over IPv6 (need --src-ip6/--dst-ip6)
  icmp6          IPv6 / ICMPv6 echo request
  arp            ARP request (28 byte body, no payload); the Ethernet
                 destination is --dst-mac (not broadcast)
  vlan-udp       802.1Q tag (VID 10) then IPv4 / UDP
  qinq-udp       802.1ad tag 0x88a8 (VID 100), 802.1Q tag (VID 10),
                 then IPv4 / UDP
  ipv6-hbh-udp   IPv6, 8 byte hop-by-hop header (PadN), then UDP
  ipv6-frag-udp  IPv6, fragment header (offset 0, M=0), then UDP
  unknown        ethertype 0x88b5 + payload (default 50 bytes)
  trunc-ipv4     ethertype 0x0800 + only the first 10 bytes of an IPv4 header
  trunc-ipv6     ethertype 0x86dd + only the first 20 bytes of an IPv6 header
arp, trunc-ipv4 and trunc-ipv6 take no payload_len.

IPv4: IHL 5, DF set, TTL 64, valid header checksum.  IPv6: hop limit 64.
All L4 checksums are valid (UDP/TCP/ICMPv6 include the pseudo header).

Frames are sent exactly as built: no padding to 60 bytes, no FCS.  After
sending, one JSON line is printed to stdout:
  {"udp": {"packets": 3, "bytes": 222}, ...}
where bytes is the sum of the frame lengths handed to send().  A short send
or any send error exits 1.

Importable: build_frame(kind, args, seq=0) returns the frame as bytes; args
is any object (e.g. argparse.Namespace / types.SimpleNamespace) with
attributes src_mac, dst_mac, src_ip, dst_ip, src_ip6, dst_ip6 and
payload_len (None = kind default).
"""

import argparse
import json
import socket
import struct
import sys

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
ETH_P_UNKNOWN = 0x88B5

IPPROTO_HOPOPTS = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_FRAGMENT = 44
IPPROTO_ICMPV6 = 58

SPORT = 40000
UDP_DPORT = 40001
TCP_DPORT = 40002

DEFAULT_PAYLOAD = 32
UNKNOWN_PAYLOAD = 50
PAYLOAD_BYTE = b"\x61"

KINDS = (
    "udp", "tcp", "icmp", "udp6", "tcp6", "icmp6", "arp", "vlan-udp",
    "qinq-udp", "ipv6-hbh-udp", "ipv6-frag-udp", "unknown", "trunc-ipv4",
    "trunc-ipv6",
)
V6_KINDS = ("udp6", "tcp6", "icmp6", "ipv6-hbh-udp", "ipv6-frag-udp",
            "trunc-ipv6")
NO_PAYLOAD_KINDS = ("arp", "trunc-ipv4", "trunc-ipv6")


# ---------------------------------------------------------------- helpers

def mac_bytes(mac):
    parts = mac.split(":")
    if len(parts) != 6:
        raise ValueError("bad MAC address: %r" % mac)
    return bytes(int(p, 16) for p in parts)


def csum(data):
    """Internet checksum (RFC 1071) of data, returned ready to store."""
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def pseudo4(src, dst, proto, length):
    return (socket.inet_pton(socket.AF_INET, src)
            + socket.inet_pton(socket.AF_INET, dst)
            + struct.pack("!BBH", 0, proto, length))


def pseudo6(src, dst, proto, length):
    return (socket.inet_pton(socket.AF_INET6, src)
            + socket.inet_pton(socket.AF_INET6, dst)
            + struct.pack("!IxxxB", length, proto))


def eth(args, ethertype):
    return (mac_bytes(args.dst_mac) + mac_bytes(args.src_mac)
            + struct.pack("!H", ethertype))


def vlan_tag(vid, inner_ethertype):
    # TCI: PCP 0, DEI 0, VID; followed by the next ethertype
    return struct.pack("!HH", vid & 0x0FFF, inner_ethertype)


def ipv4(args, proto, l4, seq=0):
    total = 20 + len(l4)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, (seq + 1) & 0xFFFF,
                      0x4000, 64, proto, 0,
                      socket.inet_pton(socket.AF_INET, args.src_ip),
                      socket.inet_pton(socket.AF_INET, args.dst_ip))
    c = csum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + l4


def ipv6(args, next_hdr, rest):
    return (struct.pack("!IHBB", 6 << 28, len(rest), next_hdr, 64)
            + socket.inet_pton(socket.AF_INET6, args.src_ip6)
            + socket.inet_pton(socket.AF_INET6, args.dst_ip6)
            + rest)


def udp(pseudo_fn, src, dst, payload):
    length = 8 + len(payload)
    hdr = struct.pack("!HHHH", SPORT, UDP_DPORT, length, 0)
    c = csum(pseudo_fn(src, dst, IPPROTO_UDP, length) + hdr + payload)
    if c == 0:
        c = 0xFFFF
    return hdr[:6] + struct.pack("!H", c) + payload


def tcp_syn(pseudo_fn, src, dst, payload, seq=0):
    # seq, ack 0, data offset 5, flags SYN, window 64240, csum, urg 0
    hdr = struct.pack("!HHIIBBHHH", SPORT, TCP_DPORT, 0x10000000 + seq, 0,
                      5 << 4, 0x02, 64240, 0, 0)
    length = len(hdr) + len(payload)
    c = csum(pseudo_fn(src, dst, IPPROTO_TCP, length) + hdr + payload)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:] + payload


def icmp4_echo(payload, seq=0):
    hdr = struct.pack("!BBHHH", 8, 0, 0, 0x1234, (seq + 1) & 0xFFFF)
    c = csum(hdr + payload)
    return hdr[:2] + struct.pack("!H", c) + hdr[4:] + payload


def icmp6_echo(args, payload, seq=0):
    hdr = struct.pack("!BBHHH", 128, 0, 0, 0x1234, (seq + 1) & 0xFFFF)
    length = len(hdr) + len(payload)
    c = csum(pseudo6(args.src_ip6, args.dst_ip6, IPPROTO_ICMPV6, length)
             + hdr + payload)
    return hdr[:2] + struct.pack("!H", c) + hdr[4:] + payload


def _payload(args, kind):
    n = getattr(args, "payload_len", None)
    if kind in NO_PAYLOAD_KINDS:
        if n is not None:
            raise ValueError("%s takes no payload_len" % kind)
        return b""
    if n is None:
        n = UNKNOWN_PAYLOAD if kind == "unknown" else DEFAULT_PAYLOAD
    if n < 0:
        raise ValueError("negative payload_len")
    return PAYLOAD_BYTE * n


# ---------------------------------------------------------------- frames

def build_frame(kind, args, seq=0):
    """Return the Ethernet frame (bytes) for one packet of `kind`."""
    if kind not in KINDS:
        raise ValueError("unknown kind %r" % kind)
    if kind in V6_KINDS and not (getattr(args, "src_ip6", None)
                                 and getattr(args, "dst_ip6", None)):
        raise ValueError("%s needs --src-ip6 and --dst-ip6" % kind)
    pl = _payload(args, kind)
    s4, d4 = args.src_ip, args.dst_ip
    s6, d6 = getattr(args, "src_ip6", None), getattr(args, "dst_ip6", None)

    if kind == "udp":
        return eth(args, ETH_P_IP) + ipv4(
            args, IPPROTO_UDP, udp(pseudo4, s4, d4, pl), seq)
    if kind == "tcp":
        return eth(args, ETH_P_IP) + ipv4(
            args, IPPROTO_TCP, tcp_syn(pseudo4, s4, d4, pl, seq), seq)
    if kind == "icmp":
        return eth(args, ETH_P_IP) + ipv4(
            args, IPPROTO_ICMP, icmp4_echo(pl, seq), seq)
    if kind == "udp6":
        return eth(args, ETH_P_IPV6) + ipv6(
            args, IPPROTO_UDP, udp(pseudo6, s6, d6, pl))
    if kind == "tcp6":
        return eth(args, ETH_P_IPV6) + ipv6(
            args, IPPROTO_TCP, tcp_syn(pseudo6, s6, d6, pl, seq))
    if kind == "icmp6":
        return eth(args, ETH_P_IPV6) + ipv6(
            args, IPPROTO_ICMPV6, icmp6_echo(args, pl, seq))
    if kind == "arp":
        body = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1,
                           mac_bytes(args.src_mac),
                           socket.inet_pton(socket.AF_INET, s4),
                           b"\x00" * 6,
                           socket.inet_pton(socket.AF_INET, d4))
        return eth(args, ETH_P_ARP) + body
    if kind == "vlan-udp":
        return (eth(args, ETH_P_8021Q) + vlan_tag(10, ETH_P_IP)
                + ipv4(args, IPPROTO_UDP, udp(pseudo4, s4, d4, pl), seq))
    if kind == "qinq-udp":
        return (eth(args, ETH_P_8021AD) + vlan_tag(100, ETH_P_8021Q)
                + vlan_tag(10, ETH_P_IP)
                + ipv4(args, IPPROTO_UDP, udp(pseudo4, s4, d4, pl), seq))
    if kind == "ipv6-hbh-udp":
        # next header UDP, hdr ext len 0 (= 8 bytes), PadN option of 4 data
        # bytes filling the remaining 6 bytes
        hbh = struct.pack("!BBBB4x", IPPROTO_UDP, 0, 1, 4)
        return eth(args, ETH_P_IPV6) + ipv6(
            args, IPPROTO_HOPOPTS, hbh + udp(pseudo6, s6, d6, pl))
    if kind == "ipv6-frag-udp":
        # next header UDP, reserved, offset 0 / M 0, identification
        frag = struct.pack("!BBHI", IPPROTO_UDP, 0, 0, 0x12345678 + seq)
        return eth(args, ETH_P_IPV6) + ipv6(
            args, IPPROTO_FRAGMENT, frag + udp(pseudo6, s6, d6, pl))
    if kind == "unknown":
        return eth(args, ETH_P_UNKNOWN) + pl
    if kind == "trunc-ipv4":
        full = ipv4(args, IPPROTO_UDP, udp(pseudo4, s4, d4, b""), seq)
        return eth(args, ETH_P_IP) + full[:10]
    if kind == "trunc-ipv6":
        full = ipv6(args, IPPROTO_UDP, udp(pseudo6, s6, d6, b""))
        return eth(args, ETH_P_IPV6) + full[:20]
    raise AssertionError(kind)


def parse_spec(spec):
    """'udp:3,tcp:2:0' -> [('udp', 3, None), ('tcp', 2, 0)]"""
    out = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        parts = item.split(":")
        if len(parts) not in (2, 3) or parts[0] not in KINDS:
            raise ValueError("bad spec item %r" % item)
        count = int(parts[1])
        plen = int(parts[2]) if len(parts) == 3 else None
        if count < 0 or (plen is not None and plen < 0):
            raise ValueError("bad spec item %r" % item)
        out.append((parts[0], count, plen))
    if not out:
        raise ValueError("empty spec")
    return out


# ---------------------------------------------------------------- selftest

def _ok(data):
    """Recomputing the checksum over data including the stored checksum
    must give zero."""
    return csum(data) == 0


def selftest():
    from types import SimpleNamespace
    a = SimpleNamespace(src_mac="02:00:00:00:00:01",
                        dst_mac="02:00:00:00:00:02",
                        src_ip="10.0.0.1", dst_ip="10.0.0.2",
                        src_ip6="fd00::1", dst_ip6="fd00::2",
                        payload_len=None)
    P = DEFAULT_PAYLOAD
    expect_len = {
        "udp": 14 + 20 + 8 + P, "tcp": 14 + 20 + 20 + P,
        "icmp": 14 + 20 + 8 + P, "udp6": 14 + 40 + 8 + P,
        "tcp6": 14 + 40 + 20 + P, "icmp6": 14 + 40 + 8 + P,
        "arp": 14 + 28, "vlan-udp": 18 + 20 + 8 + P,
        "qinq-udp": 22 + 20 + 8 + P, "ipv6-hbh-udp": 14 + 40 + 8 + 8 + P,
        "ipv6-frag-udp": 14 + 40 + 8 + 8 + P, "unknown": 14 + 50,
        "trunc-ipv4": 24, "trunc-ipv6": 34,
    }
    ip4 = lambda s: socket.inet_pton(socket.AF_INET, s)  # noqa: E731
    ip6 = lambda s: socket.inet_pton(socket.AF_INET6, s)  # noqa: E731

    def check_v4(f, off, proto):
        ih = f[off:off + 20]
        assert ih[0] == 0x45 and ih[8] == 64 and ih[9] == proto
        assert struct.unpack("!H", ih[2:4])[0] == len(f) - off
        assert ih[12:16] == ip4(a.src_ip) and ih[16:20] == ip4(a.dst_ip)
        assert _ok(ih), "ipv4 header checksum"
        assert csum(ih[:10] + b"\0\0" + ih[12:]) == \
            struct.unpack("!H", ih[10:12])[0]
        l4 = f[off + 20:]
        if proto in (IPPROTO_UDP, IPPROTO_TCP):
            assert _ok(pseudo4(a.src_ip, a.dst_ip, proto, len(l4)) + l4), \
                "l4 checksum v4"
        else:
            assert _ok(l4), "icmp checksum"
            assert l4[0] == 8 and l4[1] == 0
        return l4

    def check_v6(f, off, first_nh, proto, ext_len):
        ih = f[off:off + 40]
        assert ih[0] >> 4 == 6 and ih[6] == first_nh and ih[7] == 64
        assert struct.unpack("!H", ih[4:6])[0] == len(f) - off - 40
        assert ih[8:24] == ip6(a.src_ip6) and ih[24:40] == ip6(a.dst_ip6)
        if ext_len:
            ext = f[off + 40:off + 40 + ext_len]
            assert ext[0] == proto
        l4 = f[off + 40 + ext_len:]
        assert _ok(pseudo6(a.src_ip6, a.dst_ip6, proto, len(l4)) + l4), \
            "l4 checksum v6"
        return l4

    def check_udp(l4):
        sp, dp, ln, c = struct.unpack("!HHHH", l4[:8])
        assert (sp, dp, ln) == (SPORT, UDP_DPORT, len(l4)) and c != 0
        assert l4[8:] == PAYLOAD_BYTE * (len(l4) - 8)

    def check_tcp(l4):
        sp, dp = struct.unpack("!HH", l4[:4])
        assert (sp, dp) == (SPORT, TCP_DPORT)
        assert l4[12] >> 4 == 5 and l4[13] == 0x02  # SYN only

    def ethertype(f, off=12):
        return struct.unpack("!H", f[off:off + 2])[0]

    for kind in KINDS:
        f = build_frame(kind, a)
        assert len(f) == expect_len[kind], (kind, len(f), expect_len[kind])
        assert f[0:6] == mac_bytes(a.dst_mac), kind
        assert f[6:12] == mac_bytes(a.src_mac), kind
        et = ethertype(f)
        if kind == "udp":
            assert et == ETH_P_IP
            check_udp(check_v4(f, 14, IPPROTO_UDP))
        elif kind == "tcp":
            assert et == ETH_P_IP
            check_tcp(check_v4(f, 14, IPPROTO_TCP))
        elif kind == "icmp":
            assert et == ETH_P_IP
            check_v4(f, 14, IPPROTO_ICMP)
        elif kind == "udp6":
            assert et == ETH_P_IPV6
            check_udp(check_v6(f, 14, IPPROTO_UDP, IPPROTO_UDP, 0))
        elif kind == "tcp6":
            assert et == ETH_P_IPV6
            check_tcp(check_v6(f, 14, IPPROTO_TCP, IPPROTO_TCP, 0))
        elif kind == "icmp6":
            assert et == ETH_P_IPV6
            l4 = check_v6(f, 14, IPPROTO_ICMPV6, IPPROTO_ICMPV6, 0)
            assert l4[0] == 128 and l4[1] == 0
        elif kind == "arp":
            assert et == ETH_P_ARP
            htype, ptype, hl, pl, op = struct.unpack("!HHBBH", f[14:22])
            assert (htype, ptype, hl, pl, op) == (1, ETH_P_IP, 6, 4, 1)
            assert f[28:32] == ip4(a.src_ip) and f[38:42] == ip4(a.dst_ip)
        elif kind == "vlan-udp":
            assert et == ETH_P_8021Q
            assert struct.unpack("!H", f[14:16])[0] & 0xFFF == 10
            assert ethertype(f, 16) == ETH_P_IP
            check_udp(check_v4(f, 18, IPPROTO_UDP))
        elif kind == "qinq-udp":
            assert et == ETH_P_8021AD
            assert struct.unpack("!H", f[14:16])[0] & 0xFFF == 100
            assert ethertype(f, 16) == ETH_P_8021Q
            assert struct.unpack("!H", f[18:20])[0] & 0xFFF == 10
            assert ethertype(f, 20) == ETH_P_IP
            check_udp(check_v4(f, 22, IPPROTO_UDP))
        elif kind == "ipv6-hbh-udp":
            assert et == ETH_P_IPV6
            ext = f[54:62]
            assert ext[1] == 0 and ext[2] == 1 and ext[3] == 4
            check_udp(check_v6(f, 14, IPPROTO_HOPOPTS, IPPROTO_UDP, 8))
        elif kind == "ipv6-frag-udp":
            assert et == ETH_P_IPV6
            ext = f[54:62]
            assert struct.unpack("!H", ext[2:4])[0] == 0  # offset 0, M 0
            check_udp(check_v6(f, 14, IPPROTO_FRAGMENT, IPPROTO_UDP, 8))
        elif kind == "unknown":
            assert et == ETH_P_UNKNOWN and f[14:] == PAYLOAD_BYTE * 50
        elif kind == "trunc-ipv4":
            assert et == ETH_P_IP and f[14] == 0x45
        elif kind == "trunc-ipv6":
            assert et == ETH_P_IPV6 and f[14] >> 4 == 6

    # payload_len handling, odd lengths (checksum padding), seq variation
    for plen in (0, 1, 7, 33, 1000):
        a.payload_len = plen
        for kind in ("udp", "tcp", "icmp", "udp6", "tcp6", "icmp6",
                     "ipv6-hbh-udp", "ipv6-frag-udp", "vlan-udp",
                     "qinq-udp"):
            for seq in (0, 5):
                f = build_frame(kind, a, seq)
                assert len(f) == expect_len[kind] - P + plen, (kind, plen)
                if kind in ("udp", "tcp", "icmp"):
                    check_v4(f, 14, {"udp": IPPROTO_UDP, "tcp": IPPROTO_TCP,
                                     "icmp": IPPROTO_ICMP}[kind])
                elif kind in ("vlan-udp", "qinq-udp"):
                    check_v4(f, 18 if kind == "vlan-udp" else 22,
                             IPPROTO_UDP)
                elif kind == "udp6":
                    check_v6(f, 14, IPPROTO_UDP, IPPROTO_UDP, 0)
                elif kind == "tcp6":
                    check_v6(f, 14, IPPROTO_TCP, IPPROTO_TCP, 0)
                elif kind == "icmp6":
                    check_v6(f, 14, IPPROTO_ICMPV6, IPPROTO_ICMPV6, 0)
                elif kind == "ipv6-hbh-udp":
                    check_v6(f, 14, IPPROTO_HOPOPTS, IPPROTO_UDP, 8)
                else:
                    check_v6(f, 14, IPPROTO_FRAGMENT, IPPROTO_UDP, 8)
        f = build_frame("unknown", a)
        assert len(f) == 14 + plen
    a.payload_len = 3
    for kind in NO_PAYLOAD_KINDS:
        try:
            build_frame(kind, a)
        except ValueError:
            pass
        else:
            raise AssertionError("%s accepted payload_len" % kind)
    a.payload_len = None
    a.src_ip6 = None
    try:
        build_frame("udp6", a)
    except ValueError:
        pass
    else:
        raise AssertionError("udp6 without v6 addresses accepted")
    assert parse_spec("udp:3,tcp:2:0, unknown:1") == [
        ("udp", 3, None), ("tcp", 2, 0), ("unknown", 1, None)]
    # known-answer test for the checksum routine (RFC 1071 example)
    assert csum(bytes.fromhex("0001f203f4f5f6f7")) == (~0xDDF2) & 0xFFFF
    print("selftest ok: %d kinds" % len(KINDS))


# ---------------------------------------------------------------- main

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iface")
    p.add_argument("--src-mac")
    p.add_argument("--dst-mac")
    p.add_argument("--src-ip")
    p.add_argument("--dst-ip")
    p.add_argument("--src-ip6")
    p.add_argument("--dst-ip6")
    p.add_argument("--spec")
    p.add_argument("--selftest", action="store_true")
    args = p.parse_args(argv)

    if args.selftest:
        selftest()
        return 0

    for name in ("iface", "src_mac", "dst_mac", "src_ip", "dst_ip", "spec"):
        if getattr(args, name) is None:
            p.error("--%s is required" % name.replace("_", "-"))
    try:
        items = parse_spec(args.spec)
        frames = []
        for kind, count, plen in items:
            fa = argparse.Namespace(**vars(args))
            fa.payload_len = plen
            # build everything before sending anything
            frames.append((kind, [build_frame(kind, fa, i)
                                  for i in range(count)]))
    except ValueError as e:
        print("inject.py: %s" % e, file=sys.stderr)
        return 2

    result = {}
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    try:
        s.bind((args.iface, 0))
        for kind, flist in frames:
            r = result.setdefault(kind, {"packets": 0, "bytes": 0})
            for f in flist:
                n = s.send(f)
                if n != len(f):
                    print("inject.py: short send %d/%d (%s)"
                          % (n, len(f), kind), file=sys.stderr)
                    return 1
                r["packets"] += 1
                r["bytes"] += n
    except OSError as e:
        print("inject.py: %s" % e, file=sys.stderr)
        return 1
    finally:
        s.close()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
