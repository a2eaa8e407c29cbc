#!/usr/bin/python3
"""Build the decoder/printer pcap fixtures with scapy (Debian python3-scapy).

Run from the top directory:  /usr/bin/python3 tests/pcap/make_fixtures.py
Writes tests/pcap/<name>.pcap and tests/pcap/<name>.expect. Each .expect
line describes one packet as scapy built it (key=value, the oracle for
tests/test_decode.c): the decode reason and the header fields.
"""
import os
import struct
import sys

from scapy.all import (ARP, UDP, Dot1AD, Dot1Q, Ether, IP, IPOption_NOP,
                       IPOption_RR, IPv6, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                       IPv6ExtHdrRouting, TCP, raw)

OUT = os.path.dirname(os.path.abspath(__file__))
T0 = 1700000000

C4, S4 = "198.18.0.2", "198.18.0.1"
C6, S6 = "2001:db8::2", "2001:db8::1"
MAC_C, MAC_S = "02:00:00:00:00:02", "02:00:00:00:00:01"

SYN_OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1000, 0)),
            ("NOP", None), ("WScale", 7)]
TS = [("NOP", None), ("NOP", None), ("Timestamp", (1010, 1000))]
HTTP_REQ = (b"GET /hello.txt HTTP/1.1\r\nHost: example\r\n"
            b"Authorization: Basic c2VjcmV0OnNlY3JldA==\r\n\r\n")
HTTP_RESP = (b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n"
             b"Set-Cookie: id=42; HttpOnly\r\n\r\nhello\n")


def conv4(a, b, cport=40000, sport=80, isn_c=1000000, isn_s=2000000):
    """A small TCP conversation: handshake, request, response, SACK, FIN,
    RST. Returns the layer-3 packets."""
    ip_cs = IP(src=a, dst=b, id=1, flags="DF")
    ip_sc = IP(src=b, dst=a, id=0, flags="DF")
    return layer3_conv(ip_cs, ip_sc, cport, sport, isn_c, isn_s)


def conv6(a, b, cport=40001, sport=80, isn_c=3000000, isn_s=4000000):
    return layer3_conv(IPv6(src=a, dst=b), IPv6(src=b, dst=a),
                       cport, sport, isn_c, isn_s)


def layer3_conv(ip_cs, ip_sc, cp, sp, ic, is_):
    q, r = len(HTTP_REQ), len(HTTP_RESP)
    return [
        ip_cs / TCP(sport=cp, dport=sp, seq=ic, flags="S", window=64240,
                    options=SYN_OPTS),
        ip_sc / TCP(sport=sp, dport=cp, seq=is_, ack=ic + 1, flags="SA",
                    window=65160, options=SYN_OPTS),
        ip_cs / TCP(sport=cp, dport=sp, seq=ic + 1, ack=is_ + 1, flags="A",
                    window=502, options=TS),
        ip_cs / TCP(sport=cp, dport=sp, seq=ic + 1, ack=is_ + 1, flags="PA",
                    window=502, options=TS) / raw(HTTP_REQ),
        ip_sc / TCP(sport=sp, dport=cp, seq=is_ + 1, ack=ic + 1 + q,
                    flags="PA", window=509, options=TS) / raw(HTTP_RESP),
        ip_cs / TCP(sport=cp, dport=sp, seq=ic + 1 + q, ack=is_ + 1 + r,
                    flags="A", window=501,
                    options=[("NOP", None), ("NOP", None),
                             ("SAck", (is_ + 1 + r + 100, is_ + 1 + r + 200,
                                       is_ + 1 + r + 300, is_ + 1 + r + 400))]),
        ip_cs / TCP(sport=cp, dport=sp, seq=ic + 1 + q, ack=is_ + 1 + r,
                    flags="FA", window=501, options=TS),
        ip_sc / TCP(sport=sp, dport=cp, seq=is_ + 1 + r, ack=ic + 2 + q,
                    flags="FA", window=509, options=TS),
        ip_cs / TCP(sport=cp, dport=sp, seq=ic + 2 + q, ack=is_ + 2 + r,
                    flags="A", window=501, options=TS),
        ip_cs / TCP(sport=cp, dport=sp, seq=ic + 2 + q, ack=0, flags="R",
                    window=0),
        ip_sc / TCP(sport=sp, dport=cp, seq=is_ + 2 + r, ack=ic + 2 + q,
                    flags="RA", window=0),
    ]


