# A per-request capture holds only that request, also when its pooled
# backend connection served another client while it was still being
# delivered. mod_proxy hands a backend connection back to the pool as
# soon as it has read the response, not when the client has it: with a
# slow client (A) and a pool of one connection, the next client's request
# (B) goes over that connection before A is logged. A's file must not
# hold B's cookie, nor B's hold A's -- the file saved by the capture worker
# (selected through the join's flow table) and the download served from
# the ring (selected by scanning it) alike. The test checks that the race
# really happened (the same backend tuple, B's request inside A's
# lifetime) and tries again a few times when it did not.
#
# A POST with "Expect: 100-continue" over the same connection keeps its
# body and its answer: the backend's "100 Continue" is not the end of
# the exchange.
#
# Its own httpd (this MPM, the rig's Jetty and namespace), with one child
# process so that both clients share its single pooled connection. Under
# prefork a child serves one client at a time, so the race cannot happen:
# there only the captures' contents are checked.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use LWP::UserAgent ();
use Time::HiRes qw(time sleep);
use TCPI::Rig qw(rig have_module wait_for free_port scratch_httpd
                 scratch_start scratch_stop);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'needs root (packet capture)' unless $> == 0;
plan skip_all => 'tshark is not installed (make deps)' unless grep { -x "$_/tshark" } split /:/, $ENV{PATH};
plan skip_all => 'no client namespace (run through t/run.sh)' unless $r->{ns};

my ($jetty, $host_ip, $ns) = @$r{qw(jetty_port host_ip ns)};
my $mpm = $r->{mpm} || 'event';
my $threaded = $mpm ne 'prefork';
my $ua = LWP::UserAgent->new(timeout => 20, keep_alive => 0);
my $json = JSON::PP->new;
my $run = sprintf '%x', int(time * 1000) % 0xffffffff;
my $TRIES = 4;                 # attempts per round to catch the race
my $BIG_KB = 256;              # A's response
my $FAST = 64 * 1024;          # A reads this much at once, then slowly

# --- a scratch httpd -------------------------------------------------------
my $port = free_port(18800, 19000);
my ($dir, $caps);
my $S = scratch_httpd(name => 'pool',
    listen  => ["127.0.0.1:$port", "$host_ip:$port"],
    modules => [qw(unique_id proxy proxy_http)],
    pages   => 1,
    body    => sub {
        ($dir) = @_;
        $caps = "$dir/captures";
        return <<"EOF";
LogFormat "%{tcpinspect-id}n %>s %U%q" pool
CustomLog $dir/logs/access_log pool
# One child process: one connection pool for every client.
<IfModule mpm_prefork_module>
    StartServers 1
    MinSpareServers 1
    MaxSpareServers 1
    ServerLimit 1
    MaxRequestWorkers 1
</IfModule>
<IfModule !mpm_prefork_module>
    StartServers 1
    ServerLimit 1
    ThreadsPerChild 16
    MaxRequestWorkers 16
    MinSpareThreads 1
    MaxSpareThreads 16
</IfModule>
# A small, fixed send buffer: a slow reader holds httpd's last write back
# for seconds after the backend connection went back to the pool.
SendBufferSize 16384
ProxyPass /pool http://127.0.0.1:$jetty/app max=1
TCPInspectEngine On
TCPInspectFrontend any $port
TCPInspectBackend lo $jetty
TCPInspectRingSize 32M
TCPInspectCaptureDir $caps
<Location /pool>
    TCPInspectCapture "expr=%{QUERY_STRING} =~ /save=1/"
</Location>
EOF
    });

my ($started, $out) = scratch_start($S);
ok $started, 'scratch httpd starts' or diag $out;
END {
    local $?;
    scratch_stop($S) if $S;
}

sub get { $ua->get("http://127.0.0.1:$port$_[0]") }
sub get_json {
    my $res = get($_[0]);
    return $res->code == 200 ? eval { $json->decode($res->content) } : undef;
}

