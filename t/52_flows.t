# /flows and /flows.json through a real httpd and Jetty, and the decoder's
# reason counters: requests from the client namespace (fresh connections,
# the client or httpd closing first), from loopback, and /fresh/close
# (Jetty closes without answering). Every case goes through the
# disablereuse /fresh/ backend, so each owns its backend connection from
# SYN to FIN: through the pooled /app two cases could share one backend
# tuple (under prefork one child served both), and a pooled connection's
# end is not the request's (t/50 covers the pooled joins). Each request's frontend and backend 4-tuples appear
# in flows.json; each side's packet-derived state history is checked
# against two oracles not written by us: the packets of that flow in
# /capture.pcap read with `tcpdump -n -r` (who sent SYN, who sent the
# first FIN, packets per direction) and `ss -tan` for the sockets that
# still exist. Then the filters, the 400s, the HTML page and its links.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use File::Temp ();
use Time::HiRes qw(time sleep);
use URI::Escape qw(uri_unescape);
use TCPI::Rig qw(rig have_module http_get wait_for status_json);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'no client namespace (run through t/run.sh)' unless $r->{ns};

my $json = JSON::PP->new;
my $run = sprintf 'r52-%s-%d-%d', $r->{mpm}, $$, int(time);
my $dir = File::Temp::tempdir(CLEANUP => 1);
my ($HOST, $NSIP, $PORT, $JP) = ($r->{host_ip}, $r->{ns_ip}, $r->{port}, $r->{jetty_port});

sub get_json {
    my ($path) = @_;
    my $res = http_get("/tcp-inspect$path");
    return undef unless $res->code == 200;
    return eval { $json->decode($res->content) };
}

# One curl, optionally in the namespace; returns [code, local, remote].
sub curl1 {
    my (%o) = @_;
    my $host = $o{ns} ? $HOST : '127.0.0.1';
    my @cmd = ($o{ns} ? ('ip', 'netns', 'exec', $r->{ns}) : (), 'curl', '-sS', '-m', '20',
               '-o', '/dev/null', '-w', '%{http_code} %{local_ip}:%{local_port} '
               . '%{remote_ip}:%{remote_port}', @{ $o{extra} || [] },
               "http://$host:$PORT$o{path}");
    open my $fh, '-|', @cmd or die "curl: $!";
    my $out = <$fh> // '';
    close $fh;
    return [split / /, $out];
}

# A client in the namespace that sends "Connection: close", reads to EOF
# (httpd's FIN), waits 0.3 s in CLOSE_WAIT and only then closes: httpd
# closes first, always (curl races httpd for it). Same result shape.
sub raw_close_after_eof {
    my ($path) = @_;
    my $code = q{use IO::Socket::INET;
        my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => $ARGV[1]) or die "$!";
        print $s "GET $ARGV[2] HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        my $r = ""; while (sysread($s, my $b, 65536)) { $r .= $b }
        select(undef, undef, undef, 0.3);
        my ($c) = $r =~ m{^HTTP/1\.1 (\d+)};
        print join(" ", $c // 0, $s->sockhost . ":" . $s->sockport, $s->peerhost . ":" . $s->peerport);
        close $s;};
    open my $fh, '-|', 'ip', 'netns', 'exec', $r->{ns}, 'perl', '-e', $code, $HOST, $PORT, $path
        or die "perl: $!";
    my $out = <$fh> // '';
    close $fh;
    return [split / /, $out];
}

# `ss -tan` state of the socket local -> peer ("ESTAB" etc.), or undef.
sub ss_state {
    my ($ns, $local, $peer) = @_;
    my @cmd = ($ns ? ('ip', 'netns', 'exec', $r->{ns}) : (), 'ss', '-Htan');
    open my $fh, '-|', @cmd or die "ss: $!";
    for (<$fh>) {
        # Jetty's IPv6 socket lists IPv4 peers as mapped addresses
        my @f = map { s/^\[::ffff:([\d.]+)\]/$1/r } split ' ';
        return $f[0] if @f >= 5 && $f[3] eq $local && $f[4] eq $peer;
    }
    return undef;
}

