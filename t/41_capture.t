# /capture.pcap and /capture.pcapng through a real httpd, with traffic on
# both legs (client namespace -> httpd over the veth, httpd -> Jetty on lo).
# Oracles: tcpdump capturing the same interfaces with the filters the
# module reports, `tcpdump -n -tt -S -r`, tshark, capinfos.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use File::Temp qw(tempdir);
use POSIX ();
use Time::HiRes qw(time sleep);
use URI::Escape qw(uri_escape);
use TCPI::Rig qw(rig have_module http_get ns_curl status_json wait_for
                 error_log_offset error_log_since);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'no client namespace (run through t/run.sh)' unless $r->{ns};

my $dir = tempdir('tcpi41.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $log0 = error_log_offset();
my $base = '/tcp-inspect';
my ($P, $J) = ($r->{port}, $r->{jetty_port});

sub run_out {
    my (@cmd) = @_;
    open my $fh, '-|', @cmd or die "cannot run $cmd[0]: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

# GET a download into $dir/$name; the HTTP::Response.
sub download {
    my ($name, $path) = @_;
    my $res = http_get($path);
    if ($res->code == 200) {
        open my $fh, '>:raw', "$dir/$name" or die "$dir/$name: $!";
        print $fh $res->content;
        close $fh;
    }
    return $res;
}

# tcpdump -n -tt -S lines of a file (absolute sequence numbers: relative
# ones depend on where a file starts), optionally through a filter.
sub lines_of {
    my ($file, $filter) = @_;
    my ($rc, $out) = run_out('sh', '-c', "tcpdump -n -tt -S -r '$file' "
                             . (defined $filter ? "'$filter' " : '') . '2>/dev/null');
    return undef if $rc;
    return [ split /\n/, $out ];
}
sub ts_of { my ($l) = @_; return $l =~ /^(\d+\.\d+) / ? $1 : -1 }
sub within { my ($lines, $t0, $t1) = @_; return [ grep { my $t = ts_of($_); $t >= $t0 && $t <= $t1 } @$lines ] }
# Two packet sockets may stamp the same packet a microsecond apart (the
# kernel stamps per socket when the skb carries no time): compare an
# independent capture without the time stamp, in a window widened by 1 ms.
sub untimed { return [ sort map { (my $l = $_) =~ s/^\d+\.\d+ //; $l } @{ $_[0] } ] }

# tshark: [interface, epoch, comment] per packet of a pcapng.
sub tshark_pkts {
    my ($file) = @_;
    my ($rc, $out) = run_out('sh', '-c', "tshark -r '$file' -T fields -E separator=/t "
        . "-e frame.interface_name -e frame.time_epoch -e frame.comment 2>/dev/null");
    return undef if $rc;
    return [ map { [ split /\t/, $_, -1 ] } split /\n/, $out ];
}

# --- the capture runs on both legs ------------------------------------------
my $cap = wait_for(sub {
    my $s = status_json() or return undef;
    my @ok = grep { ($_->{status} // '') eq 'ok' } @{ $s->{capture}{interfaces} || [] };
    return @ok >= 2 && $s->{capture}{running} ? $s->{capture} : undef;
}, 15, 0.2);
ok $cap, 'the capture worker runs with two interfaces' or BAIL_OUT('no capture');
my @ifs = @{ $cap->{interfaces} };
my %filter_of = map { $_->{name} => $_->{filter} } @ifs;
ok exists $filter_of{ $r->{front_if} } && exists $filter_of{lo},
    "interfaces $r->{front_if} and lo" or diag explain \@ifs;
my $snaplen = $cap->{snaplen} || 262144;

# --- independent oracle: tcpdump on the same interfaces and filters ----------
my %oracle;
for my $if (sort keys %filter_of) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', "$dir/oracle-$if.err";
        open STDOUT, '>', '/dev/null';
        # On lo libpcap (tcpdump's and the worker's) keeps one copy of
        # each packet; the module's filter text is tcpdump's as it is.
        my $f = $filter_of{$if};
        exec('tcpdump', '-i', $if,
             '--immediate-mode', '-U', '-n', '-Z', 'root', '-s', $snaplen,
             '-w', "$dir/oracle-$if.pcap", $f) or POSIX::_exit(127);
    }
    $oracle{$if} = $pid;
}
for my $if (sort keys %oracle) {
    ok wait_for(sub {
        open my $fh, '<', "$dir/oracle-$if.err" or return 0;
        local $/; my $e = <$fh> // ''; $e =~ /listening on/;
    }, 10, 0.1), "oracle tcpdump listens on $if";
}

my $t_start = time;
@ifs = @{ status_json()->{capture}{interfaces} };
my $ok = 0;
for my $i (1 .. 6) {
    my ($code) = ns_curl("/app/echo?leg=both&i=$i");
    $ok++ if $code == 200;
}
is $ok, 6, 'six proxied requests from the namespace';
sleep 0.5;
kill 'INT', values %oracle;
waitpid $_, 0 for values %oracle;

my %o_lines = map { $_ => lines_of("$dir/oracle-$_.pcap") || [] } keys %oracle;
# The worker hands packets to the ring a poll round (<= 100 ms) after the
# kernel: wait until each interface has written what tcpdump saw.
my %before = map { $_->{name} => $_->{packets} // 0 } @ifs;
ok wait_for(sub {
    my $st = status_json() or return 0;
    my %now = map { $_->{name} => $_->{packets} // 0 } @{ $st->{capture}{interfaces} };
    return !grep { $now{$_} - $before{$_} < @{ $o_lines{$_} } } keys %o_lines;
}, 5, 0.1), 'the ring counters caught up with the oracle';
my $t_cut = time;
my @oracle = sort { ts_of($a) <=> ts_of($b) } map { @$_ } values %o_lines;
cmp_ok scalar @{ $o_lines{$_} }, '>', 6, "oracle saw packets on $_" for sort keys %o_lines;
my ($t0, $t1) = (ts_of($oracle[0] // ''), ts_of($oracle[-1] // ''));
ok $t0 >= $t_start - 1 && $t1 <= $t_cut, 'oracle packets lie in the test window';

# --- /capture.pcap ------------------------------------------------------------
my $res = download('all.pcap', "$base/capture.pcap");
is $res->code, 200, 'capture.pcap is 200' or diag $res->as_string;
is $res->header('Content-Type'), 'application/vnd.tcpdump.pcap', 'pcap content type';
like $res->header('Content-Disposition') // '',
    qr/^attachment; filename="tcpinspect-\d{8}-\d{6}\.pcap"$/, 'pcap Content-Disposition';
my $pcap = lines_of("$dir/all.pcap");
ok $pcap && @$pcap, 'tcpdump -n -tt -r reads capture.pcap (' . scalar(@{ $pcap || [] }) . ' packets)';
my $win = within($pcap || [], $t0 - 0.001, $t1 + 0.001);
is scalar @$win, scalar @oracle, 'capture.pcap holds as many packets in the window as tcpdump captured';
is_deeply untimed($win), untimed(\@oracle), 'and the same packets (tcpdump -n -tt -S lines, time stamps aside)';
ok scalar(grep { /\.\Q$P\E[ :]/ } @$win) && scalar(grep { /\.\Q$J\E[ :]/ } @$win),
    "both legs' ports ($r->{port}, $r->{jetty_port}) appear";

# --- /capture.pcapng ----------------------------------------------------------
$res = download('all.pcapng', "$base/capture.pcapng");
is $res->code, 200, 'capture.pcapng is 200';
is $res->header('Content-Type'), 'application/x-pcapng', 'pcapng content type';
like $res->header('Content-Disposition') // '',
    qr/^attachment; filename="tcpinspect-\d{8}-\d{6}\.pcapng"$/, 'pcapng Content-Disposition';
my ($rc, $info) = run_out('capinfos', '-M', '-t', "$dir/all.pcapng");
like $info, qr/^File type:\s+pcapng$/m, 'capinfos: pcapng';
($rc, $info) = run_out('capinfos', '-I', "$dir/all.pcapng");
is $rc, 0, 'capinfos -I reads capture.pcapng';
like $info, qr/^Number of interfaces in file: ${\ scalar @ifs}$/m, 'one interface block per handle';
for my $f (@ifs) {
    like $info, qr/^\s+Name = \Q$f->{name}\E\n(?:.*\n)*?\s+Filter string = \Q$f->{filter}\E$/m,
        "IDB $f->{name} carries its filter";
}
like $info, qr/Encapsulation = Ethernet/, 'link type Ethernet';
like $info, qr/Capture length = $snaplen\n/, "snaplen $snaplen";
like $info, qr/Number of stat entries = 1/, 'statistics blocks';
my $ng = tshark_pkts("$dir/all.pcapng");
ok $ng, 'tshark -r reads capture.pcapng';
my @ng_win = grep { $_->[1] >= $t0 - 0.001 && $_->[1] <= $t1 + 0.001 } @{ $ng || [] };
for my $if (sort keys %o_lines) {
    is scalar(grep { $_->[0] eq $if } @ng_win), scalar @{ $o_lines{$if} },
        "pcapng: packets of $if in the window = what tcpdump captured on $if";
}
is scalar(grep { $_->[2] =~ /^ring #\d+ (frontend|backend)$/ } @ng_win), scalar @ng_win,
    'every packet carries its ring-number/leg comment';
# Both downloads, up to the first one: the same packets.
my $first = ts_of($pcap->[0] // '');
is scalar(grep { $_->[1] >= $first && $_->[1] <= $t_cut } @{ $ng || [] }),
   scalar @{ within($pcap || [], $first, $t_cut) }, 'pcapng and pcap hold the same packets';
my $ngl = lines_of("$dir/all.pcapng");
is_deeply [ sort @{ within($ngl || [], $first, $t_cut) } ], [ sort @{ within($pcap || [], $first, $t_cut) } ],
    'tcpdump -r capture.pcapng prints the same lines as for capture.pcap';

# --- filter= ------------------------------------------------------------------
for my $f ("tcp port $r->{jetty_port}", 'tcp[tcpflags] & tcp-syn != 0',
           "host $r->{ns_ip} and greater 100") {
    $res = download('f.pcap', "$base/capture.pcap?filter=" . uri_escape($f));
    is $res->code, 200, "filter=$f: 200";
    my $got = lines_of("$dir/f.pcap") || [];
    my $want = lines_of("$dir/all.pcap", $f) || [];
    is_deeply within($got, $first, $t_cut), within($want, $first, $t_cut),
        "filter=$f selects what tcpdump's '$f' selects (" . scalar(@{ within($want, $first, $t_cut) }) . ')';
}
$res = download('f.pcapng', "$base/capture.pcapng?filter=" . uri_escape("tcp port $r->{port}"));
my $fng = tshark_pkts("$dir/f.pcapng") || [];
ok @$fng && !grep({ $_->[0] ne $r->{front_if} } @$fng), 'pcapng filter=: only frontend packets';

for my $bad ('tcp port', 'port 99999') {
    $res = http_get("$base/capture.pcap?filter=" . uri_escape($bad));
    is $res->code, 400, "bad filter '$bad': 400";
    my (undef, $msg) = run_out('sh', '-c', "tcpdump -r '$dir/all.pcap' -d '$bad' 2>&1 >/dev/null | tail -1");
    $msg =~ s/^tcpdump: //; chomp $msg;
    like $res->content, qr/\Q$msg\E/, "libpcap's message: $msg";
}
# Words that are not filter keywords would be looked up as names (DNS,
# /etc/services): refused before libpcap sees them.
for my $bad ('nosuchkeyword', 'host some.name', 'port http') {
    $res = http_get("$base/capture.pcap?filter=" . uri_escape($bad));
    is $res->code, 400, "name in filter '$bad': 400";
    like $res->content, qr/not looked up|not a (?:filter keyword|port number)/, "'$bad': the message says why";
}

# A form-encoded query: '+' is a space (curl -G --data-urlencode).
$res = http_get("/tcp-inspect/packets.txt?limit=3&filter=tcp+port+$J");
is $res->code, 200, "filter=tcp+port+$J: '+' read as a space" or diag $res->content;
like $res->content, qr/\.\Q$J\E[ :]/, '... and it selects the backend port';

# --- iface= and seconds= -------------------------------------------------------
$res = download('lo.pcap', "$base/capture.pcap?iface=lo");
my $lo = lines_of("$dir/lo.pcap") || [];
ok @$lo && !grep({ !/\.\Q$J\E[ :]/ } @$lo), 'iface=lo: only backend packets';
$res = http_get("$base/capture.pcap?iface=eth9");
is $res->code, 400, 'iface=eth9: 400';
like $res->content, qr/eth9.*\Q$r->{front_if}\E.*lo|eth9.*lo.*\Q$r->{front_if}\E/, 'naming the interfaces';

# The bursts 4.5 s apart and a 3 s window: slack for a busy host (a 2 s
# window once missed the second burst under the worker MPM on a fresh
# clone, when the download came 2 s after it).
sleep 4.5;
my $tb = time;
ns_curl("/app/echo?burst=b&i=$_") for 1 .. 3;
sleep 0.3;
my $treq = time;
$res = download('s.pcap', "$base/capture.pcap?seconds=3");
is $res->code, 200, 'seconds=3: 200';
my $s = lines_of("$dir/s.pcap") || [];
ok @$s, 'seconds=3 holds packets (' . scalar(@$s) . ')'
    or diag sprintf 'the download began %.2f s after the burst', $treq - $tb;
ok !grep({ ts_of($_) < $treq - 3.05 } @$s), 'none older than 3 s before the request';
ok !grep({ ts_of($_) <= $t1 } @$s), 'none of the first burst';
ok scalar(grep { ts_of($_) >= $tb && /\.\Q$J\E[ :]/ } @$s)
   && scalar(grep { ts_of($_) >= $tb && /\.\Q$P\E[ :]/ } @$s), 'the second burst, both legs';

for my $q ('seconds=0', 'seconds=abc', 'seconds=86401', 'seconds=-1', 'foo=1') {
    $res = http_get("$base/capture.pcapng?$q");
    is $res->code, 400, "$q: 400";
    like $res->content, qr/^400 Bad Request: /, "$q: a plain message";
}

# --- HEAD, 403 ------------------------------------------------------------------
$res = http_get("$base/capture.pcapng", method => 'HEAD');
is $res->code, 200, 'HEAD capture.pcapng: 200';
is length($res->content), 0, 'HEAD: no body';
$res = http_get('/tcp-inspect-nodl/capture.pcap');
is $res->code, 403, 'downloads off: 403';
like $res->content, qr/TCPInspectAllowDownload On/, '403 explains how to allow them';
is http_get('/tcp-inspect-nodl/capture.pcapng')->code, 403, 'downloads off: pcapng 403';
is http_get('/tcp-inspect-nodl/status.json')->code, 200, 'other pages there: 200';
my ($code) = ns_curl("$base/capture.pcap");
is $code, 403, 'the namespace client fails the nested Require: 403';
($code) = ns_curl("$base/status.json");
is $code, 200, 'and still reads status.json';

# --- counters -------------------------------------------------------------------
my $st = status_json();
for my $k (qw(packets bytes overwritten fill_percent oldest_age_ms)) {
    ok defined $st->{capture}{ring}{$k}, "status.json capture.ring.$k";
}
cmp_ok $st->{capture}{ring}{packets}, '>=', scalar @$pcap, 'ring.packets counts the exported packets';
for my $f (@{ $st->{capture}{interfaces} }) {
    ok defined $f->{$_}, "status.json $f->{name}.$_" for qw(received dropped if_dropped packets bytes);
}
my $m = http_get("$base/metrics")->content;
for my $name (qw(tcpinspect_ring_packets_total tcpinspect_ring_bytes_total
                 tcpinspect_ring_overwritten_total tcpinspect_ring_fill_ratio
                 tcpinspect_ring_oldest_age_seconds)) {
    like $m, qr/^$name [0-9.]+$/m, "metrics: $name";
}
like $m, qr/^tcpinspect_interface_if_dropped_total\{interface="lo"\} \d+$/m, 'metrics: per-interface if_dropped';

my @bad = grep { /exit signal|segfault|AH00052/ } error_log_since($log0);
is scalar @bad, 0, 'no child crashed' or diag @bad;

done_testing;