ok wait_for(sub {
    my $s = get_json('/tcp-inspect/status.json') or return undef;
    my %if = map { $_->{name} => $_->{status} } @{ $s->{capture}{interfaces} || [] };
    return $s->{capture}{running} && ($if{any} // '') eq 'ok' && ($if{lo} // '') eq 'ok';
}, 15, 0.2), 'the worker captures on "any" (front) and "lo" (backend)' or BAIL_OUT('no worker');

# The slow client, run in the namespace: a small receive buffer, the
# first $FAST bytes at once, then 1 KiB every 20 ms. It prints "SLOW"
# when it slows down and "DONE <bytes>" at the end.
open my $fh, '>', "$dir/slow.pl" or die;
print $fh <<'EOF';
use strict;
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_RCVBUF inet_aton pack_sockaddr_in);
use Time::HiRes qw(sleep);
my ($host, $port, $path, $cookie, $fast) = @ARGV;
socket(my $s, PF_INET, SOCK_STREAM, getprotobyname('tcp')) or die "socket: $!";
setsockopt($s, SOL_SOCKET, SO_RCVBUF, pack('i', 4096)) or die "SO_RCVBUF: $!";
connect($s, pack_sockaddr_in($port, inet_aton($host))) or die "connect: $!";
$| = 1;
syswrite $s, "GET $path HTTP/1.1\r\nHost: $host\r\nCookie: $cookie\r\n"
    . "Connection: close\r\n\r\n";
my ($got, $slow, $buf) = (0, 0, '');
while (1) {
    my $n = sysread $s, $buf, $slow ? 1024 : 65536;
    last unless $n;
    $got += $n;
    if (!$slow && $got >= $fast) {
        $slow = 1;
        print "SLOW $got\n";
    }
    sleep 0.02 if $slow;
}
print "DONE $got\n";
EOF
close $fh;

# --- ids and records -------------------------------------------------------
my %log;       # "/path?query" -> [id, status, line number]
my ($log_pos, $log_line) = (0, 0);
sub read_log {
    open my $lf, '<', "$dir/logs/access_log" or return;
    seek $lf, $log_pos, 0;
    while (my $l = <$lf>) {
        last unless $l =~ /\n\z/;
        $log_pos += length $l;
        my ($id, $code, $uri) = $l =~ /^(\S+) (\d+) (\S+)$/ or next;
        $log{$uri} = [$id, $code, ++$log_line];
    }
}
sub logged { my ($u) = @_; wait_for(sub { read_log(); $log{$u} }, 10, 0.05) }

