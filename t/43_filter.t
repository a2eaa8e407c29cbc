# filter= on /packets.txt, /packets and /capture.pcap through a real httpd:
#
# 1. No filter can tell a redacted byte. A request from the client
#    namespace carries a secret Cookie (and a visible marker header) to
#    Jetty; its raw bytes come from /tcp-inspect/capture.pcap (downloads
#    are allowed there from the host). For several bytes of the cookie
#    value, filters that test the byte against the right and a wrong guess:
#    payload indexing (tcp[((tcp[12]&0xf0)>>2)+i:1], ip6[k:1]) on both
#    legs, and libpcap's offset-shifting keywords, whose shift outlives
#    the branch they appear in, so that ip[k]/ip6[k] read past the headers:
#    (vlan and less 1) or ip[k:1] = B, (mpls and less 1) or ip[k:1] = B.
#    Where downloads are allowed (/tcp-inspect-dl) the right guess lists
#    the packet and the wrong one does not (the oracle is real); on the
#    viewers' pages (/tcp-inspect, /tcp-inspect-nodl, HTML, and from the
#    namespace) both guesses get the same answer.
# 2. What a filter may be: a 7 kB expression (port 1 or ... or port 400),
#    names (host some.name, port http), too many operators, too many
#    instructions are refused with 400 within a second; the largest
#    accepted expressions answer 200.
# 3. A full 1 GiB ring (2M records, the most it holds) on a scratch httpd
#    of this MPM, filled with small segments over lo: a filter that matches nothing (the whole ring to scan)
#    and one that matches only the oldest packets answer within the scan
#    budget plus slack; a scan stopped early says so
#    (X-TCPInspect-Truncated, the HTML page) and examined no more than the
#    packet budget; what a page lists is consistent with what it says it
#    examined. (A download streams, so it cannot carry that header: a
#    download cut by its budget is logged, TCPI0452.)
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use LWP::UserAgent ();
use POSIX ();
use Socket qw(IPPROTO_TCP);
use Time::HiRes qw(time sleep);
use URI::Escape qw(uri_escape);
use TCPI::Rig qw(rig have_module ns_curl wait_for error_log_offset error_log_since
                 free_port scratch_httpd scratch_start scratch_stop);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'needs root (packet capture)' unless $> == 0;
plan skip_all => 'no client namespace (run through t/run.sh)' unless $r->{ns};

my $t_begin = time;
my $log0 = error_log_offset();
my ($P, $J) = @$r{qw(port jetty_port)};
my $top = $r->{top} || do { require FindBin; "$FindBin::Bin/.." };