# ss names to netstat's.
my %ss2netstat = ('ESTAB' => 'ESTABLISHED', 'SYN-SENT' => 'SYN_SENT',
    'SYN-RECV' => 'SYN_RECV', 'FIN-WAIT-1' => 'FIN_WAIT1', 'FIN-WAIT-2' => 'FIN_WAIT2',
    'TIME-WAIT' => 'TIME_WAIT', 'CLOSE-WAIT' => 'CLOSE_WAIT', 'LAST-ACK' => 'LAST_ACK',
    'CLOSING' => 'CLOSING');

my %later = (FIN_WAIT1 => [qw(FIN_WAIT2 CLOSING TIME_WAIT)], FIN_WAIT2 => ['TIME_WAIT'],
             CLOSE_WAIT => [qw(LAST_ACK CLOSE)], LAST_ACK => ['CLOSE'], CLOSING => ['TIME_WAIT'],
             SYN_SENT => ['ESTABLISHED'], SYN_RECV => ['ESTABLISHED']);

sub find_flow {
    my ($flows, $a, $b) = @_;
    for my $f (@$flows) {
        return $f if ($f->{client}{addr} eq $a && $f->{server}{addr} eq $b)
                  || ($f->{client}{addr} eq $b && $f->{server}{addr} eq $a);
    }
    return undef;
}

sub hist { return join ',', map { $_->{state} } @{ $_[0]{history} } }

# --- decode counters before ---------------------------------------------------
my $st0 = status_json();
ok $st0 && ref $st0->{capture}{decode} eq 'HASH', 'status.json has capture.decode';
my $ok0 = $st0->{capture}{decode}{ok} // 0;

# --- traffic -----------------------------------------------------------------
curl1(ns => 0, path => "/app/echo?warmup=$run");             # Jetty's first call
my %req;
my %uri = (ns_srvclose => "/fresh/echo?u=$run-a", ns_cliclose => "/fresh/echo?u=$run-b",
           ns_fresh => "/fresh/echo?u=$run-c", ns_close => "/fresh/close?u=$run-d",
           lo => "/fresh/echo?u=$run-e");
$req{ns_srvclose} = raw_close_after_eof($uri{ns_srvclose});
$req{ns_cliclose} = curl1(ns => 1, path => $uri{ns_cliclose});
$req{ns_fresh}    = curl1(ns => 1, path => $uri{ns_fresh});
$req{ns_close}    = curl1(ns => 1, path => $uri{ns_close});
$req{lo}          = curl1(ns => 0, path => $uri{lo});
is $req{$_}[0], ($_ eq 'ns_close' ? 502 : 200), "$_: status $req{$_}[0]" for sort keys %req;

# ss right away, while the sockets still exist (TIME_WAIT lasts 60 s).
my %ss;
for my $k (grep { /^ns_/ } keys %req) {
    my ($cl, $sv) = @{ $req{$k} }[1, 2];
    $ss{$k}{client} = ss_state(1, $cl, $sv);
    $ss{$k}{server} = ss_state(0, $sv, $cl);
}

# Backend tuples from requests.json (the module's view of the proxy socket).
my %be;
ok wait_for(sub {
    for my $k (keys %uri) {
        next if $be{$k};
        my $j = get_json('/requests.json?limit=50&uri=' . $uri{$k} =~ s/([?&=])/sprintf '%%%02X', ord $1/ger) or next;
        my ($e) = grep { $_->{uri} eq $uri{$k} } @{ $j->{requests} };
        $be{$k} = [$e->{backend}{local}, $e->{backend}{remote}]
            if $e && $e->{backend} && $e->{backend}{local};
    }
    return (grep { !$be{$_} } keys %uri) ? undef : 1;
}, 10, 0.3), 'every request has its backend tuple in requests.json'
    or diag explain \%be;
for my $k (keys %be) {
    $ss{$k}{be_client} = ss_state(0, @{ $be{$k} });
    $ss{$k}{be_server} = ss_state(0, reverse @{ $be{$k} });
}