# The legs (interface descriptions) of a file's packets that contain
# $needle, per tshark.
sub legs_with {
    my ($file, $needle) = @_;
    my %hit;
    open my $p, '-|', 'tshark', '-r', $file, '-Y', "frame contains \"$needle\"",
        '-T', 'fields', '-e', 'frame.interface_description' or die "tshark: $!";
    while (my $l = <$p>) { chomp $l; $hit{$l}++ }
    close $p;
    return \%hit;
}
sub hits { my $h = legs_with(@_); return ($h->{front} // 0) + ($h->{backend} // 0) }

# One attempt: A slow with its cookie, B fast with another, B sent while A
# is being delivered. Returns the two records (and whether the race was
# seen), or undef when a request failed.
sub attempt {
    my ($tok, $save) = @_;
    my $q = $save ? '&save=1' : '';
    my %u = (a => "/pool/big?kb=$BIG_KB&t=A-$tok$q", b => "/pool/echo?t=B-$tok$q");
    open my $slow, '-|', 'ip', 'netns', 'exec', $ns, 'perl', "$dir/slow.pl",
        $host_ip, $port, $u{a}, "A-secret-$tok", $FAST or die "slow client: $!";
    my $line = <$slow> // '';
    unless ($line =~ /^SLOW/) {
        diag "slow client: '$line'";
        close $slow;
        return undef;
    }
    sleep 0.3;
    my $code = `curl -s -m 30 -o /dev/null -w '%{http_code}' -H 'Cookie: B-secret-$tok' 'http://127.0.0.1:$port$u{b}'`;
    my $done = <$slow> // '';
    close $slow;
    my $body = $BIG_KB * 1024;
    unless ($code eq '200' && $done =~ /^DONE (\d+)/ && $1 > $body) {
        diag "B: $code, A: $done";
        return undef;
    }
    my %rec;
    for my $k (qw(a b)) {
        my $l = logged($u{$k}) or return undef;
        $rec{$k} = get_json("/tcp-inspect/requests/$l->[0].json") or return undef;
        $rec{$k}{log_line} = $l->[2];
    }
    my ($a, $b) = @rec{qw(a b)};
    my $end = sub { $_[0]{start_us} + $_[0]{timing}{total_ms} * 1000 };
    $rec{race} = $a->{backend} && $b->{backend}
        && $a->{backend}{local} eq $b->{backend}{local}
        && $b->{start_us} > $a->{start_us} && $end->($b) < $end->($a)
        && $b->{log_line} < $a->{log_line};
    return \%rec;
}

# A round: attempts until the race is seen (threaded MPMs), then the
# two files checked with tshark.
sub round {
    my ($what, $save) = @_;
    my ($rec, $tok);
    for my $try (1 .. ($threaded ? $TRIES : 1)) {
        $tok = "$run-$what-$try";
        $rec = attempt($tok, $save);
        last if $rec && ($rec->{race} || !$threaded);
        diag "$what: try $try: " . ($rec ? 'B did not run inside A (backend '
            . "$rec->{a}{backend}{local} / $rec->{b}{backend}{local})" : 'failed');
    }
    ok $rec, "$what: both clients answered" or return;
    my ($a, $b) = @$rec{qw(a b)};
    is $a->{backend}{local}, $b->{backend}{local},
        "$what: A and B used the same backend connection ($a->{backend}{local})";
    ok $b->{backend}{reused}, "$what: B's backend connection was a reused one";
    if ($threaded) {
        ok $rec->{race}, "$what: B was forwarded and logged while A was still "
            . 'being delivered (the race)';
    } else {
        ok !$rec->{race}, "$what: prefork: B waited for A's child (no race possible)";
    }
    sleep 1.5;      # the grace after the log time, and the worker's delay
    my %file;
    for my $k (qw(a b)) {
        my $id = $rec->{$k}{id};
        my $f = "$dir/$what-$k.pcapng";
        if ($save) {
            ok wait_for(sub { -s "$caps/$id.pcapng" }, 10, 0.1), "$what: $id.pcapng saved"
                or diag explain get_json('/tcp-inspect/status.json')->{capture}{triggered};
        }
        my $res = $ua->get("http://127.0.0.1:$port/tcp-inspect/requests/$id.pcapng",
                           ':content_file' => $f);
        is $res->code, 200, "$what: /requests/$id.pcapng (" . uc($k) . ')';
        if ($save && -e "$caps/$id.pcapng") {
            is -s $f, -s "$caps/$id.pcapng", "$what: the download is the saved file";
        }
        $file{$k} = $f;
    }
    my $ha = legs_with($file{a}, "A-secret-$tok");
    ok $ha->{front} && $ha->{backend}, "$what: A's cookie on both legs of A's file"
        or diag explain $ha;
    is hits($file{a}, "B-secret-$tok"), 0, "$what: B's cookie is not in A's file";
    ok legs_with($file{a}, 'HTTP/1.1 200')->{backend}, "$what: A's file has its backend response";
    my $hb = legs_with($file{b}, "B-secret-$tok");
    ok $hb->{front} && $hb->{backend}, "$what: B's cookie on both legs of B's file"
        or diag explain $hb;
    is hits($file{b}, "A-secret-$tok"), 0, "$what: A's cookie is not in B's file";
    is hits($file{b}, 'abcdefghijklmnopqrstuvwxyzabc'), 0, "$what: A's body is not in B's file";
    return $rec;
}

round('saved', 1);      # the worker's file, through the join's flow table
round('ring', 0);       # the child's download, scanning the ring

# --- 100-continue on the pooled connection ---------------------------------
my $tok = "$run-continue";
my $body = "$dir/body";
open $fh, '>', $body or die;
print $fh "body-token-$tok-" . ('x' x 2048);
close $fh;
my $code = `curl -s -m 20 -o /dev/null -w '%{http_code}' -H 'Expect: 100-continue' --data-binary \@$body 'http://127.0.0.1:$port/pool/echo?t=C-$tok'`;
is $code, '200', 'POST with Expect: 100-continue: 200';
my $l = logged("/pool/echo?t=C-$tok");
ok $l, 'POST: logged';
SKIP: {
    skip 'no id', 3 unless $l;
    sleep 1;
    my $f = "$dir/continue.pcapng";
    my $res = $ua->get("http://127.0.0.1:$port/tcp-inspect/requests/$l->[0].pcapng", ':content_file' => $f);
    is $res->code, 200, 'POST: its capture';
    note 'the backend answered "100 Continue": '
        . (legs_with($f, 'HTTP/1.1 100 Continue')->{backend} ? 'yes' : 'no');
    ok legs_with($f, "body-token-$tok")->{backend}, "POST: the body is on the backend leg";
    ok legs_with($f, 'body_bytes=')->{backend}, "POST: the final answer is on the backend leg";
}

# --- stop ---------------------------------------------------------------------
scratch_stop($S);
open my $el, '<', "$dir/logs/error_log";
my @crit = grep { /\[(emerg|alert|crit)\]|Segmentation|exited \(/ } <$el>;
ok !@crit, 'no crash, no worker exit, no emerg/alert/crit in the error log' or diag @crit;

done_testing;
