# Thresholds with real counts through a real httpd: t/conf/extra.conf.in
# sets `TCPInspectThreshold ESTABLISHED 3 6 front`; holding 3 and then 6
# connections to httpd's port moves its level from ok to warning to
# critical, and every output says so: status.json (thresholds[], level),
# the Nagios line (/?nagios), ?auto, /metrics (checked by an independent
# parser of the exposition format), the HTML colours, and mod_status's
# /server-status with and without ?auto. Bad query values get 400.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use File::Temp qw(tempfile);
use IO::Socket::INET ();
use JSON::PP ();
use LWP::UserAgent ();
use Time::HiRes qw(sleep);
use TCPI::Rig qw(rig have_module wait_for);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();

my $P = $r->{port};
# Status requests on a port outside every scope: they do not count.
my $sport = eval { Apache::Test::config()->{vhosts}{tcpi_status}{port} }
    or BAIL_OUT('no tcpi_status virtual host in the test configuration');
my $ua = LWP::UserAgent->new(timeout => 10, keep_alive => 0);
sub get { $ua->get("http://127.0.0.1:$sport$_[0]") }
sub status_json {
    my $res = get('/tcp-inspect/status.json');
    return $res->code == 200 ? eval { JSON::PP->new->decode($res->content) } : undef;
}
sub proc_sys {
    open my $fh, '<', "/proc/sys/$_[0]" or return undef;
    my $v = <$fh>;
    $v =~ s/\s+/ /g;
    $v =~ s/^ | $//g;
    return $v;
}

my %LEVEL = (ok => 0, warning => 1, critical => 2);
sub expected_level {
    my ($t) = @_;
    return $t->{value} >= $t->{critical} ? 'critical'
         : $t->{value} >= $t->{warning} ? 'warning' : 'ok';
}
sub front_est {
    my ($j) = @_;
    my ($t) = grep { $_->{scope} eq 'front' && $_->{state} eq 'ESTABLISHED'
                     && $_->{warning} == 3 } @{ $j->{thresholds} };
    return $t;
}

# Every threshold's level follows its value; the page level is the worst.
sub check_levels {
    my ($j, $what) = @_;
    my @bad = grep { $_->{level} ne expected_level($_) } @{ $j->{thresholds} };
    ok !@bad, "$what: every threshold's level matches its value"
        or diag explain \@bad;
    my ($worst) = sort { $LEVEL{$b} <=> $LEVEL{$a} } map { $_->{level} } @{ $j->{thresholds} };
    is $j->{level}, $worst // 'ok', "$what: the overall level is the worst ($j->{level})";
    is $j->{states}{front}{ESTABLISHED}, front_est($j)->{value},
        "$what: the threshold's value is the front ESTABLISHED count";
}

# --- the configured thresholds, at rest -------------------------------------
my $j = status_json();
ok $j, 'status.json' or BAIL_OUT('no status.json');
my @th = map { "$_->{scope} $_->{state} $_->{warning} $_->{critical}" } @{ $j->{thresholds} };
is_deeply \@th, ['front ESTABLISHED 600 800', 'backend ESTABLISHED 600 800',
                 'front ESTABLISHED 3 6', 'backend SYN_SENT 1 2'],
    'thresholds[]: a threshold without a scope applies to front and backend'
    or diag explain \@th;
for my $t (@{ $j->{thresholds} }) {
    is_deeply [sort keys %$t], [qw(critical level scope state value warning)],
        "thresholds[] $t->{scope} $t->{state}: scope, state, warning, critical, level, value";
}
check_levels($j, 'at rest');

# --- hold connections to httpd's port ---------------------------------------
# Half a request each: with no data at all httpd's AcceptFilter would keep
# them in SYN_RECV.
my @held;
sub hold {
    my ($n) = @_;
    for (1 .. $n) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $P,
                                      Timeout => 5) or die "connect: $!";
        $s->autoflush(1);
        print $s "GET /tcp-inspect/ HTTP/1.1\r\n";
        push @held, $s;
    }
}
sub reach {
    my ($min) = @_;
    return wait_for(sub {
        my $s = status_json() or return undef;
        my $t = front_est($s);
        return $t && $t->{value} >= $min ? $s : undef;
    }, 5, 0.2);
}

my $base = front_est($j)->{value};
hold(3);
$j = reach($base + 3);
ok $j, 'with 3 connections held the front ESTABLISHED count grows by 3' or BAIL_OUT('no count');
check_levels($j, '3 held');
is front_est($j)->{level}, $base + 3 >= 6 ? 'critical' : 'warning',
    'front ESTABLISHED 3 6: warning with 3 held';

