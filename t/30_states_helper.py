#!/usr/bin/python3
"""Hold TCP sockets in chosen states for t/30_states.t.

  30_states_helper.py front HOST PORT JETTY BASE   (inside the client namespace)
  30_states_helper.py backend JETTY NS_IP PORT     (on the host)

Prints "ready" once every socket is in place (or "error: ..." and exits),
then holds them until standard input closes, then closes them all. Every
wait is bounded. The suite's nftables rules inside the namespace do the
half-way holds:
  SYN/ACKs from HOST:PORT to client ports BASE..BASE+9 and JETTY: dropped,
    so httpd keeps those connections in SYN_RECV;
  FINs from HOST:PORT to client ports BASE+10..BASE+19: dropped, so
    httpd's closing side stays in FIN_WAIT1 or LAST_ACK;
  SYNs to the namespace's port JETTY: dropped, so the host's connects to
    NS_IP:JETTY stay in SYN_SENT.
"""
import socket
import sys
import time

held = []


def conn(addr, port, family=socket.AF_INET, src=None, block=True):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if src is not None:
        s.bind(src)
    s.settimeout(5)
    if block:
        s.connect((addr, port))
    else:
        s.setblocking(False)
        s.connect_ex((addr, port))
    held.append(s)
    return s


def request(s, path, close=False, half_close=False):
    s.sendall(("GET %s HTTP/1.1\r\nHost: tcpi\r\n%s\r\n"
               % (path, "Connection: close\r\n" if close else "")).encode())
    if half_close:
        s.shutdown(socket.SHUT_WR)


def read_to_eof(s):
    end = time.time() + 5
    while time.time() < end:
        if not s.recv(65536):
            return
    raise RuntimeError("no EOF within 5 s")


def front(host, port, jetty, base):
    port, jetty, base = int(port), int(jetty), int(base)
    for _ in range(3):                       # ESTABLISHED, half a request:
        s = conn(host, port)                 # with no data at all, httpd's
        s.sendall(b"GET / HTTP/1.1\r\n")     # AcceptFilter (TCP_DEFER_ACCEPT)
                                             # keeps it in SYN_RECV
    for _ in range(2):                       # httpd closes first, then we do
        s = conn(host, port)
        request(s, "/tcpi-none", close=True)
        read_to_eof(s)
        s.close()
        held.remove(s)
    for _ in range(2):                       # httpd closes first, we do not
        s = conn(host, port)
        request(s, "/tcpi-none", close=True)
        read_to_eof(s)
    for src in (base, base + 1, jetty):      # handshake held by the rule
        conn(host, port, src=("", src), block=False)
    s = conn(host, port, src=("", base + 10))   # httpd's FIN is dropped
    request(s, "/tcpi-none", close=True)
    s = conn(host, port, src=("", base + 11))   # we close first, then httpd
    request(s, "/app/delay?ms=500", half_close=True)
    s.recv(1)                                   # the response: httpd closes next
    for _ in range(2):                       # we close, httpd waits on Jetty
        s = conn(host, port)
        request(s, "/app/delay?ms=8000", half_close=True)


def backend(jetty, ns_ip, port):
    jetty, port = int(jetty), int(port)
    for _ in range(2):                       # ESTABLISHED, idle
        conn("127.0.0.1", jetty)
    for _ in range(2):                       # we close first, Jetty follows
        s = conn("127.0.0.1", jetty)
        s.close()
        held.remove(s)
    for _ in range(2):                       # Jetty closes, we do not
        s = conn("127.0.0.1", jetty)
        request(s, "/app/close")
        read_to_eof(s)
    for _ in range(2):                       # SYN dropped in the namespace
        conn(ns_ip, jetty, block=False)
    # SYN_SENT from the front port: an IPv6-only socket on [::1]:PORT
    # (httpd listens on 0.0.0.0 only) towards a listener whose accept
    # queue is full, so the kernel drops the SYNs.
    try:
        lst = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        lst.bind(("::1", 0))
        lst.listen(0)
        held.append(lst)
        conn("::1", lst.getsockname()[1], socket.AF_INET6)
        time.sleep(0.2)
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind(("::1", port))
        s.setblocking(False)
        s.connect_ex(("::1", lst.getsockname()[1]))
        held.append(s)
    except OSError as e:
        print("note: no front SYN_SENT over ::1: %s" % e, flush=True)
    for _ in range(2):                       # we close, Jetty sleeps
        s = conn("127.0.0.1", jetty)
        request(s, "/app/delay?ms=8000", half_close=True)


def main():
    try:
        {"front": front, "backend": backend}[sys.argv[1]](*sys.argv[2:])
    except Exception as e:                   # report, never hang the suite
        print("error: %s" % e, flush=True)
        return 1
    time.sleep(0.3)                          # let the last ACKs land
    print("ready", flush=True)
    sys.stdin.read()
    for s in held:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
