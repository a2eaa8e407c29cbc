# Requests joined to their two flows, through a real httpd and Jetty:
# 304 requests with unique URIs -- from loopback and from the client
# namespace, on fresh and kept-alive client connections, through the
# pooled /app worker and the disablereuse=On /fresh/ worker -- all appear
# in requests.json with the tuples curl saw and the right backend.reused;
# the capture worker joins them to their packets; Jetty's 200 ms delay is
# what the wire says; the detail pages, their errors and the metrics.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);
use TCPI::Rig qw(rig have_module http_get wait_for error_log_offset error_log_since);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'no client namespace (run through t/run.sh)' unless $r->{ns};

my $json = JSON::PP->new;
my $run = sprintf 'r50-%s-%d-%d', $r->{mpm}, $$, int(time);
my $PER = 38;                      # 8 groups: 304 requests

sub get_json {
    my ($path) = @_;
    my $res = http_get("/tcp-inspect$path");
    return undef unless $res->code == 200;
    return eval { $json->decode($res->content) };
}

# curl with several URLs: one connection when kept alive, one per request
# with "Connection: close". Returns [code, local ip:port, remote ip:port]
# per request, as curl itself saw the socket.
sub curl_many {
    my (%o) = @_;
    my $host = $o{ns} ? $r->{host_ip} : '127.0.0.1';
    my @cmd = ($o{ns} ? ('ip', 'netns', 'exec', $r->{ns}) : (), 'curl', '-sS',
               '-m', '30', '--globoff', '-w', '%{http_code} %{local_ip}:%{local_port} '
               . '%{remote_ip}:%{remote_port}\n');
    push @cmd, '-H', 'Connection: close' if $o{close};
    push @cmd, map { ('-o', '/dev/null', "http://$host:$r->{port}$_") } @{ $o{paths} };
    open my $fh, '-|', @cmd or die "curl: $!";
    my @out = map { chomp; [split / /] } <$fh>;
    close $fh;
    return \@out;
}

# Backend connections that exist before the run (ss, not the module):
# a request on one of them is a reuse.
sub backend_ports_now {
    my %p;
    for (`ss -Htn state established '( dport = :$r->{jetty_port} )'`) {
        $p{$1} = 1 if /127\.0\.0\.1:(\d+)\s+127\.0\.0\.1:$r->{jetty_port}/;
    }
    return \%p;
}

my $log0 = error_log_offset();
# Warm-up: Jetty's first call of a code path is slow (its time, not the
# measurement's), so the endpoints used below are called once first.
curl_many(ns => 0, paths => ["/app/echo?warmup=$run", map { "/app/delay?ms=1&warmup=$_" } 1 .. 3]);
sleep 0.5;
my $known = backend_ports_now();

# --- 304 requests -----------------------------------------------------------
my (@sent, $n);
for my $ns (0, 1) {
    for my $close (0, 1) {
        for my $base ('/app/echo', '/fresh/echo') {
            my @paths = map { "$base?u=$run-" . ++$n } 1 .. $PER;
            my $out = curl_many(ns => $ns, close => $close, paths => \@paths);
            is scalar(@$out), $PER, "curl ran $PER requests (ns=$ns close=$close $base)";
            for my $i (0 .. $#paths) {
                my $o = $out->[$i] || [0, '', ''];
                push @sent, { path => $paths[$i], code => $o->[0], local => $o->[1],
                              remote => $o->[2], ns => $ns, close => $close,
                              pooled => $base eq '/app/echo' };
            }
        }
    }
}
is scalar(grep { $_->{code} == 200 } @sent), scalar(@sent), 'every request was 200';
my %conns = map { $_->{local} => 1 } @sent;
cmp_ok scalar(keys %conns), '<', scalar(@sent), 'some requests shared a client connection';

# --- every one in requests.json ---------------------------------------------
my %by_uri;
my $all = wait_for(sub {
    my %u;
    for my $pfx ("/app/echo?u=$run-", "/fresh/echo?u=$run-") {
        my $j = get_json("/requests.json?limit=4096&uri=$pfx") or return undef;
        $u{ $_->{uri} } = $_ for @{ $j->{requests} };
    }
    %by_uri = %u;
    return (grep { !$u{ $_->{path} } } @sent) ? undef : 1;
}, 10, 0.3);
ok $all, 'all ' . scalar(@sent) . ' requests are in requests.json'
    or diag 'missing: ' . join ' ', map { $_->{path} } grep { !$by_uri{ $_->{path} } } @sent;