def odd_options():
    """Every TCP option kind tcpdump names, plus unknown and eol."""
    ip = IP(src=C4, dst=S4, id=7)
    md5 = bytes(range(16))
    mptcp = bytes([0x00, 0x81]) + bytes(range(8))     # MP_CAPABLE v0
    return [
        ip / TCP(sport=40010, dport=80, seq=5, flags="S", window=1024,
                 options=[(19, md5), ("NOP", None), ("NOP", None)]),
        ip / TCP(sport=40011, dport=80, seq=6, flags="S", window=1024,
                 options=[(30, mptcp), ("NOP", None), ("NOP", None)]),
        ip / TCP(sport=40012, dport=80, seq=7, flags="S", window=1024,
                 options=[(99, b"\x01\x02"), ("EOL", None),
                          ("NOP", None), ("NOP", None), ("NOP", None)]),
        ip / TCP(sport=40013, dport=80, seq=8, flags="SEC", window=1024,
                 options=[("MSS", 536), ("EOL", None)]),
        ip / TCP(sport=40014, dport=80, seq=9, ack=3, flags="AU",
                 urgptr=1, window=1024) / raw(b"!"),
        ip / TCP(sport=40015, dport=80, seq=10, ack=3, flags="A",
                 window=1024, options=[("SAck", (100, 200))]),
    ]


def more_options():
    """Option kinds beyond the common ones, MPTCP subtypes, bad lengths."""
    ip = IP(src=C4, dst=S4, id=8)
    opts = [
        [(34, b""), ("NOP", None), ("NOP", None)],                  # tfo req
        [(34, bytes(range(8)))],                                    # cookie
        [(34, b"\x01\x02\x03")],                                   # odd
        [(254, b"\xf9\x89\x01\x02\x03\x04")],                     # exp tfo
        [(254, b"\x12\x34")],                                       # exp
        [(28, b"\x01\x2c")], [(28, b"\x00\x3c")],                   # uto
        [(29, b"\x05\x06" + bytes(range(10)))],                     # tcp-ao
        [(29, b"")],
        [(6, b"\0\0\0\x07")], [(7, b"\0\0\0\x08")],
        [(11, b"\0\0\0\x09")], [(13, b"\0\0\0\x0a")],
        [(20, b"\xab\x05")],                                        # scps
        [(2, b"\x05")],                                              # mss len 3
        [(5, b"\0\0\0\x01\0\0")],                                   # bad sack
        [(30, b"\x10\x05" + bytes(range(8)))],                      # join syn
        [(30, b"\x20\x01\0\0\0\x05")],                              # dss ack
        [(30, b"\x20\x05\0\0\0\x05\0\0\0\x06\0\0\0\x07\0\x10")],  # dss
        [(30, b"\x34\x02\x0a\0\0\x01")],                            # add-addr
        [(30, b"\x40\x01\x02")],                                    # rem-addr
        [(30, b"\x51\x03")],                                         # prio
        [(30, b"\x60\0" + bytes(range(8)))],                        # fail
        [(30, b"\x70\0" + bytes(range(8)))],                        # fclose
        [(30, b"\x90\0")],                                           # unknown
    ]
    out = []
    for i, o in enumerate(opts):
        fl = "S" if i % 3 == 0 else "A"
        out.append(ip / TCP(sport=40030, dport=80, seq=100 + i, ack=7,
                            flags=fl, window=1024, options=o))
    return out


HTTP_EDGE = [b"GET / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n", b"get /lower\r\n",
             b"FOO bar\r\n", b"HTTP/1.1 2000 x\r\n", b"GET /x\rY", b"GET /nocrlf",
             b"\x00binary", b"GET /tab\there\r\n", b"G" * 200 + b" 200 x\r\n",
             b"POST  /two HTTP/1.0\n", b"x 404 y\r\n",
             "GET /\u00e9 HTTP/1.1\r\n".encode(), b"GET /cr\r",
             b"HTTP/1.1 502 Bad Gateway\r\nServer: x\r\n\r\n",
             b"<script>alert(1)</script> 200 \"q\"\r\n", b"OPTIONS * HTTP/1.1\r\n"]


def http_edges():
    out = []
    for i, body in enumerate(HTTP_EDGE):
        sp = 80 if i % 2 == 0 else 8080
        out.append(IP(src=C4, dst=S4, id=9) / TCP(sport=40040, dport=sp,
                   seq=1000 + 100 * i, ack=1, flags="PA", window=512) / raw(body))
    return out


