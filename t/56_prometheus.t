# contrib/prometheus/tcpinspect.rules.yml in a real Prometheus (Debian's
# prometheus, a child process with its own configuration, storage and
# loopback port) that scrapes two scratch httpds of this MPM, A and B, at
# /tcp-inspect/metrics every second and evaluates the rules every second:
#
# - the rules load and every one of them evaluates without error;
# - every metric name the rules and their annotations use is scraped from
#   both (the rules name only what the module exports);
# - 20 connections held open to A, whose threshold is
#   `TCPInspectThreshold ESTABLISHED 5 10 front` like B's, make
#   TCPInspectStateCritical (and Warning) pending or firing for A, naming
#   the scope, the state and the pages to open, and for A only;
# - kill -9 of B's capture worker makes TCPInspectWorkerRestarting
#   pending or firing for B only; A never shows a worker alert, B never a
#   state alert.
#
# Every wait is bounded; the rules' `for:` durations are minutes, so an
# alert is first pending, which is what the test looks for (or firing).
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use LWP::UserAgent ();
use POSIX ();
use Time::HiRes qw(time sleep);
use URI::Escape qw(uri_escape);
use TCPI::Rig qw(rig have_module wait_for free_port scratch_httpd
                 scratch_start scratch_stop);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'needs root (packet capture)' unless $> == 0;
my ($prometheus) = grep { -x } map { "$_/prometheus" } split /:/, $ENV{PATH};
plan skip_all => 'prometheus is not installed (make deps)' unless $prometheus;

my $top = $r->{top} || do { require FindBin; "$FindBin::Bin/.." };
my $rules = "$top/contrib/prometheus/tcpinspect.rules.yml";
-r $rules or BAIL_OUT("no $rules");

my $HOLD = 20;               # connections held open to A
my $ALERT_WAIT = 30;         # s, for an alert to be pending or firing
my $jetty = $r->{jetty_port};
my $ua = LWP::UserAgent->new(timeout => 5, keep_alive => 0);
my $json = JSON::PP->new;

# --- two scratch httpds -------------------------------------------------------
# The scraper's access rule is the one README.md shows: `Require ip`.
my %S;
for my $name (qw(A B)) {
    my $port = free_port(19400, 19600);
    my $s = scratch_httpd(name => "prom$name",
        listen  => ["127.0.0.1:$port"],
        modules => [qw(proxy proxy_http)],
        body    => <<"EOF");
Timeout 60
ProxyPass /app http://127.0.0.1:$jetty/app
TCPInspectEngine On
TCPInspectFrontend lo $port
TCPInspectBackend lo $jetty
TCPInspectRingSize 4M
TCPInspectThreshold ESTABLISHED 5 10 front
<Location /tcp-inspect>
    SetHandler tcp-inspect
    Require ip 127.0.0.1
</Location>
EOF
    my ($started, $out) = scratch_start($s);
    ok $started, "scratch httpd $name starts on 127.0.0.1:$port" or diag $out;
    $S{$name} = { %$s, port => $port, instance => "127.0.0.1:$port" };
}

sub status_of {
    my ($name) = @_;
    my $res = $ua->get("http://$S{$name}{instance}/tcp-inspect/status.json");
    return $res->code == 200 ? eval { $json->decode($res->content) } : undef;
}
for my $name (qw(A B)) {
    ok wait_for(sub { my $s = status_of($name); $s && $s->{capture}{running} }, 15, 0.2),
        "$name: the capture worker runs" or BAIL_OUT("no worker on $name");
}
# A few proxied requests, so that the phase histograms have counts.
for my $name (qw(A B)) {
    my $ok = grep { $ua->get("http://$S{$name}{instance}/app/echo?i=$_")->code == 200 } 1 .. 5;
    is $ok, 5, "$name: 5 proxied requests";
}