# The bounds, from the headers the module was built with.
sub define_of {
    my ($file, $name) = @_;
    open my $h, '<', "$top/src/render/$file" or die "$top/src/render/$file: $!\n";
    while (<$h>) { return $1 + 0 if /^#define\s+\Q$name\E\s+(\d+)u?\b/ }
    die "no $name in $file\n";
}
my $BUDGET_MS      = define_of('tcpi_query.h', 'TCPI_QUERY_BUDGET_MS');
my $BUDGET_PACKETS = define_of('tcpi_query.h', 'TCPI_QUERY_BUDGET_PACKETS');
my $MAX_LEN        = define_of('tcpi_bpfcheck.h', 'TCPI_BPF_MAX_LEN');
my $MAX_OPS        = define_of('tcpi_bpfcheck.h', 'TCPI_BPF_MAX_OPS');
my $MAX_INSNS      = define_of('tcpi_bpfcheck.h', 'TCPI_BPF_MAX_INSNS');
my $B = $BUDGET_MS / 1000;

my $ua = LWP::UserAgent->new(timeout => 30, keep_alive => 0, agent => 'tcpi-43/1');
# GET on a port of 127.0.0.1: the response and the wall time it took.
sub get_on {
    my ($port, $path) = @_;
    my $t0 = time;
    my $res = $ua->get("http://127.0.0.1:$port$path");
    return ($res, time - $t0);
}
sub rig_get { return get_on($P, @_) }
sub fq { return 'filter=' . uri_escape($_[0]) }
sub ms { return sprintf '%.0f ms', $_[0] * 1000 }

# --- pcap files and frames ----------------------------------------------------
sub pcap_frames {
    my ($bytes) = @_;
    return undef unless defined $bytes && length $bytes >= 24;
    my $magic = unpack 'V', $bytes;
    return undef unless $magic == 0xa1b2c3d4 || $magic == 0xa1b23c4d;
    my $linktype = unpack 'V', substr($bytes, 20, 4);
    my ($off, @f) = (24);
    while ($off + 16 <= length $bytes) {
        my (undef, undef, $incl, $orig) = unpack 'V4', substr($bytes, $off, 16);
        $off += 16;
        push @f, { linktype => $linktype, data => substr($bytes, $off, $incl), len => $orig };
        $off += $incl;
    }
    return \@f;
}

# An Ethernet frame's IPv4 or IPv6 TCP segment: offsets of its headers
# and payload.
sub parse_frame {
    my ($d) = @_;
    return undef if length $d < 54;
    my $et = unpack 'n', substr($d, 12, 2);
    my %f = (data => $d);
    if ($et == 0x0800) {
        my $ihl = (ord(substr $d, 14, 1) & 0x0f) * 4;
        return undef if ord(substr $d, 23, 1) != 6 || length $d < 14 + $ihl + 20;
        @f{qw(family tcp totlen id)} = (4, 14 + $ihl, unpack('n', substr $d, 16, 2),
                                        unpack('n', substr $d, 18, 2));
    } elsif ($et == 0x86dd) {
        return undef if ord(substr $d, 20, 1) != 6 || length $d < 74;
        @f{qw(family tcp)} = (6, 54);
    } else {
        return undef;
    }
    $f{dport} = unpack 'n', substr($d, $f{tcp} + 2, 2);
    $f{seq} = unpack 'N', substr($d, $f{tcp} + 4, 4);
    $f{payload} = $f{tcp} + (ord(substr $d, $f{tcp} + 12, 1) >> 4) * 4;
    return \%f;
}

# The request packets carrying "X-T43-Marker: <m>" for each marker, from
# downloads of the ring (waits <= 8 s for the worker to store them):
# { marker => frame }.
sub frames_with {
    my ($filter, @markers) = @_;
    my %found;
    wait_for(sub {
        my ($res) = rig_get('/tcp-inspect/capture.pcap?' . fq($filter));
        return 0 unless $res->code == 200;
        my $frames = pcap_frames($res->content) or return 0;
        for my $fr (@$frames) {
            next unless $fr->{linktype} == 1;
            my $f = parse_frame($fr->{data}) or next;
            my $pl = substr $fr->{data}, $f->{payload};
            for my $m (@markers) {
                $found{$m} ||= $f if index($pl, "X-T43-Marker: $m\r\n") >= 0;
            }
        }
        return keys(%found) == @markers;
    }, 8, 0.25);
    return \%found;
}

# The packets of an x=1 listing (text, or HTML with the tags removed):
# the bytes of each packet's hex block.
sub hex_packets {
    my ($text) = @_;
    my (@pk, $cur);
    for my $l (split /\n/, $text) {
        if ($l =~ /^\t0x[0-9a-f]{4}:  ((?:[0-9a-f]{2,4} ?)+)/) {
            (my $hex = $1) =~ s/\s+//g;
            $cur .= pack 'H*', $hex;
        } else {
            push @pk, $cur if defined $cur;
            $cur = undef;
            $cur = '' if $l =~ /^(?:<span[^>]*>)?\d+\.\d+ /;
        }
    }
    push @pk, $cur if defined $cur;
    return @pk;
}
sub lists_marker {
    my ($body, $m, $html) = @_;
    $body =~ s/<[^>]*>//g if $html;
    return scalar grep { index($_, "X-T43-Marker: $m\r\n") >= 0 } hex_packets($body);
}
# The HTML page without its links (they repeat the query, filter included).
sub html_norm { my ($h) = @_; $h =~ s/ href="[^"]*"//g; return $h }
sub short { my ($s) = @_; return length $s > 600 ? substr($s, 0, 600) . '...' : $s }

# =============================================================================
# 1. The byte-probing oracle
# =============================================================================
my $run = sprintf '%08x', int(rand(0xffffffff));
my @alnum = ('A' .. 'Z', 'a' .. 'z', '0' .. '9');
my $secret = join '', map { $alnum[int rand @alnum] } 1 .. 24;
my $mk = 0;
sub marker { return sprintf 'm43-%s-%03d', $run, $mk++ }
my @pos = (0, 7, 15, 23);            # cookie bytes probed

ok wait_for(sub {
    my ($res) = rig_get('/tcp-inspect/status.json');
    my $s = $res->code == 200 ? eval { JSON::PP->new->decode($res->content) } : undef;
    return $s && $s->{capture}{running}
        && 2 == grep { ($_->{status} // '') eq 'ok' } @{ $s->{capture}{interfaces} || [] };
}, 15, 0.2), 'the capture worker runs on both legs' or BAIL_OUT('no capture');

# A request from the namespace: both legs carry the cookie.
sub ns_request {
    my ($m, $pad) = @_;
    my ($code) = ns_curl("/app/echo?t43=$m", '-o', '/dev/null',
        '-H', "Cookie: sid=$secret", '-H', "X-T43-Marker: $m", '-H', 'X-T43-Pad: ' . ('p' x $pad));
    return $code;
}
# The same from the host, over a fresh backend connection (/fresh/ has
# disablereuse): a new random IPv4 id for each.
sub fresh_request {
    my ($m, $pad) = @_;
    return $ua->get("http://127.0.0.1:$P/fresh/echo?t43=$m", 'Cookie' => "sid=$secret",
                    'X-T43-Marker' => $m, 'X-T43-Pad' => 'p' x $pad)->code;
}

# The backend request's IPv4 total length is set by the pad: measure one,
# then send another whose total length is $want.
sub calibrated {
    my ($send, $want, $filter) = @_;
    my ($m0, $pad0) = (marker(), 1000);
    return undef unless $send->($m0, $pad0) == 200;
    my $f0 = frames_with($filter, $m0)->{$m0} or return undef;
    my $pad = $pad0 + $want - $f0->{totlen};
    return undef if $pad < 1;
    my $m = marker();
    return undef unless $send->($m, $pad) == 200;
    return [$m, frames_with($filter, $m)->{$m}, $pad];
}

# The frame offset of byte $i of the cookie value in a request frame.
sub cookie_at {
    my ($f, $i) = @_;
    my $c = index $f->{data}, "sid=$secret", $f->{payload};
    return $c < 0 ? undef : $c + 4 + $i;
}

# Ask each location for the packets the filter selects, once with the
# right byte and once with a wrong one. $filter_for->($frame_offset,
# $byte) gives the expression.
my %probe_count;
sub probe {
    my ($what, $m, $f, $filter_for) = @_;
    for my $i (@pos) {
        my $at = cookie_at($f, $i);
        ok defined $at, "$what: the cookie is in the packet" or return;
        my $right = ord substr $f->{data}, $at, 1;
        my $wrong = $right ^ 0x01;
        my (%txt, %html, @bad);
        my $ns = !$probe_count{$what}++;   # once per kind: the viewer in the namespace
        for my $g ([right => $right], [wrong => $wrong]) {
            my ($name, $byte) = @$g;
            my $q = fq($filter_for->($at, $byte));
            for my $loc (qw(tcp-inspect-dl tcp-inspect tcp-inspect-nodl)) {
                my ($res) = rig_get("/$loc/packets.txt?x=1&$q");
                push @bad, "$loc/packets.txt $name: " . $res->status_line unless $res->code == 200;
                $txt{$loc}{$name} = $res->content;
            }
            for my $loc (qw(tcp-inspect-dl tcp-inspect)) {
                my ($res) = rig_get("/$loc/packets?x=1&$q");
                push @bad, "$loc/packets $name: " . $res->status_line unless $res->code == 200;
                $html{$loc}{$name} = $res->content;
            }
            if ($ns) {
                my ($code, $body) = ns_curl("/tcp-inspect/packets.txt?x=1&$q");
                push @bad, "namespace $name: $code" unless $code == 200;
                $txt{ns}{$name} = $body;
            }
        }
        my $tag = sprintf '%s, cookie byte %d (0x%02x vs 0x%02x)', $what, $i, $right, $wrong;
        is "@bad", '', "$tag: every location answers 200";
        my $dl = $txt{'tcp-inspect-dl'};
        ok lists_marker($dl->{right}, $m) && !lists_marker($dl->{wrong}, $m),
            "$tag: with downloads allowed the right guess lists the packet, the wrong one not"
            or diag "right:\n" . short($dl->{right}) . "\nwrong:\n" . short($dl->{wrong});
        ok lists_marker($html{'tcp-inspect-dl'}{right}, $m, 1)
            && !lists_marker($html{'tcp-inspect-dl'}{wrong}, $m, 1),
            "$tag: the same on the HTML page with downloads allowed";
        for my $loc (grep { exists $txt{$_} } qw(tcp-inspect tcp-inspect-nodl ns)) {
            my $t = $txt{$loc};
            ok $t->{right} eq $t->{wrong} && !lists_marker($t->{right}, $m),
                "$tag: /$loc/packets.txt gives the same answer for both guesses"
                or diag "right:\n" . short($t->{right}) . "\nwrong:\n" . short($t->{wrong});
        }
        my $h = $html{'tcp-inspect'};
        ok html_norm($h->{right}) eq html_norm($h->{wrong}) && !lists_marker($h->{right}, $m, 1),
            "$tag: /tcp-inspect/packets (HTML) gives the same answer for both guesses";
    }
}

# (a) Payload indexing on both legs, and (b) the vlan shift on the
# backend leg. libpcap compiles `vlan` on Ethernet (pcap_open_dead: no
# VLAN-tag extension) as: EtherType at 12 is a VLAN TPID, then every later
# link-type test reads the EtherType at 16 and the network header starts
# at 18. So after (vlan and less 1) -- never true -- `ip[k:1]` of an
# untagged IPv4 frame tests "bytes 16-17 = 0x0800", i.e. an IPv4 total
# length of exactly 2048, and reads frame byte 18 + k.
my $cal = calibrated(\&ns_request, 0x0800, "tcp dst port $J and greater 1000");
ok $cal && $cal->[1], 'a request from the namespace, its backend packet from capture.pcap'
    or BAIL_OUT('the request packet is not in the ring');
my ($m1, $f1) = @$cal;
is $f1->{totlen}, 0x0800, 'its IPv4 total length is 2048 (vlan shift precondition)';
my $ff = frames_with("tcp dst port $P and greater 300", $m1)->{$m1};
ok $ff, 'its frontend packet from capture.pcap' or BAIL_OUT('no frontend packet');

probe('front leg, tcp[] at the payload', $m1, $ff, sub {
    my ($at, $b) = @_;
    return sprintf 'tcp dst port %d and tcp[((tcp[12]&0xf0)>>2)+%d:1] = %d', $P, $at - $ff->{payload}, $b;
});
probe('backend leg, tcp[] at the payload', $m1, $f1, sub {
    my ($at, $b) = @_;
    return sprintf 'tcp dst port %d and tcp[((tcp[12]&0xf0)>>2)+%d:1] = %d', $J, $at - $f1->{payload}, $b;
});
probe('backend leg, vlan-shifted ip[]', $m1, $f1, sub {
    my ($at, $b) = @_;
    return sprintf 'tcp dst port %d and ((vlan and less 1) or ip[%d:1] = %d)', $J, $at - 18, $b;
});

# (c) The mpls shift: after `mpls` (Ethernet) the network header is 4
# bytes further, at 18, and `ip` tests the label's bottom-of-stack bit at
# 16 and the version nibble at 18: for an untagged IPv4 frame, an odd high
# byte of the total length and an IP id 0x4xxx (`ip6`: 0x6xxx). Each
# fresh backend connection starts at a random id: send requests of total
# length 0x380 until one qualifies (1 in 8).
my $cal2 = calibrated(\&fresh_request, 0x380, "tcp dst port $J and greater 300");
ok $cal2 && $cal2->[1], 'a request over a fresh backend connection, from capture.pcap';
my ($m2, $f2, $proto);
# The packet qualifies for `ip` (id 0x4xxx) or `ip6` (id 0x6xxx).
sub mpls_proto {
    my ($f) = @_;
    return undef unless $f && ($f->{totlen} >> 8) & 1;
    my $v = ($f->{id} >> 8) & 0xf0;
    return $v == 0x40 ? 'ip' : $v == 0x60 ? 'ip6' : undef;
}
($m2, $f2, $proto) = ($cal2->[0], $cal2->[1], mpls_proto($cal2->[1])) if $cal2 && mpls_proto($cal2->[1]);
for my $batch (1 .. 4) {
    last if $f2 || !$cal2;
    my @ms = map { marker() } 1 .. 24;
    fresh_request($_, $cal2->[2]) for @ms;
    my $found = frames_with("tcp dst port $J and greater 300", @ms);
    my @ids = map { $found->{$_} ? sprintf('%04x/%04x', $found->{$_}{totlen}, $found->{$_}{id}) : '-' } @ms;
    note "batch $batch (total length/IP id): @ids";
    for my $m (grep { mpls_proto($found->{$_}) } @ms) {
        ($m2, $f2, $proto) = ($m, $found->{$m}, mpls_proto($found->{$m}));
        last;
    }
}
ok $f2, 'a backend packet whose total length and IP id meet the mpls preconditions'
    . ($f2 ? sprintf(' (length 0x%04x, id 0x%04x: %s[k])', $f2->{totlen}, $f2->{id}, $proto) : '');
probe("backend leg, mpls-shifted $proto\[]", $m2, $f2, sub {
    my ($at, $b) = @_;
    return sprintf 'tcp dst port %d and ((mpls and less 1) or %s[%d:1] = %d)', $J, $proto, $at - 18, $b;
}) if $f2;

# (d) IPv6: httpd's [::1]:jetty-port virtual host is in the backend scope
# on lo; ip6[k] indexes the IPv6 packet.
my $m3 = marker();
my @curl6 = ('curl', '-g', '-s', '-m', '10', '-o', '/dev/null', '-w', '%{http_code}',
             '-H', "Cookie: sid=$secret", '-H', "X-T43-Marker: $m3",
             "http://[::1]:$J/app/echo?t43=$m3");
open my $c6, '-|', @curl6 or die "curl: $!";
my $code6 = do { local $/; <$c6> } // '';
close $c6;
is $code6, '200', 'a request over IPv6 to [::1]:' . $J;
my $f3 = frames_with("ip6 and tcp dst port $J and greater 100", $m3)->{$m3};
ok $f3 && $f3->{family} == 6, 'its IPv6 packet from capture.pcap';
probe('IPv6, ip6[] at the payload', $m3, $f3, sub {
    my ($at, $b) = @_;
    return sprintf 'tcp dst port %d and ip6[%d:1] = %d', $J, $at - 14, $b;
}) if $f3;

# =============================================================================
# 2. What a filter may be
# =============================================================================
my @pages = ('/tcp-inspect/packets.txt', '/tcp-inspect/packets', '/tcp-inspect/capture.pcap');
sub refused {
    my ($what, $expr, $re) = @_;
    for my $page (@pages) {
        my ($res, $dt) = rig_get("$page?" . fq($expr));
        is $res->code, 400, "$what: $page is 400";
        like $res->content, qr/^400 Bad Request: filter: .*$re/, "$what: the message says why";
        cmp_ok $dt, '<', 1, "$what: $page answered within 1 s (" . ms($dt) . ')';
    }
}
sub accepted {
    my ($what, $expr) = @_;
    for my $page (@pages) {
        my ($res, $dt) = rig_get("$page?" . fq($expr));
        is $res->code, 200, "$what: $page is 200" or diag short($res->content);
        cmp_ok $dt, '<', 1, "$what: $page answered within 1 s (" . ms($dt) . ')';
    }
}
sub chain { my ($n, $fmt) = @_; return join " or ", map { sprintf $fmt, $_ } 1 .. $n }

my $x400 = chain(400, 'port %d');
my $q400 = fq($x400);
note sprintf 'port 1 or ... or port 400: %d bytes, %d in the query string', length $x400, length $q400;
cmp_ok length $q400, '>', 7000, 'the 7 kB expression (its query string) reaches the module';
refused('port 1 or ... or port 400', $x400, qr/longer than $MAX_LEN bytes/);
refused('host some.name', 'host some.name', qr/"some\.name" is not a filter keyword: .*not looked up/);
refused('port http', 'port http', qr/"http" is not a port number: service names are not looked up/);
refused('a bare name', 'tcp and some.name', qr/"some\.name" is not a filter keyword/);
refused('portrange of names', 'portrange http-https', qr/is not a port number/);
refused('a protocol name', 'ip proto \\tcp', qr/escaped names are looked up/);
refused($MAX_OPS + 1 . ' operators', chain($MAX_OPS + 2, 'port %d'),
        qr/more than $MAX_OPS and\/or\/not operators/);
my $geneve = 'geneve and (' . join(' or ', map { sprintf 'portrange %d-%d', 10 * $_, 10 * $_ + 5 } 1 .. $MAX_OPS - 1) . ')';
refused('geneve and ' . ($MAX_OPS - 1) . ' portranges', $geneve,
        qr/compiles to \d+ BPF instructions, more than $MAX_INSNS/);
refused(($MAX_LEN + 1) . ' bytes', 'tcp port 1' . (' ' x ($MAX_LEN - 9)), qr/longer than $MAX_LEN bytes/);

accepted("$MAX_OPS operators (ports)", chain($MAX_OPS + 1, 'port %d'));
my $ranges = join ' or ', map { sprintf 'portrange %d-%d', 10 * $_, 10 * $_ + 5 } 1 .. $MAX_OPS + 1;
accepted("$MAX_OPS operators (portranges, the costliest to compile)", $ranges);
accepted("$MAX_LEN bytes", 'tcp port 1' . (' ' x ($MAX_LEN - 10)));

my @bad = grep { /exit signal|segfault|AH00052/ } error_log_since($log0);
is scalar @bad, 0, 'no child of the rig httpd crashed' or diag @bad;
note sprintf 'parts 1 and 2 took %.1f s', time - $t_begin;

# =============================================================================
# 3. A full 1 GiB ring
# =============================================================================
my $FILL_SECONDS = 30;        # at most, filling the ring
my $SLACK = 0.75;             # s, on top of the budget (2 shared cores)
my $mpm = $r->{mpm} || 'event';

my $port = free_port(19200, 19400);
my $sink = free_port(19200, 19400);
my $dir;
my $S = scratch_httpd(name => 'filter',
    listen  => ["127.0.0.1:$port"],
    modules => [qw(proxy proxy_http)],
    body    => sub {
        ($dir) = @_;
        return <<"EOF";
# Room for a 7 kB expression, spaces escaped.
LimitRequestLine 16384
TCPInspectEngine On
TCPInspectFrontend lo $port
# The ring is filled with 1-byte segments to this port (nothing listens).
TCPInspectBackend lo $sink
TCPInspectRingSize 1G
<Location /tcp-inspect>
    SetHandler tcp-inspect
    Require ip 127.0.0.1
    TCPInspectAllowDownload On
</Location>
<Location /tcp-inspect-nodl>
    SetHandler tcp-inspect
    Require ip 127.0.0.1
</Location>
EOF
    });

my @kids;              # the filler's processes
sub stop_kids {
    kill 'TERM', @kids if @kids;
    waitpid $_, 0 for @kids;
    @kids = ();
}
END {
    local $?;
    stop_kids();
    scratch_stop($S) if $S;
}
my ($started, $out) = scratch_start($S);
ok $started, "scratch httpd ($mpm) with TCPInspectRingSize 1G starts" or diag $out;

sub sget { return get_on($port, @_) }
sub sstatus {
    my ($res) = sget('/tcp-inspect/status.json');
    return $res->code == 200 ? eval { JSON::PP->new->decode($res->content) } : undef;
}
my $st = wait_for(sub {
    my $s = sstatus() or return undef;
    my %if = map { $_->{name} => $_->{status} } @{ $s->{capture}{interfaces} || [] };
    return $s->{capture}{running} && ($if{lo} // '') eq 'ok' ? $s : undef;
}, 15, 0.2);
ok $st, 'its worker captures on lo' or BAIL_OUT('no worker');
my $slots = $st->{capture}{ring}{slots};
is $slots, 1 << 21, 'a 1 GiB ring has 2M record slots';

# The filler: 1-byte TCP segments (ACK|PSH, consecutive sequence
# numbers) sent through a raw socket to the sink port of 127.0.0.1, where
# nothing listens. Each is one 55-byte frame on lo, and the kernel answers
# each with a 54-byte RST: two small records per system call, for at most
# $FILL_SECONDS and 16M segments. (A TCP stream of 1-byte writes gives
# fewer: the kernel coalesces them when the machine is busy.)
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    alarm $FILL_SECONDS + 10;
    socket(my $raw, Socket::PF_INET(), Socket::SOCK_RAW(), IPPROTO_TCP) or POSIX::_exit(1);
    my $to = Socket::pack_sockaddr_in(0, Socket::inet_aton('127.0.0.1'));
    my ($sport, $seq) = (40000 + $$ % 20000, 1_000_000);
    my $hdr = sub { pack 'n n N N n n n n', $sport, $sink, $_[0], 1, 0x5018, 512, $_[1], 0 };
    my $sum0 = 0;   # the checksum's sum without the sequence number
    $sum0 += $_ for unpack 'n*', pack('C4 C4 n n', 127, 0, 0, 1, 127, 0, 0, 1, 6, 21)
                                 . $hdr->(0, 0) . "x\0";
    my $end = time + $FILL_SECONDS;
    for my $k (1 .. 4096) {
        for (1 .. 4096) {
            my $sum = $sum0 + ($seq >> 16) + ($seq & 0xffff);
            $sum = ($sum & 0xffff) + ($sum >> 16) while $sum >> 16;
            send $raw, $hdr->($seq++, ~$sum & 0xffff) . "x", 0, $to;   # ENOBUFS: next one
        }
        last if time > $end;
    }
    POSIX::_exit(0);
}
push @kids, $pid;
my $t_fill = time;
my $ring = wait_for(sub {
    my $s = sstatus() or return undef;
    my $g = $s->{capture}{ring};
    return $g->{packets} >= $g->{slots} || $g->{overwritten} > 0 ? $g : undef;
}, $FILL_SECONDS, 0.25);
my $fill_s = time - $t_fill;
stop_kids();
ok $ring, sprintf 'the ring is full after %.1f s (%s packets, %s overwritten)', $fill_s,
    $ring ? ($ring->{packets}, $ring->{overwritten}) : ('-', '-')
    or diag explain sstatus()->{capture};
# Let the worker store what it still holds.
my $last = -1;
$st = wait_for(sub {
    my $s = sstatus() or return undef;
    my $n = $s->{capture}{ring}{packets};
    my $done = $n == $last;
    $last = $n;
    return $done ? $s : undef;
}, 10, 0.5) || sstatus();
my $g = $st->{capture}{ring};
my ($lo) = grep { $_->{name} eq 'lo' } @{ $st->{capture}{interfaces} };
$lo ||= { received => -1, dropped => -1 };
note sprintf 'ring: %d slots, %d held, %d written, %d overwritten, %d bytes used (%d%%); '
    . 'lo: %d received, %d dropped', $g->{slots}, $g->{held}, $g->{packets}, $g->{overwritten},
    $g->{used_bytes}, $g->{fill_percent}, $lo->{received}, $lo->{dropped};
is $g->{held}, $slots, 'it holds 2M records';

# A data segment near the old end of the ring: its packet number (the page
# says X-TCPInspect-Next) and sequence number (its hex dump). A filter on
# that sequence number matches it alone, so a scan from the newest
# packets must cover (nearly) the whole ring to list it.
my $tail = $g->{packets} - $g->{held};
my ($res) = sget('/tcp-inspect-nodl/packets.txt?x=1&limit=1&since=' . ($tail + 20000) . '&'
                 . fq("tcp dst port $sink and tcp[13] & 8 != 0"));
my ($old_ip) = hex_packets($res->content);
my $old_n = ($res->header('X-TCPInspect-Next') // 0) - 1;
my $old_seq;
if (defined $old_ip && length $old_ip >= 40) {
    my $ihl = (ord($old_ip) & 0x0f) * 4;
    $old_seq = unpack 'N', substr($old_ip, $ihl + 4, 4);
}
ok defined $old_seq && $old_n >= $tail, "an old data segment: packet #$old_n of #$tail.."
    . ($g->{packets} - 1) or diag short($res->content);
$old_seq //= 0;

my $ranges15 = join ' or ', map { sprintf 'portrange %d-%d', 10 * $_, 10 * $_ + 5 } 1 .. $MAX_OPS - 1;
my @filters = (
    ['matches nothing', 'tcp port 1', 0],
    ['matches only an old packet', "tcp[4:4] = $old_seq", 1],
    ["matches only an old packet, $MAX_OPS operators", "not ($ranges15) and tcp[4:4] = $old_seq", 1],
);
# How many times a page reads its window: the window search is charged
# to the budget; printing it again is not (tcpi_query.h): .txt prints
# once, the HTML page once per leg (3). A download has 8 x the budget.
my %passes = (txt => 2, html => 4, pcap => 8);
my %times;
for my $fl (@filters) {
    my ($what, $expr, $old) = @$fl;
    my $q = fq($expr);
    for my $p (['nodl txt', "/tcp-inspect-nodl/packets.txt?$q", 'txt'],
               ['nodl html', "/tcp-inspect-nodl/packets?limit=10&$q", 'html'],
               ['dl txt', "/tcp-inspect/packets.txt?$q", 'txt'],
               ['pcap', "/tcp-inspect/capture.pcap?$q", 'pcap']) {
        my ($name, $path, $kind) = @$p;
        my $log_at = -s "$dir/logs/error_log";
        my ($res, $dt) = sget($path);
        my $bound = $passes{$kind} * $B + $SLACK;
        my $tag = "full ring, filter that $what: $name";
        is $res->code, 200, "$tag: 200" or next;
        cmp_ok $dt, '<=', $bound, sprintf '%s: answered in %s (bound %s)', $tag, ms($dt), ms($bound);
        push @{ $times{"$name / $what"} }, $dt;
        my $trunc = $res->header('X-TCPInspect-Truncated');
        my %t;
        if (defined $trunc) {
            ok $trunc =~ /^examined=(\d+); first=(\d+); last=(\d+)$/,
                "$tag: X-TCPInspect-Truncated: $trunc" or next;
            @t{qw(examined first last)} = ($1, $2, $3);
            cmp_ok $t{examined}, '<=', $BUDGET_PACKETS, "$tag: examined at most the packet budget";
            is $t{last} - $t{first} + 1, $t{examined}, "$tag: first..last is what it examined";
            cmp_ok $t{last}, '>=', $g->{packets} - 1, "$tag: from the newest packet back";
        }
        if ($kind eq 'pcap') {
            my $frames = pcap_frames($res->content);
            ok $frames, "$tag: a pcap file" or next;
            my @seqs = map { my $f = parse_frame($_->{data}); $f ? $f->{seq} : -1 } @$frames;
            if ($old) {
                is scalar(grep { $_ == $old_seq } @seqs), 1,
                    "$tag: it holds the old packet (a download scans from the oldest)";
                is scalar(grep { $_ != $old_seq } @seqs), 0, "$tag: and nothing else";
            } else {
                is scalar @seqs, 0, "$tag: no packet";
            }
            open my $el, '<', "$dir/logs/error_log";
            seek $el, $log_at // 0, 0;
            my @cut = grep { /TCPI0452/ } <$el>;
            note "$tag: download cut by the budget: @cut" if @cut;
            next;
        }
        # What the page lists agrees with what it says it examined: the
        # old packet is listed exactly when the scan reached it.
        my $body = $res->content;
        my $listed;
        if ($kind eq 'html') {
            $listed = $body =~ /<span class="p" id="p\Q$old_n\E">/ ? 1 : 0;
            my ($ex) = $body =~ /The scan stopped early: (\d+) packets examined/;
            is $ex, $t{examined}, "$tag: the HTML page says whether and how far the scan stopped early";
        } else {
            $listed = $body =~ /\S/ ? 1 : 0;
        }
        my $reached = !defined $trunc || $t{first} <= $old_n ? 1 : 0;
        is $listed, $old ? $reached : 0, "$tag: " . ($old
            ? ($reached ? 'the scan reached the old packet and lists it'
                        : 'the scan stopped before the old packet and does not list it')
            : 'lists nothing');
        if ($expr =~ /^not/ && $name =~ /^nodl/) {
            # 16 portranges per record on top of the headers-only copy:
            # about 2x what the time budget allows for 2M records on the
            # project's machines (tcpi_query.h), so the budget stops it.
            ok defined $trunc, "$tag: the time budget stopped the scan early";
        }
    }
}

# A 7 kB expression, here where the request line may be that long.
my $x7 = '';
for (my $i = 1; length $x7 < 7000; $i++) { $x7 .= ($i > 1 ? ' or ' : '') . "port $i" }
for my $page ('/tcp-inspect-nodl/packets.txt', '/tcp-inspect/capture.pcap') {
    my ($res, $dt) = sget("$page?" . fq($x7));
    is $res->code, 400, sprintf 'a %d-byte expression on the full ring, %s: 400', length $x7, $page;
    like $res->content, qr/longer than $MAX_LEN bytes/, 'naming the bound';
    cmp_ok $dt, '<', 1, 'within 1 s (' . ms($dt) . ')';
}

# --- stop ---------------------------------------------------------------------
ok scratch_stop($S, 20), 'the scratch httpd stopped';
open my $el, '<', "$dir/logs/error_log";
my @crit = grep { /\[(emerg|alert|crit)\]|Segmentation|exited \(/ } <$el>;
ok !@crit, 'no crash, no worker exit, no emerg/alert/crit in its error log' or diag @crit;
note join '; ', map { sprintf '%s: %s', $_, join(', ', map { ms($_) } @{ $times{$_} }) } sort keys %times;
note sprintf 'fill %.1f s; the suite took %.1f s', $fill_s, time - $t_begin;

done_testing;