def mutations(bases, rng, count):
    """Frames derived from bases by overwriting random bytes from the TCP
    data offset on (ports stay 40000-ish/80 so no other dissector), plus
    random snaplen cuts. (frame, wirelen, expect) triples."""
    out = []
    for k in range(count):
        p = bases[rng.randrange(len(bases))]
        f = bytearray(frame(1, p))
        l3 = IP(raw(p)) if p.version == 4 else IPv6(raw(p))
        t = tcp_of(l3)
        tcpoff = 14 + len(raw(l3)) - len(raw(t))
        for _ in range(rng.randrange(1, 4)):
            pos = rng.randrange(tcpoff + 12, len(f))
            f[pos] = rng.choice([0, 1, 2, 3, 4, 5, 8, 19, 30, 34, 0xff,
                                 rng.randrange(256)])
        if rng.random() < 0.2:       # IP length lies
            if p.version == 4:
                f[16:18] = struct.pack(">H", rng.randrange(0, len(f)))
            else:
                f[18:20] = struct.pack(">H", rng.randrange(0, len(f)))
        wl = len(f)
        if rng.random() < 0.3:
            f = f[:rng.randrange(tcpoff, len(f) + 1)]
        out.append((bytes(f), wl, "reason=any"))
    return out


def ip_specials():
    """IPv4 options, fragments, total length 0 (TSO), not-TCP, IPv6
    extension headers and fragments."""
    out = []
    out.append(IP(src=C4, dst=S4, id=20, options=[IPOption_NOP(),
                                                  IPOption_RR(routers=["10.0.0.1"])])
               / TCP(sport=40020, dport=80, seq=1, ack=1, flags="A",
                     window=100) / raw(b"options"))
    big = IP(src=C4, dst=S4, id=21, flags="MF") / TCP(
        sport=40021, dport=80, seq=1, ack=1, flags="PA", window=100) / raw(b"A" * 40)
    out.append(big)
    out.append(IP(src=C4, dst=S4, id=21, frag=6, proto=6) / raw(b"B" * 24))
    tso = IP(src=C4, dst=S4, id=22) / TCP(sport=40022, dport=80, seq=1, ack=1,
                                          flags="PA", window=100) / raw(b"T" * 30)
    tso = IP(raw(tso))
    tso.len = 0
    out.append(tso)
    out.append(IP(src=C4, dst=S4) / UDP(sport=5000, dport=5001) / raw(b"q"))
    out.append(IPv6(src=C6, dst=S6) / IPv6ExtHdrHopByHop() /
               IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting(addresses=[]) /
               TCP(sport=40023, dport=80, seq=1, ack=1, flags="A", window=100))
    out.append(IPv6(src=C6, dst=S6) / IPv6ExtHdrFragment(offset=0, m=1, id=77) /
               TCP(sport=40024, dport=80, seq=1, ack=1, flags="PA",
                   window=100) / raw(b"C" * 16))
    out.append(IPv6(src=C6, dst=S6) / IPv6ExtHdrFragment(offset=5, m=0, id=77,
                                                         nh=6) / raw(b"D" * 8))
    return out


def frame(link, l3):
    """Wrap a layer-3 packet for a link type; returns bytes."""
    b = raw(l3)
    v6 = (b[0] >> 4) == 6
    et = 0x86dd if v6 else 0x0800
    if link == 1:
        return raw(Ether(src=MAC_C, dst=MAC_S, type=et)) + b
    if link == 113:       # pkttype 0 host, ARPHRD_ETHER, halen 6
        return struct.pack(">HHH8sH", 0, 1, 6, bytes.fromhex("020000000002") +
                           b"\0\0", et) + b
    if link == 276:       # protocol, reserved, ifindex, hatype, pkttype, halen
        return struct.pack(">HHIHBB8s", et, 0, 1, 772, 0, 6, b"\0" * 8) + b
    if link == 0:         # host (little-endian) order
        return struct.pack("<I", 30 if v6 else 2) + b
    if link == 1000:      # DLT_NULL written by a big-endian host
        return struct.pack(">I", 28 if v6 else 2) + b
    if link == 108:
        return struct.pack(">I", 24 if v6 else 2) + b
    return b              # RAW, IPV4, IPV6


def tcp_of(pkt):
    return pkt.getlayer(TCP) if pkt.haslayer(TCP) else None