# --- Prometheus ---------------------------------------------------------------
my $pdir = File::Temp::tempdir('tcpi-prom-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $pport = free_port(19600, 19800);
my $targets = join ', ', map { "'$S{$_}{instance}'" } qw(A B);
open my $cf, '>', "$pdir/prometheus.yml" or die "$pdir/prometheus.yml: $!";
print $cf <<"EOF";
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - '$rules'
scrape_configs:
  - job_name: tcpinspect
    metrics_path: /tcp-inspect/metrics
    static_configs:
      - targets: [$targets]
EOF
close $cf or die;

my $ppid = fork // die "fork: $!";
if ($ppid == 0) {
    open STDIN, '<', '/dev/null';
    open STDOUT, '>', "$pdir/prometheus.log";
    open STDERR, '>&', \*STDOUT;
    exec($prometheus, "--config.file=$pdir/prometheus.yml",
         "--storage.tsdb.path=$pdir/data", "--web.listen-address=127.0.0.1:$pport",
         '--log.level=warn') or POSIX::_exit(127);
}
sub stop_prometheus {
    return unless $ppid;
    kill 'TERM', $ppid;
    my $gone = wait_for(sub { waitpid($ppid, POSIX::WNOHANG()) != 0 }, 10, 0.1);
    unless ($gone) { kill 'KILL', $ppid; waitpid $ppid, 0 }
    $ppid = 0;
}
END {
    local $?;
    stop_prometheus();
    scratch_stop($_) for values %S;
}
sub prom_log {
    open my $fh, '<', "$pdir/prometheus.log" or return '';
    local $/;
    return <$fh> // '';
}

my $papi = "http://127.0.0.1:$pport";
sub api {
    my ($path) = @_;
    my $res = $ua->get("$papi$path");
    return undef unless $res->code == 200;
    my $j = eval { $json->decode($res->content) } or return undef;
    return $j->{status} eq 'success' ? $j->{data} : undef;
}
sub query {
    my ($q) = @_;
    my $d = api('/api/v1/query?query=' . uri_escape($q)) or return undef;
    return $d->{result};
}

ok wait_for(sub { $ua->get("$papi/-/ready")->code == 200 }, 30, 0.2),
    "prometheus is ready on 127.0.0.1:$pport" or do { diag prom_log(); BAIL_OUT('no prometheus') };
# Two scrapes of each target at least, both up.
ok wait_for(sub {
    my $res = query('count_over_time(up{job="tcpinspect"}[1m]) >= 2 and up == 1') or return 0;
    return @$res == 2;
}, 20, 0.5), 'both httpds are scraped, twice or more'
    or diag explain query('up'), api('/api/v1/targets');

# --- the rules -------------------------------------------------------------
my $groups = api('/api/v1/rules');
my @rules = map { @{ $_->{rules} } } @{ $groups ? $groups->{groups} : [] };
my $alerts_in_file = () = do {
    open my $fh, '<', $rules or die;
    grep { /^\s*- alert:/ } <$fh>;
};
my @alerting = grep { $_->{type} eq 'alerting' } @rules;
is scalar @alerting, $alerts_in_file, "prometheus loaded the $alerts_in_file alerts of the rules file";
ok scalar(grep { $_->{type} eq 'recording' } @rules) > 0, 'and its recording rules';
# Let every group evaluate at least twice, then look at their health.
ok wait_for(sub {
    my $g = api('/api/v1/rules') or return 0;
    my @r = map { @{ $_->{rules} } } @{ $g->{groups} };
    return !grep { ($_->{health} // '') ne 'ok' } @r;
}, 10, 0.5), 'every rule evaluates without error'
    or diag explain [grep { ($_->{health} // '') ne 'ok' } map { @{ $_->{rules} } }
                     @{ (api('/api/v1/rules') || {})->{groups} || [] }];

# Every metric name the rules use (recorded names have colons; comments
# are not rules), scraped from both httpds.
my %names;
{
    open my $fh, '<', $rules or die;
    while (my $line = <$fh>) {
        next if $line =~ /^\s*#/;
        $names{$1} = 1 while $line =~ /(?<![\w:])(tcpinspect_[a-z0-9_]+)\b(?!:)/g;
    }
}
ok scalar(keys %names) >= 10, scalar(keys %names) . ' metric names in the rules';
for my $n (sort keys %names) {
    my $res = query(qq{count by (instance) ({__name__="$n",job="tcpinspect"})});
    is scalar(@{ $res || [] }), 2, "$n is scraped from both httpds";
}

# --- alerts --------------------------------------------------------------------
# The active alerts (pending or firing) as [name, state, labels, annotations].
sub alerts {
    my $d = api('/api/v1/alerts') or return [];
    return [ map { [ $_->{labels}{alertname}, $_->{state}, $_->{labels},
                     $_->{annotations} ] } @{ $d->{alerts} } ];
}
sub alerts_for {
    my ($name, $re) = @_;
    return grep { $_->[2]{instance} eq $S{$name}{instance} && $_->[0] =~ $re } @{ alerts() };
}
sub show { join "\n", map { "$_->[0] $_->[1] $_->[2]{instance}" } @{ alerts() } }

is scalar(alerts_for($_, qr/^TCPInspectState/)), 0, "$_: no state alert at rest"
    for qw(A B);

# 20 connections to A, each with half a request (with no data at all,
# httpd's AcceptFilter would keep them in SYN_RECV): front ESTABLISHED >= 10.
my @held;
for (1 .. $HOLD) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $S{A}{port},
                                  Timeout => 5) or last;
    $s->autoflush(1);
    print $s "GET /app/echo HTTP/1.1\r\n";
    push @held, $s;
}
is scalar @held, $HOLD, "$HOLD connections held open to A";
my $t0 = time;
my $crit = wait_for(sub {
    my ($x) = grep { $_->[1] =~ /^(pending|firing)$/ } alerts_for('A', qr/^TCPInspectStateCritical$/);
    return $x;
}, $ALERT_WAIT, 0.5);
ok $crit, sprintf('A: TCPInspectStateCritical is %s %.1f s after the connections were opened',
                  $crit ? $crit->[1] : 'not active', time - $t0)
    or diag show(), explain status_of('A')->{thresholds};
SKIP: {
    skip 'no critical alert', 5 unless $crit;
    my ($l, $an) = @$crit[2, 3];
    is_deeply [@$l{qw(scope state warning critical severity)}],
        ['front', 'ESTABLISHED', '5', '10', 'critical'],
        'its labels: scope, state, the thresholds, severity critical';
    is $l->{job}, 'tcpinspect', 'and the scrape job';
    like $an->{summary}, qr/front ESTABLISHED .* critical threshold on \Q$S{A}{instance}\E/,
        'summary: scope, state and instance';
    like $an->{description}, qr{/tcp-inspect/flows\?state=ESTABLISHED}, 'description: the page to open';
    ok scalar(grep { $_->[1] =~ /^(pending|firing)$/ } alerts_for('A', qr/^TCPInspectStateWarning$/)),
        'A: TCPInspectStateWarning is active too';
}
is scalar(alerts_for('B', qr/^TCPInspectState/)), 0, 'B: no state alert while A has one'
    or diag show();
close $_ for @held;
@held = ();

# kill -9 of B's worker: httpd restarts it (t/20_worker.t), which
# tcpinspect_capture_restarts_total counts.
my $st = status_of('B');
my $old = $st && $st->{capture}{pid};
ok $old, "B: worker pid $old" or BAIL_OUT('no worker pid on B');
my $t_kill = time;
ok kill('KILL', $old), "kill -9 B's worker $old";
ok wait_for(sub {
    my $s = status_of('B');
    $s && $s->{capture}{running} && $s->{capture}{pid} != $old ? 1 : 0;
}, 10, 0.2), sprintf 'B: a new worker runs %.1f s after the kill', time - $t_kill;
my $wk = wait_for(sub {
    my ($x) = grep { $_->[1] =~ /^(pending|firing)$/ } alerts_for('B', qr/^TCPInspectWorkerRestarting$/);
    return $x;
}, $ALERT_WAIT, 0.5);
ok $wk, sprintf('B: TCPInspectWorkerRestarting is %s %.1f s after the kill',
                $wk ? $wk->[1] : 'not active', time - $t_kill)
    or diag show(), explain query('tcpinspect_capture_restarts_total');
SKIP: {
    skip 'no worker alert', 2 unless $wk;
    is $wk->[2]{severity}, 'warning', 'its severity: warning';
    like $wk->[3]{description}, qr{restarts in the last 15 minutes: 1\b.*/tcp-inspect/},
        'description: one restart, the page to open' or diag $wk->[3]{description};
}
is scalar(alerts_for('A', qr/^TCPInspectWorker/)), 0, 'A: no worker alert' or diag show();
is scalar(alerts_for('B', qr/^TCPInspectState/)), 0, 'B: still no state alert' or diag show();

my @errors = grep { /level=error/ } split /\n/, prom_log();
is scalar @errors, 0, 'prometheus logged no error' or diag join "\n", @errors;
stop_prometheus();

done_testing;
