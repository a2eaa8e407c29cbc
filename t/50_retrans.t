# Frontend retransmissions (and out-of-order segments) of each request,
# counted by the join, equal what tshark's tcp.analysis.retransmission
# (|| out_of_order) finds in an independent tcpdump capture of the same
# veth, and what tshark finds (each kind on its own: the same timestamps)
# in that request's /requests/<id>.pcapng, while nftables inside the
# client namespace drops about 5% of the client's packets, sent and
# received (removed afterwards).
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);
use TCPI::Rig qw(rig have_module http_get wait_for);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'no client namespace (run through t/run.sh)' unless $r->{ns};
for my $tool (qw(nft tshark tcpdump)) {
    plan skip_all => "$tool not installed"
        unless grep { -x "$_/$tool" } split /:/, "$ENV{PATH}:/usr/sbin:/sbin";
}

my $json = JSON::PP->new;
my $run = sprintf 'r50x-%s-%d-%d', $r->{mpm}, $$, int(time);
my $N = 30;
my $table = "tcpi50_$$";
my $pcap = "$r->{t_logs}/50_retrans.pcap";

sub nft { system('ip', 'netns', 'exec', $r->{ns}, 'nft', @_) == 0 }
sub unloss { nft('delete', 'table', 'inet', $table) }
END { unloss() if $table; }

# tcpdump on the host side of the veth: the oracle's packets.
my $td = fork // die "fork: $!";
if ($td == 0) {
    exec 'tcpdump', '-i', $r->{front_if}, '-n', '-U', '--immediate-mode', '-Z', 'root',
         '-s', '128', '-w', $pcap, "tcp port $r->{port}" or POSIX::_exit(1);
}
sleep 1;

ok nft('add', 'table', 'inet', $table), 'nft table in the namespace';
ok nft('add', 'chain', 'inet', $table, 'out', '{ type filter hook output priority 0 ; }'),
    'nft output chain';
ok nft('add', 'rule', 'inet', $table, 'out', 'tcp', 'dport', $r->{port},
       'numgen', 'random', 'mod', '20', '==', '0', 'counter', 'drop'),
    'drop ~5% of the client\'s packets to httpd';
# and of what it receives: httpd's segments then are on the captured veth
# twice (sent, lost at the client, sent again), which is what a lossy
# client link looks like from httpd's side
ok nft('add', 'chain', 'inet', $table, 'in', '{ type filter hook input priority 0 ; }'),
    'nft input chain';
ok nft('add', 'rule', 'inet', $table, 'in', 'tcp', 'sport', $r->{port},
       'numgen', 'random', 'mod', '20', '==', '0', 'counter', 'drop'),
    'drop ~5% of httpd\'s packets to the client';

# Each request on its own connection, with a response of many segments;
# rounds of $N until the capture holds a few retransmissions (at most 4).
# Retransmitted or out-of-order: a segment that did not advance the
# sequence. Which of the two tshark calls it depends on the time since
# the sequence last advanced against the connection's first RTT (tens of
# microseconds here), and tcpdump's timestamps differ from the module's
# by about that much; their sum does not depend on it.
sub tshark_retrans {
    my %rt;
    for (`tshark -n -r $pcap -Y 'tcp.analysis.retransmission || tcp.analysis.out_of_order' -T fields -e tcp.srcport -e tcp.dstport -e frame.time_epoch 2>/dev/null`) {
        my ($sp, $dp, $t) = split;
        next unless defined $t;
        push @{ $rt{ $sp == $r->{port} ? $dp : $sp } }, $t;
    }
    return \%rt;
}
my (@paths, @codes);
my $t0 = time;
for my $round (1 .. 4) {
    my @p = map { "/app/big?kb=128&u=$run-$round-$_" } 1 .. $N;
    open my $fh, '-|', 'ip', 'netns', 'exec', $r->{ns}, 'curl', '-sS', '-m', '60',
        '-H', 'Connection: close', '-w', '%{http_code}\n',
        map({ ('-o', '/dev/null', "http://$r->{host_ip}:$r->{port}$_") } @p)
        or die "curl: $!";
    push @codes, map { chomp; $_ } <$fh>;
    close $fh;
    push @paths, @p;
    sleep 0.5;
    my $rt = tshark_retrans();
    my $n = 0;
    $n += @$_ for values %$rt;
    last if $n >= 3;
}
my @dropped = `ip netns exec $r->{ns} nft list table inet $table` =~ /counter packets (\d+)/g;
diag "nftables dropped @dropped packets (client's out, in)";
ok unloss(), 'nft table removed';
$table = undef;
cmp_ok scalar(grep { $_ eq '200' } @codes), '==', scalar(@paths), scalar(@paths)
    . ' requests through the loss (' . sprintf('%.1f s', time - $t0) . ')';
sleep 1;
kill 'INT', $td;
waitpid $td, 0;

my %by_uri;
my $joined = wait_for(sub {
    my $res = http_get("/tcp-inspect/requests.json?limit=4096&uri=/app/big%3Fkb=128%26u=$run-");
    return undef unless $res->code == 200;
    my $j = eval { $json->decode($res->content) } or return undef;
    %by_uri = map { $_->{uri} => $_ } @{ $j->{requests} };
    return (grep { !$by_uri{$_} || !$by_uri{$_}{joined} } @paths) ? undef : 1;
}, 15, 0.5);
ok $joined, 'every request is joined';

# tshark over tcpdump's capture: retransmissions per client port.
my %rt = %{ tshark_retrans() };