def expect(l3, link):
    """key=value line for one packet, from scapy's own fields."""
    b = raw(l3)
    l3 = (IPv6 if b[0] >> 4 == 6 else IP)(b)
    kv = {}
    if isinstance(l3, IP):
        kv["family"] = 4
        hl = l3.ihl * 4
        iplen = l3.len if l3.len else len(b)
        if l3.frag:
            kv["reason"] = "ip_fragment"
        elif l3.proto != 6:
            kv["reason"] = "not_tcp"
        else:
            kv["reason"] = "ok"
        kv["ip_len"] = iplen
        kv["ip_len_zero"] = int(l3.len == 0)
        kv["ip_hlen"] = hl
        kv["ip_mf"] = int(bool(l3.flags.MF))
        kv["ip_df"] = int(bool(l3.flags.DF))
        kv["frag_off"] = l3.frag * 8
        kv["ttl"] = l3.ttl
    else:
        kv["family"] = 6
        iplen = 40 + l3.plen
        kv["ip_len"] = iplen
        fr = l3.getlayer(IPv6ExtHdrFragment)
        if fr is not None and fr.offset:
            kv["reason"] = "ip_fragment"
        else:
            kv["reason"] = "ok"
        kv["ttl"] = l3.hlim
        kv["flowlabel"] = l3.fl
    t = tcp_of(l3)
    if kv["reason"] == "ok" and t is not None:
        hl = len(raw(l3)) - len(raw(t))
        kv["ip_hlen"] = hl
        kv.update(sport=t.sport, dport=t.dport, seq=t.seq, ack=t.ack,
                  flags=int(t.flags), win=t.window, tcp_hlen=t.dataofs * 4,
                  payload_len=iplen - hl - t.dataofs * 4, urp=t.urgptr)
        for name, val in t.options:
            if name == "MSS":
                kv["mss"] = val
            elif name == "WScale":
                kv["wscale"] = val
            elif name == "SAckOK":
                kv["sackok"] = 1
            elif name == "Timestamp":
                kv["tsval"], kv["tsecr"] = val
            elif name == "SAck":
                kv["nsack"] = len(val) // 2
                kv["sack0"] = "%d-%d" % (val[0], val[1])
    kv["link"] = 0 if link == 1000 else link
    return " ".join("%s=%s" % (k, v) for k, v in kv.items())


def write_pcap(name, link, frames, snaplen=262144, big_endian=False):
    """frames: list of (bytes, wirelen_or_None, expect_line)."""
    end = ">" if big_endian else "<"
    with open(os.path.join(OUT, name + ".pcap"), "wb") as f:
        f.write(struct.pack(end + "IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, snaplen,
                            0 if link == 1000 else link))
        for i, (b, wl, _) in enumerate(frames):
            f.write(struct.pack(end + "IIII", T0 + i, 1000 * i + 7, len(b),
                                wl if wl else len(b)))
            f.write(b)
    with open(os.path.join(OUT, name + ".expect"), "w") as f:
        for _, _, e in frames:
            f.write(e + "\n")


CORPUS_LINKS = [1, 113, 276, 0, 108, 101, 228, 229]


def write_corpus(dirname, link, frames, every=1, tag=""):
    """Seeds for tests/fuzz_*.c: link selector, extra wire length, frame."""
    d = os.path.join(OUT, "..", "corpus", dirname)
    os.makedirs(d, exist_ok=True)
    sel = CORPUS_LINKS.index(0 if link == 1000 else link)
    for i, (b, wl, _) in enumerate(frames[::every]):
        extra = min(255, (wl or len(b)) - len(b))
        with open(os.path.join(d, "%d%s-%02d" % (link, tag, i)), "wb") as f:
            f.write(bytes([sel, extra]) + b)


def build(link, pkts):
    return [(frame(link, p), None, expect(p, link)) for p in pkts]