hold(3);
$j = reach($base + 6);
ok $j, 'with 6 connections held' or BAIL_OUT('no count');
check_levels($j, '6 held');
is front_est($j)->{level}, 'critical', 'front ESTABLISHED 3 6: critical with 6 held';
is $j->{level}, 'critical', 'status.json level: critical';

# --- the Nagios line ---------------------------------------------------------
my $res = get('/tcp-inspect/?nagios');
is $res->code, 200, '/?nagios';
like $res->header('Content-Type'), qr{^text/plain}, '/?nagios is plain text';
my $line = $res->content;
like $line, qr/^TCPINSPECT CRITICAL - front ESTABLISHED=(\d+) \(>=6\)(?:,| \|)/,
    'Nagios line: CRITICAL naming the value and the bound' or diag $line;
like $line, qr/ \| .*\bfront_ESTABLISHED=\d+;600;800 .*\bfront_ESTABLISHED_2=\d+;3;6\b/,
    'Nagios perfdata: value;warning;critical, labels unique';
like $line, qr/\bbackend_SYN_SENT=0;1;2\b/, 'Nagios perfdata has every threshold';
is(($line =~ tr/\n//), 1, 'Nagios output is one line');

# --- ?auto ---------------------------------------------------------------------
$res = get('/tcp-inspect/?auto');
is $res->code, 200, '/?auto';
like $res->header('Content-Type'), qr{^text/plain}, '?auto is plain text';
my (%auto, @badlines);
for (split /\n/, $res->content) {
    if (/^([\w.]+): (.*)$/) { push @badlines, "dup $1" if exists $auto{$1}; $auto{$1} = $2 }
    else { push @badlines, $_ }
}
ok !@badlines, '?auto: every line is "Key: value", keys unique' or diag explain \@badlines;
for my $sc (qw(front backend backend_local)) {
    is scalar(grep { /^\Q$sc\E\.[A-Z_0-9]+$/ && !/total/ } keys %auto), 11,
        "?auto: the eleven states of $sc";
}
cmp_ok $auto{'front.ESTABLISHED'}, '>=', 6, '?auto: front.ESTABLISHED';
like $auto{'threshold.front.ESTABLISHED'} // '', qr/^critical \d+ \(warning 3, critical 6\)$|^ok/,
    '?auto: a threshold line carries level, value and bounds';
ok grep({ /^critical \d+ \(warning 3, critical 6\)$/ } map { $auto{$_} } grep { /^threshold\./ } keys %auto),
    '?auto: the front ESTABLISHED 3 6 threshold is critical';
is $auto{Level}, 'critical', '?auto: Level: critical';
is $auto{'sysctl.tcp_fin_timeout'}, proc_sys('net/ipv4/tcp_fin_timeout'), '?auto: sysctl.tcp_fin_timeout';
is $auto{'sysctl.ip_local_port_range'}, proc_sys('net/ipv4/ip_local_port_range'),
    '?auto: sysctl.ip_local_port_range';
like $auto{'advice.time_wait_length'} // '', qr/^info$/, '?auto: advice levels';

# --- /metrics --------------------------------------------------------------------
$res = get('/tcp-inspect/metrics');
is $res->code, 200, '/metrics';
is $res->header('Content-Type'), 'text/plain; version=0.0.4; charset=utf-8',
    '/metrics: exposition format 0.0.4';
my $text = $res->content;
# Every family announces HELP and TYPE before its first sample.
{
    my (%help, %type, @bad);
    for (split /\n/, $text) {
        if (/^# HELP (\w+) \S/) { $help{$1} = 1 }
        elsif (/^# TYPE (\w+) (gauge|counter|histogram)$/) { $type{$1} = $2 }
        elsif (/^(\w+)(\{[^}]*\})? (-?[\d.]+(e[-+]?\d+)?)$/) {
            my $family = $1;
            # a histogram's samples are <family>_bucket, _sum and _count
            $family = $1 if !$type{$family} && $family =~ /^(\w+)_(bucket|sum|count)$/
                && ($type{$1} // '') eq 'histogram';
            push @bad, "no HELP/TYPE before $family" unless $help{$family} && $type{$family};
        }
        else { push @bad, "bad line: $_" }
    }
    ok !@bad, '/metrics: every line is HELP, TYPE or a sample, HELP/TYPE first'
        or diag join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)];
}
# An independent parser (python3-prometheus-client) reads it back.
SKIP: {
    skip 'python3-prometheus-client not installed (make deps)', 4
        unless system('/usr/bin/python3 -c "import prometheus_client" 2>/dev/null') == 0;
    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $text;
    close $fh;
    my $py = <<'EOF';
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = {}
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    out[f.name] = {"type": f.type, "samples": [[s.name, s.labels, s.value] for s in f.samples]}
print(json.dumps(out))
EOF
    open my $p, '-|', '/usr/bin/python3', '-c', $py, $file or die;
    local $/;
    my $m = eval { JSON::PP->new->decode(<$p> // '') };
    close $p;
    ok $m, 'prometheus_client parses /metrics' or diag $@;
    $m ||= {};
    my @sockets = @{ $m->{tcpinspect_sockets}{samples} || [] };
    is scalar(@sockets), 33, 'tcpinspect_sockets: 3 scopes x 11 states';
    my ($lvl) = grep { $_->[1]{scope} eq 'front' && $_->[1]{state} eq 'ESTABLISHED'
                       && $_->[1]{warning} eq '3' } @{ $m->{tcpinspect_threshold_level}{samples} || [] };
    is $lvl && $lvl->[2], 2, 'tcpinspect_threshold_level{scope="front",state="ESTABLISHED",warning="3",critical="6"} 2';
    my ($fin) = grep { $_->[1]{name} eq 'tcp_fin_timeout' } @{ $m->{tcpinspect_sysctl}{samples} || [] };
    is $fin && $fin->[2], proc_sys('net/ipv4/tcp_fin_timeout'), 'tcpinspect_sysctl{name="tcp_fin_timeout"}';
}

# --- HTML colours ----------------------------------------------------------------
$res = get('/tcp-inspect/');
my $html = $res->content;
like $html, qr{<tr class="critical"><td class="l">front ESTABLISHED</td>},
    'HTML: the threshold row is coloured critical';
like $html, qr{<tr><td class="l">front</td><td class="l">$P</td><td class="critical">\d+</td>},
    'HTML: the front ESTABLISHED cell is coloured critical';
like $html, qr{<h2 id="sysctl">}, 'HTML: the sysctl panel';

# --- mod_status ------------------------------------------------------------------
$res = get('/server-status');
is $res->code, 200, '/server-status';
like $res->content, qr{<h2>mod_tcpinspect</h2>.*<h2 id="states">TCP states</h2>}s,
    '/server-status has the mod_tcpinspect section';
like $res->content, qr{<td class="critical">\d+</td>}, '/server-status shows the critical cell';
$res = get('/server-status?auto');
is $res->code, 200, '/server-status?auto';
like $res->content, qr/^ServerVersion: /m, '?auto: mod_status own lines';
like $res->content, qr/^front\.ESTABLISHED: \d+$/m, '/server-status?auto has the state lines';
like $res->content, qr/^Level: critical$/m, '/server-status?auto has the level';
unlike $res->content, qr/<(?:h2|table|td)/, '/server-status?auto has no HTML';

# --- release: back to ok ---------------------------------------------------------
close $_ for @held;
@held = ();
$j = wait_for(sub {
    my $s = status_json() or return undef;
    return front_est($s)->{value} <= $base ? $s : undef;
}, 5, 0.2);
ok $j, 'released: the count falls back';
SKIP: {
    skip 'no count', 5 unless $j;
    check_levels($j, 'released');
    my $t = front_est($j);
    is $t->{level}, expected_level($t), 'released: the level follows';
    $res = get('/tcp-inspect/?nagios');
    like $res->content, qr/^TCPINSPECT (OK|WARNING) - /, 'Nagios line after release: ' . ($res->content =~ s/\n//r);
}

# --- bad query values -------------------------------------------------------------
for my $q ('/tcp-inspect/?refresh=abc', '/tcp-inspect/?refresh=0',
           '/tcp-inspect/?refresh=99999', '/tcp-inspect/?refresh=',
           '/tcp-inspect/?bogus=1', '/tcp-inspect/?auto&%3Cscript%3E=1',
           '/tcp-inspect/status.json?x=1', '/tcp-inspect/metrics?format=json') {
    $res = get($q);
    is $res->code, 400, "400 for $q";
    like $res->content, qr/^400 Bad Request: /, "$q: a plain message";
    unlike $res->content, qr/<script/i, "$q: nothing echoed as markup";
}
$res = $ua->post("http://127.0.0.1:$sport/tcp-inspect/status.json", Content => 'x');
is $res->code, 405, 'POST status.json: 405';
is get('/tcp-inspect/status.json')->code, 200, 'httpd still serves after the bad requests';

done_testing;