my ($total_ours, $total_theirs, @diff) = (0, 0);
for my $p (@paths) {
    my $e = $by_uri{$p} or next;
    next unless $e->{joined};
    my ($cport) = ($e->{front}{client} // '') =~ /:(\d+)$/;
    unless ($e->{front}{found} && defined $cport) {
        push @diff, "$p: frontend flow not found";
        next;
    }
    # the join's window: from the connection's SYN to 0.35 s after the log
    # (TAIL_NS in src/join/tcpi_join.c)
    my $end = $e->{start_us} / 1e6 + $e->{timing}{total_ms} / 1000 + 0.35;
    my $theirs = grep { $_ <= $end } @{ $rt{$cport} || [] };
    my $ours = $e->{front}{anomalies}{retransmission} + $e->{front}{anomalies}{out_of_order};
    $total_ours += $ours;
    $total_theirs += $theirs;
    push @diff, "$p (port $cport, id $e->{id}): ours $ours, tshark $theirs" if $ours != $theirs;
}
ok !@diff, "frontend retransmissions (+ out-of-order) equal tshark's for every request ($total_ours in all)"
    or diag join "\n", @diff;
# On a mismatch, both views of the first one, packet by packet.
if (@diff && $diff[0] =~ /port (\d+), id ([^)]+)/) {
    my ($port, $id) = ($1, $2);
    my $d = eval { $json->decode(http_get("/tcp-inspect/requests/$id.json")->content) };
    diag join "\n", map { sprintf '%9.3f %-7s %-7s %-4s seq %u ack %u len %u %s', $_->{t_ms}, $_->{from},
        $_->{leg}, $_->{flags}, $_->{seq}, $_->{ack}, $_->{len}, "@{ $_->{analysis} }" }
        grep { $_->{leg} eq 'front' } @{ $d ? $d->{packets} : [] };
    diag `tshark -n -r $pcap -Y 'tcp.port==$port' -T fields -e frame.time_relative -e tcp.srcport -e tcp.flags.str -e tcp.seq -e tcp.ack -e tcp.len -e tcp.analysis.flags -e _ws.expert.message 2>/dev/null | head -60`;
}
cmp_ok $total_theirs, '>', 0, 'the loss caused retransmissions (the comparison means something)';

# The same request's own pcapng (from the ring): tshark's counts on its
# front leg, up to the join's window end, equal the join's, retransmissions
# and out-of-order apart (the file carries the module's timestamps). Every
# request with a loss on either view, and a few without.
sub pcapng_counts {
    my ($file, $kind, $end) = @_;
    my @t = `tshark -n -r $file -Y 'tcp.analysis.$kind && frame.interface_description == "front"' -T fields -e frame.time_epoch 2>/dev/null`;
    return scalar grep { /\d/ && $_ <= $end } @t;
}
my ($compared, $with_loss, $gone, @pdiff) = (0, 0, 0);
my $clean = 0;
for my $p (@paths) {
    my $e = $by_uri{$p} or next;
    next unless $e->{joined} && $e->{front}{found};
    my ($cport) = ($e->{front}{client} // '') =~ /:(\d+)$/;
    my $an = $e->{front}{anomalies};
    my $lossy = $an->{retransmission} + $an->{out_of_order} + @{ $rt{$cport} || [] };
    next unless $lossy || $clean++ < 5;
    my $res = http_get("/tcp-inspect/requests/$e->{id}.pcapng");
    if ($res->code == 404) {
        $gone++;                     # its packets left the ring already
        next;
    }
    unless ($res->code == 200) {
        push @pdiff, "$p: /requests/$e->{id}.pcapng: " . $res->code;
        next;
    }
    my $file = "$r->{t_logs}/50_retrans-$e->{id}.pcapng";
    open my $out, '>:raw', $file or die "$file: $!";
    print $out $res->content;
    close $out;
    my $end = $e->{start_us} / 1e6 + $e->{timing}{total_ms} / 1000 + 0.35;
    my %theirs = map { $_ => pcapng_counts($file, $_, $end) } qw(retransmission out_of_order);
    $compared++;
    $with_loss++ if $theirs{retransmission} + $theirs{out_of_order} > 0;
    my $n = @pdiff;
    for my $k (qw(retransmission out_of_order)) {
        push @pdiff, "$p (id $e->{id}): $k ours $an->{$k}, tshark on its pcapng $theirs{$k}"
            if $an->{$k} != $theirs{$k};
    }
    if (@pdiff > $n && $n == 0) {
        # the first mismatch, both views packet by packet
        my $d = eval { $json->decode(http_get("/tcp-inspect/requests/$e->{id}.json")->content) };
        diag join "\n", map { sprintf '%.6f %-7s %-4s seq %u ack %u len %u %s',
            $e->{start_us} / 1e6 + $_->{t_ms} / 1000, $_->{from}, $_->{flags}, $_->{seq},
            $_->{ack}, $_->{len}, "@{ $_->{analysis} }" }
            grep { $_->{leg} eq 'front' } @{ $d ? $d->{packets} : [] };
        diag `tshark -n -r $file -Y 'frame.interface_description == "front"' -T fields -e frame.time_epoch -e tcp.srcport -e tcp.flags.str -e tcp.seq -e tcp.ack -e tcp.len -e tcp.analysis.flags -e _ws.expert.message 2>/dev/null | head -300`;
    }
    unlink $file;
}
diag "$gone request captures had left the ring" if $gone;
ok !@pdiff, "frontend retransmissions and out-of-order equal tshark's in each request's own pcapng ($compared compared)"
    or diag join "\n", @pdiff;
cmp_ok $with_loss, '>', 0, 'some of those pcapngs hold retransmissions (the comparison means something)';

done_testing;