# --- the oracle: tcpdump over /capture.pcap -------------------------------------
sleep 1.2;                       # the FINs' last ACKs, a ring block timeout
my $res = http_get('/tcp-inspect/capture.pcap?seconds=120');
is $res->code, 200, 'capture.pcap downloads' or diag $res->status_line;
open my $pf, '>:raw', "$dir/c.pcap" or die;
print $pf $res->content;
close $pf;

# Packets of one 4-tuple as tcpdump -S prints them: [src, dst, flags,
# seq after the segment (absolute), ack or undef].
sub oracle {
    my ($a, $b) = @_;
    my ($ai, $ap) = $a =~ /^(.*):(\d+)$/;
    my ($bi, $bp) = $b =~ /^(.*):(\d+)$/;
    open my $fh, '-|', "tcpdump -n -S -r '$dir/c.pcap' 'tcp and host $ai and port $ap "
        . "and host $bi and port $bp' 2>/dev/null" or die;
    my @p;
    while (<$fh>) {
        next unless /IP6? (\S+)\.(\d+) > (\S+)\.(\d+): Flags \[([^\]]*)\](.*)/;
        my ($src, $dst, $fl, $rest) = ("$1:$2", "$3:$4", $5, $6);
        my ($s0, $s1) = $rest =~ /seq (\d+)(?::(\d+))?/;
        my ($ack) = $rest =~ /ack (\d+)/;
        push @p, [$src, $dst, $fl, defined $s0 ? ($s1 // $s0) : undef, $ack];
    }
    close $fh;
    # The 4-tuple's latest connection, as flows.json keeps it: an earlier
    # one in the 120 s window (httpd's port reused after Jetty closed
    # first and kept the TIME_WAIT) starts again at its own SYN.
    # (A SYN sent again has the same ISN: the connection starts at the first.)
    my ($last) = grep { $p[$_][2] eq 'S' } reverse 0 .. $#p;
    if (defined $last) {
        my ($first) = grep { $p[$_][2] eq 'S' && $p[$_][0] eq $p[$last][0]
                             && ($p[$_][3] // -1) == ($p[$last][3] // -2) } 0 .. $last;
        splice @p, 0, $first if $first;
    }
    return \@p;
}

# What the packets imply for the end of a connection: the client is the
# SYN's sender; after a FIN each way (each acknowledged), the side whose
# FIN came first is in TIME_WAIT, the other closed -- unless the second
# FIN does not acknowledge the first (they crossed: a simultaneous close,
# both sides through CLOSING to TIME_WAIT); a RST closes both.
sub expect_from_packets {
    my ($pk) = @_;
    my %e;
    my ($syn) = grep { $_->[2] eq 'S' } @$pk;
    $e{client} = $syn ? $syn->[0] : undef;
    my @fins = grep { $_->[2] =~ /F/ } @$pk;
    my %fin_by;
    $fin_by{ $_->[0] } //= $_ for @fins;
    $e{first_fin} = @fins ? $fins[0][0] : undef;
    $e{rst} = grep { $_->[2] =~ /R/ } @$pk;
    $e{both_fins} = keys(%fin_by) == 2;
    if ($e{both_fins}) {
        my ($f1) = $fin_by{ $fins[0][0] };
        my ($f2) = grep { $_->[0] ne $f1->[0] } @fins;
        # sequence space mod 2^32: the first FIN ends at its seq + 1
        my $end1 = (($f1->[3] // 0) + 1) % 4294967296;
        $e{crossed} = defined $f2->[4] && (($end1 - $f2->[4]) % 4294967296) > 0
                      && (($end1 - $f2->[4]) % 4294967296) < 2147483648;
    }
    $e{count}{ $_->[0] }++ for @$pk;
    return \%e;
}

# --- flows.json -----------------------------------------------------------------
my $flows;
my @tuples = ((map { [$_, @{ $req{$_} }[1, 2], 'front'] } grep { /^ns_/ } keys %req),
              (map { [$_, @{ $be{$_} }, 'backend'] } keys %be));
ok wait_for(sub {
    $flows = get_json('/flows.json?limit=1024') or return 0;
    return !grep { !find_flow($flows, $_->[1], $_->[2]) } @tuples;
}, 8, 0.5), 'every frontend and backend 4-tuple is in flows.json'
    or diag join "\n", map { "$_->[0] $_->[1] $_->[2]" } grep { !find_flow($flows, $_->[1], $_->[2]) } @tuples;

for my $t (@tuples) {
    my ($k, $a, $b, $leg) = @$t;
    my $f = find_flow($flows, $a, $b) or next;
    my $pk = oracle($a, $b);
    my $e = expect_from_packets($pk);
    my $name = "$k $leg $a <-> $b";
    is $f->{leg}, $leg, "$name: leg";
    ok scalar(@$pk), "$name: tcpdump finds its packets in capture.pcap";
    if (defined $e->{client}) {
        is $f->{client}{addr}, $e->{client}, "$name: the client is the SYN's sender";
        like hist($f->{client}), qr/^SYN_SENT,ESTABLISHED/, "$name: client opened";
        like hist($f->{server}), qr/^SYN_RECV(,ESTABLISHED)?/, "$name: server accepted";
    }
    if (defined $e->{client}) {      # the whole connection is in the capture
        is $f->{client}{packets}, $e->{count}{ $f->{client}{addr} } // 0,
            "$name: client packets equal tcpdump's";
        is $f->{server}{packets}, $e->{count}{ $f->{server}{addr} } // 0,
            "$name: server packets equal tcpdump's";
    }
    my ($c, $s) = ($f->{client}, $f->{server});
    if ($e->{rst}) {
        ok $c->{state} eq 'CLOSE' && $s->{state} eq 'CLOSE', "$name: RST closed both sides";
    } elsif ($e->{both_fins} && $e->{crossed}) {
        like hist($c), qr/,FIN_WAIT1,CLOSING,TIME_WAIT$/, "$name: FINs crossed: client through CLOSING: " . hist($c);
        like hist($s), qr/,FIN_WAIT1,CLOSING,TIME_WAIT$/, "$name: FINs crossed: server through CLOSING: " . hist($s);
    } elsif ($e->{both_fins}) {
        my ($first, $second) = $e->{first_fin} eq $c->{addr} ? ($c, $s) : ($s, $c);
        like hist($first), qr/FIN_WAIT1(,FIN_WAIT2)?,TIME_WAIT$/,
            "$name: the first FIN's sender ($first->{addr}) went to TIME_WAIT: " . hist($first);
        like hist($second), qr/CLOSE_WAIT,LAST_ACK,CLOSE$/,
            "$name: the other side went through LAST_ACK: " . hist($second);
    } elsif (defined $e->{first_fin}) {
        my ($first, $second) = $e->{first_fin} eq $c->{addr} ? ($c, $s) : ($s, $c);
        like $first->{state}, qr/^FIN_WAIT[12]$/, "$name: half closed by $first->{addr}";
        is $second->{state}, 'CLOSE_WAIT', "$name: peer in CLOSE_WAIT";
    } else {
        ok $c->{state} eq 'ESTABLISHED' && $s->{state} eq 'ESTABLISHED', "$name: still open";
    }
    # ss: a socket that still exists is in the state flows.json shows, or
    # (ss ran right after curl returned, the last ACK may have been in
    # flight) in one the packets took it to next; one ss no longer lists
    # is closed.
    my ($sk_c, $sk_s) = $leg eq 'front' ? ('client', 'server') : ('be_client', 'be_server');
    for my $side ([$sk_c, $c], [$sk_s, $s]) {
        my $ssst = $ss{$k}{ $side->[0] };
        if (defined $ssst) {
            my $n = $ss2netstat{$ssst} // $ssst;
            ok $side->[1]{state} eq $n || ($later{$n} && grep { $_ eq $side->[1]{state} } @{ $later{$n} }),
                "$name: $side->[0] state $side->[1]{state} agrees with ss ($ssst)";
        } else {
            is $side->[1]{state}, 'CLOSE', "$name: $side->[0] socket gone in ss: CLOSE";
        }
    }
}

# The cases by what happened, not only by the oracle.
my %f = map { $_->[0] . ':' . $_->[3] => find_flow($flows, $_->[1], $_->[2]) } @tuples;
if (my $x = $f{'ns_srvclose:front'}) {
    like hist($x->{server}), qr/FIN_WAIT1/, 'Connection: close: httpd closed first (server FIN_WAIT1)';
    like hist($x->{client}), qr/CLOSE_WAIT/, 'Connection: close: the client saw CLOSE_WAIT';
}
if (my $x = $f{'ns_cliclose:front'}) {
    like hist($x->{client}), qr/FIN_WAIT1/, 'keep-alive: curl closed first (client FIN_WAIT1)';
    is $x->{client}{state}, 'TIME_WAIT', 'keep-alive: the client ends in TIME_WAIT';
}
if (my $x = $f{'ns_close:backend'}) {
    my $pk = oracle(@{ $be{ns_close} });
    my ($fin) = grep { $_->[2] =~ /[FR]/ } @$pk;
    is $fin && $fin->[0], "127.0.0.1:$JP", '/fresh/close: tcpdump shows Jetty closing first';
    like hist($x->{server}), qr/(FIN_WAIT1|CLOSE)/, '/fresh/close: Jetty side closed first: ' . hist($x->{server});
    like hist($x->{client}), qr/CLOSE_WAIT|^[^,]*(,ESTABLISHED)?,CLOSE$/,
        '/fresh/close: httpd side saw the backend close: ' . hist($x->{client});
}
for my $k (grep { $_ ne 'ns_close' } sort keys %req) {
    my $x = $f{"$k:backend"} or next;
    isnt $x->{client}{state}, 'ESTABLISHED', "$k: disablereuse: the backend connection was closed";
}
my %tuple_of;
push @{ $tuple_of{ join ' ', @{ $be{$_} } } }, $_ for keys %be;
is scalar(grep { @$_ > 1 } values %tuple_of), 0, 'every case had a backend connection of its own'
    or diag explain \%tuple_of;
ok !find_flow($flows, @{ $req{lo} }[1, 2]),
    'a loopback request has no frontend flow (the frontend is captured on the veth only)';
ok $f{'lo:backend'}, 'the loopback request\'s backend flow is there';

# Newest activity first.
my @last = map { $_->{last} } @$flows;
ok !(grep { $last[$_] > $last[$_ - 1] } 1 .. $#last), 'flows.json is newest activity first';

# --- filters -------------------------------------------------------------------
my $fr = get_json('/flows.json?leg=front&limit=1024');
ok $fr && @$fr && !(grep { $_->{leg} ne 'front' } @$fr), 'leg=front: only frontend flows';
my $bk = get_json('/flows.json?leg=backend&limit=1024');
ok $bk && @$bk && !(grep { $_->{leg} ne 'backend' } @$bk), 'leg=backend: only backend flows';
my ($cport) = $req{ns_cliclose}[1] =~ /:(\d+)$/;
my $pt = get_json("/flows.json?port=$cport");
ok $pt && @$pt >= 1 && !(grep { $_->{client}{addr} !~ /:$cport$/ && $_->{server}{addr} !~ /:$cport$/ } @$pt),
    "port=$cport: only flows on that port";
my $tw = get_json('/flows.json?state=time_wait&limit=1024');
ok $tw && !(grep { $_->{client}{state} ne 'TIME_WAIT' && $_->{server}{state} ne 'TIME_WAIT' } @$tw)
    && find_flow($tw, @{ $req{ns_cliclose} }[1, 2]), 'state=time_wait: flows with a side in TIME_WAIT';
my $one = get_json('/flows.json?limit=1');
ok $one && @$one == 1, 'limit=1: one flow';
for my $q ('leg=middle', 'state=FOO', 'port=0', 'port=70000', 'port=8o', 'limit=0',
           'limit=1025', 'limit=-1', 'bogus=1') {
    my $x = http_get("/tcp-inspect/flows.json?$q");
    is $x->code, 400, "flows.json?$q is 400";
    like $x->content, qr/^400 Bad Request: /, "flows.json?$q: plain message";
}
is http_get('/tcp-inspect/flows?state=<script>')->code, 400, 'flows?state=<script> is 400';
unlike http_get('/tcp-inspect/flows?state=<script>')->content, qr/<script>/, '... not echoed';

# --- HTML ---------------------------------------------------------------------
my $h = http_get("/tcp-inspect/flows?port=$cport");
is $h->code, 200, '/flows is 200';
like $h->header('Content-Type'), qr{^text/html}, '/flows is HTML';
like $h->header('Content-Security-Policy') // '', qr/default-src 'none'/, '/flows has a CSP';
my $html = $h->content;
(my $cl = $req{ns_cliclose}[1]) =~ s/\./\\./g;
like $html, qr/<code>$cl<\/code>/, '/flows shows the client endpoint';
like $html, qr/<b>SYN_SENT<\/b> \d\d:\d\d:\d\d\.\d{3} &rarr; <b>ESTABLISHED<\/b>/, '/flows shows the state history';
unlike $html, qr/<script/i, '/flows has no script';
my ($href) = $html =~ m{href="([^"]*/packets\?filter=[^"]*)"};
ok $href, '/flows links /packets for the flow';
if ($href) {
    (my $flt = $href) =~ s/.*filter=//;
    $flt = uri_unescape($flt);
    my ($jf) = grep { $_->{client}{addr} eq $req{ns_cliclose}[1] } @$pt;
    is $flt, $jf && $jf->{filter}, 'the link carries the flow\'s BPF (as in flows.json)';
    my $p = http_get("/tcp-inspect/packets.txt?limit=1000&filter=" . ($href =~ s/.*filter=//r));
    is $p->code, 200, 'the link\'s filter is accepted by /packets.txt';
    my $n = () = $p->content =~ /^\d+\.\d+ IP /mg;
    is $n, scalar(@{ oracle(@{ $req{ns_cliclose} }[1, 2]) }),
        '/packets.txt with it shows as many packets as tcpdump finds for the tuple';
}
like http_get('/tcp-inspect/')->content, qr{<a href="/tcp-inspect/flows">flows</a>}, 'the overview links /flows';

# --- decode counters after ------------------------------------------------------
my $st1 = status_json();
cmp_ok $st1->{capture}{decode}{ok}, '>', $ok0, "capture.decode.ok moved ($ok0 -> $st1->{capture}{decode}{ok})";
my @reasons = sort keys %{ $st1->{capture}{decode} };
cmp_ok scalar(@reasons), '>=', 14, 'every decode reason is in status.json (' . scalar(@reasons) . ')';
ok !(grep { $st1->{capture}{decode}{$_} !~ /^\d+$/ } @reasons), 'all are integers';
my $m = http_get('/tcp-inspect/metrics')->content;
like $m, qr/^# HELP tcpinspect_decode_packets_total \S.*\n# TYPE tcpinspect_decode_packets_total counter$/m,
    'metrics: HELP and TYPE for tcpinspect_decode_packets_total';
my %mv;
my $bad = 0;
for (grep { /^tcpinspect_decode_packets_total/ } split /\n/, $m) {
    if (/^tcpinspect_decode_packets_total\{interface="([^"\\]+)",reason="([a-z0-9_]+)"\} (\d+)$/) {
        $mv{$2} += $3;
    } else {
        $bad++;
        diag "unparsed: $_";
    }
}
is $bad, 0, 'every decode metric line parses';
is_deeply [sort keys %mv], \@reasons, 'metrics have the same reasons as status.json';
cmp_ok $mv{ok}, '>=', $st1->{capture}{decode}{ok}, 'metrics ok >= the earlier status.json ok';
my $auto = http_get('/tcp-inspect/?auto')->content;
like $auto, qr/^capture\.decode\.ok: \d+$/m, '?auto has capture.decode.ok';
like $auto, qr/^capture\.decode\.tcp_truncated: \d+$/m, '?auto has capture.decode.tcp_truncated';
like http_get('/tcp-inspect/')->content, qr/<table id="decode">/, 'the overview shows the decode table';

done_testing;