my (%bad, %seen_port, %open_port);
# In the order they were sent: a backend connection is reused when it
# existed before the run or an earlier request of this run used it.
for my $s (@sent) {
    my $e = $by_uri{ $s->{path} } or next;
    my $server = $s->{ns} ? "$r->{host_ip}:$r->{port}" : "127.0.0.1:$r->{port}";
    push @{ $bad{client} }, "$s->{path}: $e->{front}{client} vs curl $s->{local}"
        unless ($e->{front}{client} // '') eq $s->{local};
    push @{ $bad{server} }, "$s->{path}: $e->{front}{server}"
        unless ($e->{front}{server} // '') eq $server && $s->{remote} eq $server;
    push @{ $bad{id} }, "$s->{path}: " . ($e->{id} // "undef") unless ($e->{id} // '') =~ /^[A-Za-z0-9\@_-]+$/;
    my $b = $e->{backend};
    unless ($b && ($b->{remote} // '') eq "127.0.0.1:$r->{jetty_port}"
            && ($b->{local} // '') =~ /^127\.0\.0\.1:(\d+)$/) {
        push @{ $bad{backend} }, $s->{path};
        next;
    }
    my $port = $1;
    my $expect = $s->{pooled} && ($known->{$port} || $seen_port{$port}) ? 1 : 0;
    push @{ $bad{reused} }, "$s->{path}: reused=" . ($b->{reused} ? 1 : 0)
        . " expected $expect (port $port)"
        unless !!$b->{reused} == !!$expect;
    # disablereuse: never a connection an earlier request of this run left
    # open. (A port may come again once its connection closed: with
    # tcp_tw_reuse the kernel hands out a loopback port still in TIME_WAIT.)
    push @{ $bad{fresh_port} }, "$s->{path}: port $port still open from an earlier request"
        if !$s->{pooled} && $seen_port{$port} && $open_port{$port};
    $open_port{$port} = $s->{pooled};
    $seen_port{$port}++;
}
for my $k (qw(client server id backend reused fresh_port)) {
    ok !$bad{$k}, "$k right for every request" or diag join "\n", grep { defined } @{ $bad{$k} }[0 .. 9];
}
ok scalar(grep { $_->{pooled} && $by_uri{ $_->{path} } && $by_uri{ $_->{path} }{backend}{reused} } @sent),
    'the pooled worker reused backend connections';
ok !scalar(grep { !$_->{pooled} && $by_uri{ $_->{path} } && $by_uri{ $_->{path} }{backend}{reused} } @sent),
    'the disablereuse worker never did';

# --- joined to the packets ----------------------------------------------------
# The namespace client's frontend is on the captured veth; the backend leg
# of every request is on lo.
my $joined = wait_for(sub {
    my %u;
    for my $pfx ("/app/echo?u=$run-", "/fresh/echo?u=$run-") {
        my $j = get_json("/requests.json?limit=4096&uri=$pfx") or return undef;
        $u{ $_->{uri} } = $_ for @{ $j->{requests} };
    }
    %by_uri = %u;
    return (grep { !$u{ $_->{path} } || !$u{ $_->{path} }{joined} } @sent) ? undef : 1;
}, 15, 0.5);
ok $joined, 'the capture worker joined every request to its packets';
my (@nofront, @noback, @opened);
for my $s (@sent) {
    my $e = $by_uri{ $s->{path} } or next;
    next unless $e->{joined};
    push @noback, $s->{path} unless $e->{backend}{found};
    push @nofront, $s->{path} if $s->{ns} && !$e->{front}{found};
    # the wire agrees with mod_proxy: a SYN in the window iff not reused
    push @opened, "$s->{path}: opened=" . ($e->{backend}{opened} ? 1 : 0) . " reused="
        . ($e->{backend}{reused} ? 1 : 0)
        if $e->{backend}{found} && !!$e->{backend}{opened} == !!$e->{backend}{reused};
}
ok !@noback, 'every backend flow was found' or diag join " ", grep { defined } @noback[0 .. 9];
ok !@nofront, 'every namespace frontend flow was found' or diag join " ", grep { defined } @nofront[0 .. 9];
ok !@opened, 'a backend SYN was seen exactly for the requests not reusing a connection'
    or diag join("\n", grep { defined } @opened[0 .. 9]), "\n",
            http_get("/tcp-inspect/requests/$by_uri{(split /:/, $opened[0])[0]}{id}.json")->content;
my @ka = grep { $_->{ns} && !$_->{close} } @sent;
ok !(grep { my $e = $by_uri{ $_->{path} }; $e->{front}{opened} && $e->{front}{requests_before} } @ka),
    'no kept-alive request claims the connection\'s handshake';

# The frontend handshake belongs to the request that opened the
# connection: every namespace request on its own connection has one.
my (@nohs, @hs);
for my $s (grep { $_->{ns} } @sent) {
    my $e = $by_uri{ $s->{path} } or next;
    next unless $e->{joined} && $e->{front}{found};
    if ($e->{front}{requests_before} == 0) {
        push @nohs, $s->{path} unless $e->{front}{opened}
            && defined $e->{timing}{front_handshake_ms};
    } else {
        push @hs, $s->{path} if $e->{front}{opened};
    }
}
ok !@nohs, 'the first request on each namespace connection has the handshake'
    or diag join ' ', grep { defined } @nohs[0 .. 9];
ok !@hs, 'later requests on a kept-alive connection do not' or diag join ' ', grep { defined } @hs[0 .. 9];

my $st = get_json('/requests.json?limit=1');
is $st->{dropped}, 0, 'the request log dropped nothing';
is $st->{join}{records_missed}, 0, 'the join missed no record';

# --- Jetty's 200 ms, on the wire ----------------------------------------------
{
    my $path = "/app/delay?ms=200&u=$run-delay";
    # tcpdump, on the same lo, is the independent measurement.
    my $pcap = "$r->{t_logs}/50_delay.pcap";
    my $td = fork // die "fork: $!";
    if ($td == 0) {
        exec 'tcpdump', '-i', 'lo', '-n', '-U', '--immediate-mode', '-Z', 'root', '-s', '200', '-w', $pcap,
             "tcp port $r->{jetty_port}" or POSIX::_exit(1);
    }
    sleep 1;
    my @cmd = ('ip', 'netns', 'exec', $r->{ns}, 'curl', '-sS', '-m', '10', '-o', '/dev/null',
               '-w', '%{http_code} %header{x-tcpi-slept-us}',
               "http://$r->{host_ip}:$r->{port}$path");
    my ($code, $slept_us) = split ' ', `@{[ join ' ', map { "'$_'" } @cmd ]}`;
    sleep 0.3;
    kill 'INT', $td;
    waitpid $td, 0;
    is $code, 200, 'delay request is 200';
    my $e = wait_for(sub {
        my $j = get_json("/requests.json?uri=/app/delay%3Fms=200%26u=$run-delay") or return undef;
        my ($x) = @{ $j->{requests} };
        return $x && $x->{joined} ? $x : undef;
    }, 10, 0.3);
    ok $e, 'the delayed request is joined';
    my $ttfb = $e ? $e->{timing}{backend_ttfb_ms} : undef;

    # tcpdump's view of the same backend connection: last request byte
    # from httpd to the first response byte from Jetty.
    my ($lport) = (($e && $e->{backend}{local}) // '') =~ /:(\d+)$/;
    my ($last_req, $first_resp);
    for (`tcpdump -n -tt -r $pcap 2>/dev/null`) {
        next unless /^(\d+\.\d+) IP 127\.0\.0\.1\.(\d+) > 127\.0\.0\.1\.(\d+):.* length (\d+)/ && $4 > 0;
        my ($ts, $sp, $dp) = ($1, $2, $3);
        if ($sp == ($lport // -1) && !defined $first_resp) { $last_req = $ts }
        elsif ($dp == ($lport // -1) && defined $last_req) { $first_resp //= $ts }
    }
    my $td_ms = defined $first_resp ? ($first_resp - $last_req) * 1000 : undef;
    ok defined $td_ms && defined $ttfb && abs($ttfb - $td_ms) <= 0.5,
        sprintf 'backend_ttfb_ms %s equals tcpdump\'s %s within 0.5 ms', $ttfb // 'null',
        defined $td_ms ? sprintf('%.3f', $td_ms) : 'nothing'
        or diag "port $lport, $pcap: ", -s $pcap, "\n", `tcpdump -n -tt -r $pcap 2>&1 | head -5`;
    # Jetty's own clock says how long it really slept: a loaded host
    # oversleeps, so "within 5 ms of 200" is counted from that.
    my $slept = ($slept_us // 0) / 1000;
    ok $slept >= 200, "Jetty slept ${slept} ms";
    ok defined $ttfb && $ttfb >= 200 && $ttfb <= $slept + 5,
        "backend_ttfb_ms within 5 ms of the 200 ms Jetty was asked to wait (+ its oversleep)";
    ok $e && $e->{timing}{total_ms} >= ($ttfb // 1e9), 'total_ms >= backend_ttfb_ms';

    my $id = $e ? $e->{id} : 'none';
    my $d = get_json("/requests/$id.json");
    ok $d, "/requests/$id.json is JSON";
    is $d && $d->{id}, $id, 'detail: the same id';
    ok $d && ref $d->{packets} eq 'ARRAY' && @{ $d->{packets} } >= 8,
        'detail: packets of both legs';
    my %legs = map { $_->{leg} => 1 } @{ $d ? $d->{packets} : [] };
    ok $legs{front} && $legs{backend}, 'detail: interleaved front and backend packets';
    my @t = map { $_->{t_ms} } @{ $d ? $d->{packets} : [] };
    ok !(grep { $t[$_] < $t[$_ - 1] } 1 .. $#t), 'detail: packets in time order';
    ok $d && defined $d->{points}{be_first_ms}, 'detail: the time points';

    my $h = http_get("/tcp-inspect/requests/$id");
    is $h->code, 200, "/requests/$id is 200";
    like $h->content, qr/<svg[^>]*>.*<rect/s, 'detail page has the SVG waterfall';
    unlike $h->content, qr/<script|https?:\/\/(?!www\.w3\.org)/, 'no scripts, nothing external';
}

# --- a backend that closes without answering ------------------------------------
for my $how (['', 'fin_by', 'FIN'], ['&rst=1', 'rst_by', 'RST']) {
    my $path = "/app/close?u=$run-close$how->[0]";
    my $out = curl_many(ns => 1, paths => [$path]);
    is $out->[0][0], 502, "$how->[2] from Jetty: 502";
    my $e = wait_for(sub {
        my $j = get_json("/requests.json?uri=/app/close%3Fu=$run-close") or return undef;
        my ($x) = grep { $_->{uri} eq $path } @{ $j->{requests} };
        return $x && $x->{joined} ? $x : undef;
    }, 10, 0.3);
    like $e && $e->{backend}{$how->[1]}, qr/^(backend|both)$/,
        "$how->[2]: $how->[1] is the backend (or both, httpd closing in turn)";
    my $d = $e ? get_json("/requests/$e->{id}.json") : undef;
    my @kinds = map { $_->{kind} } @{ $d ? $d->{findings} : [] };
    # Jetty read the request and then closed: not the pooled-connection race
    ok((grep { $_ eq 'no_answer' } @kinds) && !(grep { $_ eq 'pool_race' } @kinds),
        "$how->[2]: explained as a backend closing without an answer (@kinds)");
    ok !defined $e->{timing}{backend_ttfb_ms}, "$how->[2]: no backend TTFB" if $e;
}

# --- escaping and errors -------------------------------------------------------
{
    my $out = curl_many(ns => 0, paths => ["/app/echo?q=<b>x</b>&u=$run-esc"]);
    my $e = wait_for(sub {
        my $j = get_json("/requests.json?uri=/app/echo%3Fq=") or return undef;
        my ($x) = grep { $_->{uri} =~ /\Q$run-esc\E/ } @{ $j->{requests} };
        return $x;
    }, 5, 0.2);
    ok $e, 'the request with markup in its URI is listed';
    my $id = $e ? $e->{id} : 'none';
    for my $p ("/requests/$id", '/requests?limit=50') {
        my $h = http_get("/tcp-inspect$p");
        like $h->content, qr/&lt;b&gt;x&lt;\/b&gt;/, "$p: the URI is escaped";
        unlike $h->content, qr/<b>x<\/b>/, "$p: the raw markup is not there";
    }
}
is http_get('/tcp-inspect/requests/no-such-id-0')->code, 404, 'unknown id: 404';
is http_get('/tcp-inspect/requests/no-such-id-0.json')->code, 404, 'unknown id (.json): 404';
is http_get('/tcp-inspect/requests/bad%3Cid%3E')->code, 400, 'malformed id: 400';
is http_get('/tcp-inspect/requests/' . ('a' x 60))->code, 400, 'over-long id: 400';
is http_get('/tcp-inspect/requests/x/y')->code, 404, 'deeper path: 404';
is http_get('/tcp-inspect/requests.json?limit=0')->code, 400, 'bad limit: 400';
is http_get('/tcp-inspect/requests.json?bogus=1')->code, 400, 'unknown parameter: 400';

# --- metrics --------------------------------------------------------------------
{
    my $m = http_get('/tcp-inspect/metrics')->content;
    like $m, qr/^# TYPE tcpinspect_request_phase_seconds histogram$/m, 'metrics: the histogram';
    my ($c) = $m =~ /^tcpinspect_request_phase_seconds_count\{phase="backend_ttfb"\} (\d+)$/m;
    cmp_ok $c // 0, '>=', 300, "metrics: backend_ttfb observed for the requests ($c)";
    my ($inf) = $m =~ /^tcpinspect_request_phase_seconds_bucket\{phase="backend_ttfb",le="\+Inf"\} (\d+)$/m;
    is $inf, $c, 'metrics: +Inf bucket equals the count';
    like $m, qr/^tcpinspect_requests_dropped_total 0$/m, 'metrics: no record dropped';
}

my @errs = grep { /TCPI\d+/ && !/TCPI0103/ } error_log_since($log0);
ok !@errs, 'no module errors in the error log' or diag join '', grep { defined } @errs[0 .. 4];

done_testing;