def main():
    allp = conv4(C4, S4) + conv6(C6, S6) + odd_options() + ip_specials()
    eth = build(1, allp)
    # VLAN: 802.1Q, QinQ (802.1ad outer), legacy 0x9100 outer.
    vl = conv4(C4, S4, cport=40100)[:3]
    for i, p in enumerate(vl):
        b = raw(p)
        if i == 0:
            e = Ether(src=MAC_C, dst=MAC_S) / Dot1Q(vlan=100, type=0x0800)
        elif i == 1:
            e = Ether(src=MAC_S, dst=MAC_C) / Dot1AD(vlan=200) / Dot1Q(vlan=100, type=0x0800)
        else:
            e = Ether(src=MAC_C, dst=MAC_S, type=0x9100) / Dot1Q(vlan=300) / Dot1Q(vlan=100, type=0x0800)
        ln = expect(p, 1) + " nvlan=%d" % (1 if i == 0 else 2)
        eth.append((raw(e) + b, None, ln))
    arp = raw(Ether(src=MAC_C, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc=C4, pdst=S4))
    eth.append((arp, None, "reason=not_ip link=1"))
    write_pcap("en10mb", 1, eth)

    small = conv4(C4, S4, cport=40200)[:5] + conv6(C6, S6, cport=40201)[:5]
    write_pcap("sll", 113, build(113, small))
    write_pcap("sll2", 276, build(276, small))
    write_pcap("null", 0, build(0, small))
    write_pcap("null_be", 1000, build(1000, small), big_endian=True)
    write_pcap("loop", 108, build(108, small))
    write_pcap("raw", 101, build(101, small))
    write_pcap("ipv4", 228, build(228, conv4(C4, S4, cport=40202)[:5]))
    write_pcap("ipv6", 229, build(229, conv6(C6, S6, cport=40203)[:5]))

    # Snaplen cuts at (and around) every header boundary of an Ethernet
    # IPv4 / IPv6 data segment with options: link, IP, TCP fixed part,
    # options, payload. The reason follows from where the cut falls.
    tr = []
    for p in (conv4(C4, S4, cport=40300)[3], conv6(C6, S6, cport=40301)[3]):
        full = frame(1, p)
        p = p.__class__(raw(p))
        t = tcp_of(p)
        ipoff = 14
        tcpoff = ipoff + (20 if p.version == 4 else 40)
        hend = tcpoff + t.dataofs * 4
        base = expect(p, 1)
        for cut in sorted({0, 6, 13, 14, 15, ipoff + 19, tcpoff - 1, tcpoff,
                           tcpoff + 13, tcpoff + 19, tcpoff + 20,
                           tcpoff + 21, hend - 1, hend, hend + 10}):
            if cut < 14:
                why = "link_truncated"
            elif cut < tcpoff:
                why = "ip_truncated"
            elif cut < tcpoff + 20:
                why = "tcp_truncated"
            else:
                why = "ok"
            if why != "ok":
                ln = "reason=%s caplen=%d" % (why, cut)
            elif cut < hend:         # options cut: only the fixed header
                ln = " ".join(kv for kv in base.split()
                              if kv.split("=")[0] not in ("tsval", "tsecr"))
                ln += " caplen=%d opt_truncated=1" % cut
            else:
                ln = base + " caplen=%d opt_truncated=0" % cut
            tr.append((full[:cut], len(full), ln))
    write_pcap("trunc", 1, tr, snaplen=hend + 10)

    import random
    rng = random.Random(4)
    bases = more_options() + http_edges() + conv4(C4, S4)[:6] + conv6(C6, S6)[:6]
    wild = [(b, wl, [kv for kv in e.split() if kv.startswith("reason=")][0])
            for b, wl, e in build(1, more_options() + http_edges())]
    wild += mutations(bases, rng, 400)
    write_pcap("wild", 1, wild)

    # Cooked headers with an 802.1Q tag and the other directions.
    cooked = []
    for i, p in enumerate(conv4(C4, S4, cport=40400)[:4]):
        b = raw(p)
        vl = struct.pack(">HH", 100, 0x0800)
        cooked.append((struct.pack(">HHH8sH", i, 1, 6, b"\0" * 8, 0x8100) + vl + b,
                       None, "reason=any"))
    write_pcap("sll_vlan", 113, cooked)
    out2 = []
    for i, p in enumerate(conv6(C6, S6, cport=40401)[:5]):
        out2.append((struct.pack(">HHIHBB8s", 0x86dd, 0, 1 if i % 2 else 99, 772,
                                 i, 6, b"\0" * 8) + raw(p), None, "reason=any"))
    write_pcap("sll2_dirs", 276, out2)

    # Printer seeds: a few frames of one flow per file, "FRM|"-separated.
    d = os.path.join(OUT, "..", "corpus", "print")
    os.makedirs(d, exist_ok=True)
    groups = [("eth-conv", 0, eth[:11]), ("eth-odd", 0, eth[22:36]),
              ("wild", 0, wild[:40]), ("trunc", 0, tr[::3]),
              ("sll2", 2, build(276, small)), ("raw", 5, build(101, small))]
    for name, sel, frames in groups:
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes([sel, 0]) + b"FRM|".join(b for b, _, _ in frames))

    write_corpus("decode", 1, eth, every=2)
    write_corpus("decode", 1, tr, every=4, tag="trunc")
    for link in (113, 276, 0, 108, 101):
        write_corpus("decode", link, build(link, small), every=3)


if __name__ == "__main__":
    sys.exit(main())
