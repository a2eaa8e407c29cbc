# TCP state counts through a real httpd: sockets are put deliberately into
# LISTEN, ESTABLISHED, SYN_SENT, SYN_RECV, FIN_WAIT1, FIN_WAIT2, TIME_WAIT,
# CLOSE_WAIT and LAST_ACK on the front scope (httpd's test port, clients in
# the veth namespace) and the backend scopes (Jetty's port), with nftables
# rules inside the namespace holding handshakes and closes half-way. Every
# count in status.json must lie between an `ss -tan` of the same scope
# taken just before and one just after. Then the history (inline SVG, no
# script) and the sysctl advice are checked with those sockets held.
#
# Status requests go to a second port outside every scope (the
# tcpi_status virtual host), so they do not count themselves.
#
# Where each state comes from (server = httpd or Jetty, client = us):
#   front         LISTEN httpd; ESTABLISHED namespace clients that sent
#                 half a request (with no data at all, httpd's AcceptFilter,
#                 TCP_DEFER_ACCEPT, keeps a connection in SYN_RECV);
#                 TIME_WAIT/FIN_WAIT2 httpd closed first (we closed / did
#                 not); CLOSE_WAIT we half-closed while httpd waits on
#                 Jetty; SYN_RECV our handshake's SYN/ACK dropped;
#                 FIN_WAIT1/LAST_ACK httpd's FIN dropped; SYN_SENT an
#                 IPv6-only socket bound to [::1]:port towards a listener
#                 with a full accept queue (httpd never connects from its
#                 own port, so this one is built on the host).
#   backend       ESTABLISHED idle; TIME_WAIT we closed first; CLOSE_WAIT
#                 Jetty closed (/app/close) and we did not; FIN_WAIT2 we
#                 half-closed while Jetty sleeps; SYN_SENT connects to the
#                 namespace's address on Jetty's port with the SYN dropped
#                 there (the scope is the remote port, whatever the
#                 address); SYN_RECV a namespace client bound to source
#                 port = Jetty's port whose handshake to httpd is held.
#                 LISTEN cannot exist here: a listener has no remote port.
#   backend_local Jetty's side of the above (LISTEN, ESTABLISHED,
#                 FIN_WAIT2, CLOSE_WAIT).
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use FindBin;
use IO::Select ();
use IPC::Open2 qw(open2);
use JSON::PP ();
use LWP::UserAgent ();
use Time::HiRes qw(time sleep);
use TCPI::Rig qw(rig have_module wait_for bpf_prog_holders httpd_pid);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'no client namespace (run through t/run.sh)' unless $r->{ns};
plan skip_all => 'nft is not installed' unless -x '/usr/sbin/nft';

my ($P, $J, $ns) = ($r->{port}, $r->{jetty_port}, $r->{ns});
my $sport = eval { Apache::Test::config()->{vhosts}{tcpi_status}{port} }
    or BAIL_OUT('no tcpi_status virtual host in the test configuration');
my @SCOPES = qw(front backend backend_local);
my @STATES = qw(ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT
                CLOSE CLOSE_WAIT LAST_ACK LISTEN CLOSING);
my %SS = (ESTAB => 'ESTABLISHED', 'SYN-SENT' => 'SYN_SENT',
          'SYN-RECV' => 'SYN_RECV', 'FIN-WAIT-1' => 'FIN_WAIT1',
          'FIN-WAIT-2' => 'FIN_WAIT2', 'TIME-WAIT' => 'TIME_WAIT',
          UNCONN => 'CLOSE', 'CLOSE-WAIT' => 'CLOSE_WAIT',
          'LAST-ACK' => 'LAST_ACK', LISTEN => 'LISTEN', CLOSING => 'CLOSING');

my $ua = LWP::UserAgent->new(timeout => 10, keep_alive => 0);
sub status_get {
    my ($path) = @_;
    return $ua->get("http://127.0.0.1:$sport/tcp-inspect$path");
}
sub status_json {
    my $res = status_get('/status.json');
    return undef unless $res->code == 200;
    return eval { JSON::PP->new->decode($res->content) };
}

# `ss -tanH state all '( sport = :P )'` tallied per netstat state.
sub ss_scope {
    my ($dir, $ports) = @_;
    my %c = map { $_ => 0 } @STATES;
    my $filter = join ' or ', map { "$dir = :$_" } @$ports;
    open my $fh, '-|', 'ss', '-tanH', 'state', 'all', "( $filter )"
        or die "cannot run ss: $!";
    while (my $line = <$fh>) {
        my ($st) = split ' ', $line;
        die "ss printed an unknown state: $line" unless $SS{$st};
        $c{ $SS{$st} }++;
    }
    close $fh or die "ss failed";
    return \%c;
}

sub ss_all {
    return { front => ss_scope('sport', [$P]), backend => ss_scope('dport', [$J]),
             backend_local => ss_scope('sport', [$J]) };
}

# ss, status.json, ss: every module count must lie between the two.
sub measure_and_check {
    my ($what) = @_;
    my $before = ss_all();
    my $j = status_json();
    my $after = ss_all();
    ok $j, "$what: status.json" or return undef;
    ok $j->{counts}{ok}, "$what: counts.ok" or diag $j->{counts}{error};
    # Full sockets come from the state-change event counter (loaded by the
    # root parent), the rest from a dump: this suite checks that path.
    is $j->{counts}{source}, 'events+dump', "$what: counted from events + dump"
        or diag explain $j->{counts};
    is $j->{counts}{events}{lost}, 0, "$what: no socket lost by the event counter";
    for my $sc (@SCOPES) {
        my @bad;
        my $sum = 0;
        for my $st (@STATES) {
            my ($lo, $hi) = sort { $a <=> $b } $before->{$sc}{$st}, $after->{$sc}{$st};
            my $m = $j->{states}{$sc}{$st};
            $sum += $m // 0;
            push @bad, "$st=" . ($m // 'missing') . " (ss $before->{$sc}{$st}..$after->{$sc}{$st})"
                unless defined $m && $m =~ /^\d+$/ && $m >= $lo && $m <= $hi;
        }
        ok !@bad, "$what: every $sc count lies between ss before and after"
            or diag join ', ', @bad;
        is $j->{states}{$sc}{total}, $sum, "$what: $sc total is the sum";
    }
    return ($j, $before, $after);
}

sub reader_line {
    my ($fh, $timeout) = @_;
    my $sel = IO::Select->new($fh);
    my $line = '';
    my $end = time + $timeout;
    while (time < $end && $sel->can_read($end - time)) {
        my $n = sysread $fh, my $buf, 1;
        last unless $n;
        last if $buf eq "\n";
        $line .= $buf;
    }
    return $line;
}

# --- before: nothing of ours --------------------------------------------
my $j0 = status_json();
ok $j0, 'status.json on the tcpi_status port' or BAIL_OUT('no status.json');
is_deeply $j0->{states}{front}{ports}, [$P + 0], 'front ports are the test port';
is_deeply $j0->{states}{backend}{ports}, [$J + 0], "backend ports are Jetty's port";
measure_and_check('at rest');

# bpftool, the kernel's list: the tracepoint program is loaded, and only
# httpd's parent holds descriptors of it: the children and the worker
# closed theirs.
SKIP: {
    my $h = bpf_prog_holders('tcpi_ev_state');
    skip 'bpftool is not installed', 2 unless $h;
    my $ppid = httpd_pid();
    my @mine = grep { grep { $_ == $ppid } @{ $h->{$_} } } keys %$h;
    is scalar @mine, 1, 'one tcpi_ev_state program held by the httpd parent'
        or diag `bpftool prog show name tcpi_ev_state`;
    is_deeply [sort @{ @mine ? $h->{ $mine[0] } : [] }], [$ppid],
        '... and by no other process';
}

# --- the holds inside the namespace ---------------------------------------
# Fresh client ports every run, below the ephemeral range (32768-60999):
# a connect of the helper's own must never get a port these rules drop
# (one did, once under the worker MPM: its SYN/ACK was dropped and the
# helper timed out).
my $base = 21000 + ($$ % 400) * 20;
my $hp = $r->{host_ip};
my $rules = <<"EOF";
table inet tcpi30 {
    chain input {
        type filter hook input priority 0; policy accept;
        ip saddr $hp tcp sport $P tcp dport { $base-@{[$base + 9]}, $J } tcp flags & (syn | ack) == (syn | ack) drop
        ip saddr $hp tcp sport $P tcp dport @{[$base + 10]}-@{[$base + 19]} tcp flags & fin == fin drop
        tcp dport $J tcp flags & (syn | ack) == syn drop
    }
}
EOF
sub nft_remove { system('ip', 'netns', 'exec', $ns, 'nft', 'delete', 'table', 'inet', 'tcpi30') }
END {     # a suite that died half-way leaves no rule behind
    local $?;
    nft_remove() if $ns && !system("ip netns exec $ns nft list table inet tcpi30 >/dev/null 2>&1");
}
{
    open my $nft, '|-', 'ip', 'netns', 'exec', $ns, 'nft', '-f', '-' or die "nft: $!";
    print $nft $rules;
    ok close($nft), 'nftables rules loaded inside the namespace' or BAIL_OUT('nft failed');
}

my $helper = "$FindBin::Bin/30_states_helper.py";
my (@kids, %ready);
for my $role (['front', 'ip', 'netns', 'exec', $ns, '/usr/bin/python3', $helper,
               'front', $hp, $P, $J, $base],
              ['backend', '/usr/bin/python3', $helper, 'backend', $J, $r->{ns_ip}, $P]) {
    my ($name, @cmd) = @$role;
    my $pid = open2(my $out, my $in, @cmd);
    push @kids, [$name, $pid, $out, $in];
}
for my $k (@kids) {
    my $line;
    diag $line while ($line = reader_line($k->[2], 25)) =~ /^note:/;
    is $line, 'ready', "$k->[0] sockets are in place" or diag $line;
}

# --- with every state held --------------------------------------------------
my %min = (
        front => { LISTEN => 1, ESTABLISHED => 3, TIME_WAIT => 2, FIN_WAIT2 => 2,
                   CLOSE_WAIT => 2, SYN_RECV => 3, SYN_SENT => 1, FIN_WAIT1 => 1,
                   LAST_ACK => 1 },
        backend => { ESTABLISHED => 2, TIME_WAIT => 2, CLOSE_WAIT => 2,
                     FIN_WAIT2 => 2, SYN_SENT => 2, SYN_RECV => 1 },
        backend_local => { LISTEN => 1, ESTABLISHED => 2, FIN_WAIT2 => 2,
                           CLOSE_WAIT => 2 },
);
# httpd closes some of them a moment later (LAST_ACK): until ss shows
# every state built (<= 5 s; the CLOSE_WAITs last 8 s).
ok wait_for(sub {
    my $c = ss_all();
    return !grep { my $sc = $_; grep { $c->{$sc}{$_} < $min{$sc}{$_} } keys %{ $min{$sc} } } @SCOPES;
}, 5, 0.2), 'ss shows every state built';
my ($j, $before, $after) = measure_and_check('held');
SKIP: {
    skip 'no status.json', 1 unless $j;
    my $missing = 0;
    for my $sc (@SCOPES) {
        for my $st (sort keys %{ $min{$sc} }) {
            cmp_ok $j->{states}{$sc}{$st}, '>=', $min{$sc}{$st},
                "held: $sc $st >= $min{$sc}{$st} (ss saw $before->{$sc}{$st})"
                or $missing++;
        }
    }
    diag `ss -tan '( sport = :$P or sport = :$J or dport = :$J )'` if $missing;
    is $j->{states}{backend}{LISTEN}, 0, 'backend LISTEN is 0 (a listener has no remote port)';

    # The advisor sees the same sockets, and /proc/sys as it is.
    my %adv = map { $_->{topic} => $_ } @{ $j->{advice} || [] };
    like $adv{'close_wait.front'}{text} // '', qr/front: \d+ CLOSE_WAIT: .*not closing/,
        'advice names the front CLOSE_WAIT';
    like $adv{'close_wait.backend'}{text} // '', qr/backend: \d+ CLOSE_WAIT/,
        'advice names the backend CLOSE_WAIT';
    like $adv{fin_wait2}{text} // '', qr/FIN_WAIT2: \d+ \(front \d+, backend \d+/,
        'advice counts FIN_WAIT2 per scope';
    like $adv{time_wait_length}{text} // '', qr/fixed 60 s/, 'the TIME_WAIT myth is corrected';
    for my $k (qw(tcp_fin_timeout somaxconn tcp_max_tw_buckets)) {
        my $path = $k eq 'somaxconn' ? "net/core/$k" : "net/ipv4/$k";
        open my $fh, '<', "/proc/sys/$path" or die;
        chomp(my $v = <$fh>);
        is $j->{sysctl}{$k}, $v, "sysctl.$k is /proc/sys/$path";
    }
    open my $fh, '<', '/proc/sys/net/ipv4/ip_local_port_range' or die;
    is_deeply $j->{sysctl}{ip_local_port_range}, [map { $_ + 0 } split ' ', <$fh>],
        'sysctl.ip_local_port_range is a list of two numbers';
    if (-e '/proc/sys/net/ipv4/tcp_tw_recycle') {
        pass 'this kernel still has tcp_tw_recycle';
    } else {
        ok !defined $j->{sysctl}{tcp_tw_recycle} && exists $j->{sysctl}{tcp_tw_recycle}
            && ($adv{tw_recycle}{text} // '') =~ /removed in Linux 4\.12/,
            'tcp_tw_recycle is null and the advice says it was removed in 4.12';
    }
}

# The worker's history holds these sockets too; the chart is inline SVG.
my $h = wait_for(sub {
    my $s = status_json() or return undef;
    my $hist = $s->{history};
    my $series = $hist->{series}{front}{ESTABLISHED} || [];
    return @$series && $series->[-1] >= 3 ? $s : undef;
}, 5, 0.3);
ok $h, 'history: the last front ESTABLISHED sample has the held sockets';
SKIP: {
    skip 'no history', 4 unless $h;
    is scalar @{ $h->{history}{series}{backend}{SYN_SENT} }, $h->{history}{points},
        'history: every series has one value per point';
    my $res = status_get('/');
    is $res->code, 200, 'overview page';
    my $html = $res->content;
    like $res->header('Content-Security-Policy') // '', qr/default-src 'none'/,
        'the page forbids scripts and remote resources';
    my @svg = $html =~ /<svg [^>]*aria-label="(\w+) state history"/g;
    is_deeply \@svg, \@SCOPES, 'one inline SVG chart per scope';
    ok $html !~ /<script|<link|src="http/i, 'no script, stylesheet or remote resource';
    like $html, qr/<polyline[^>]*points="(?:[\d.]+,[\d.]+ ){1,}/, 'the charts have lines';
}

# --- teardown: the holds go, the counts follow ----------------------------
for my $k (@kids) {
    close $k->[3];
    waitpid $k->[1], 0;
    is $?, 0, "$k->[0] helper exited cleanly";
}
is nft_remove(), 0, 'nftables rules removed from the namespace';
sleep 0.5;
measure_and_check('released');
# The worker checked the event counts against a full dump (every 10 s, a
# verdict only while they stand still) and never found them wrong.
my $chk = wait_for(sub {
    my $s = status_json() or return undef;
    return $s->{counts}{events}{agreed} >= 1 ? $s : undef;
}, 25, 0.5);
ok $chk, 'the worker checked the event counts against the kernel';
is $chk && $chk->{counts}{events}{disagreed}, 0, '... and they always agreed'
    or diag explain $chk && $chk->{counts}{events};
ok $chk && $chk->{counts}{events}{changes} > 0, 'the events saw state changes';
like status_get('/?auto')->content, qr/^CountsSource: events\+dump$/m,
    '?auto names the source';
# Leave a quiet host to the next suite: Jetty's sleeping requests end.
ok wait_for(sub {
    my $c = ss_all();
    return !$c->{front}{CLOSE_WAIT} && !$c->{backend_local}{CLOSE_WAIT}
        && !$c->{front}{SYN_RECV} && !$c->{backend}{SYN_SENT};
}, 12, 0.5), 'the held states are gone';

done_testing;
