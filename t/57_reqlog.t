# TCPInspectRequestLog: each joined request as one JSON line, through
# real httpds (this MPM, the rig's Jetty), one per kind of log:
#   file     one line per request, each the very object /requests.json
#            shows for it (ids, tuples, timings: every field); mode 0644
#   pipe     "|$cat >>file" gets the same lines; the logger killed, httpd
#            starts it again on the same pipe and no line is lost
#   stalled  the logger stopped (SIGSTOP): the join goes on (requests.json
#            keeps growing), lines are dropped whole and counted in
#            status.json and /metrics; once it runs again the file holds
#            whole lines only, written + dropped = joined
#   rotated  "|rotatelogs file.%s 1": every line in some file, whole
# Every wait is bounded; the logger is let go on every way out.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use LWP::UserAgent ();
use Time::HiRes qw(time sleep);
use TCPI::Rig qw(rig have_module wait_for free_port scratch_httpd scratch_start
                 scratch_stop);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'needs root (packet capture)' unless $> == 0;
plan skip_all => 'rotatelogs is not installed (apache2-utils)' unless -x '/usr/bin/rotatelogs';

my $jetty = $r->{jetty_port};
my $json = JSON::PP->new->canonical;
my $run = sprintf '%x', int(time * 1000) % 0xffffffff;
my $ua = LWP::UserAgent->new(timeout => 15, keep_alive => 1);
my (%stopped, @servers);            # loggers this suite stopped; httpds

END {
    local $?;
    kill 'CONT', keys %stopped;     # a stopped logger would outlive httpd
    scratch_stop($_) for @servers;
}

# A scratch httpd with the log directive $target (a function of its dir).
sub server {
    my ($name, $target, @more) = @_;
    my $port = free_port(19000, 19200);
    my $dir;
    my $S = scratch_httpd(name => "reqlog-$name", listen => ["127.0.0.1:$port"],
        modules => [qw(proxy proxy_http), @more], pages => 1,
        body => sub {
            ($dir) = @_;
            my $t = $target->($dir);
            return <<"EOF";
KeepAlive On
ProxyPass /app http://127.0.0.1:$jetty/app
TCPInspectEngine On
TCPInspectFrontend lo $port
TCPInspectBackend lo $jetty
TCPInspectRingSize 16M
TCPInspectRequestLog $t
EOF
        });
    my ($ok, $out) = scratch_start($S);
    ok $ok, "$name: scratch httpd starts" or diag $out;
    push @servers, $S;
    my $s = { S => $S, dir => $dir, port => $port, name => $name };
    ok wait_for(sub {
        my $st = status($s) or return undef;
        my %if = map { $_->{name} => $_->{status} } @{ $st->{capture}{interfaces} || [] };
        return $st->{capture}{running} && ($if{lo} // '') eq 'ok';
    }, 15, 0.2), "$name: the capture worker runs, capturing on lo";
    return $s;
}

sub get { my ($s, $p) = @_; return $ua->get("http://127.0.0.1:$s->{port}$p") }
sub get_json {
    my $res = get(@_);
    return $res->code == 200 ? eval { $json->decode($res->content) } : undef;
}
sub status { return get_json($_[0], '/tcp-inspect/status.json') }

# n proxied requests with this run's URIs: the paths.
sub requests {
    my ($s, $tag, $n, $pause) = @_;
    my @p = map { "/app/echo?u=$run-$s->{name}-$tag-$_" } 1 .. $n;
    my $bad = 0;
    for (@p) {
        $bad++ unless get($s, $_)->code == 200;
        sleep $pause if $pause;
    }
    is $bad, 0, "$s->{name}: $n requests ($tag) answered 200";
    return @p;
}

# The lines of files: [raw line, decoded object or undef], and the count
# of bytes after the last newline (a torn tail).
sub lines_of {
    my @l;
    my $tail = 0;
    for my $f (@_) {
        open my $fh, '<', $f or next;
        local $/;
        my $all = <$fh> // '';
        my @parts = split /(?<=\n)/, $all;
        $tail += length pop @parts if @parts && $parts[-1] !~ /\n\z/;
        push @l, map { [$_, eval { $json->decode($_) }] } @parts;
    }
    return (\@l, $tail);
}

# Until this run's requests of $s are joined (requests.json) and every
# counted line is out: written + dropped = joined, nothing waiting (the
# status requests are themselves joined half a second later, so the
# worker is caught between two of them).
sub settled {
    my ($s) = @_;
    my $st;
    my $ok = wait_for(sub {
        my $j = get_json($s, "/tcp-inspect/requests.json?limit=4096&uri=/app/echo%3Fu=$run-$s->{name}-")
            or return undef;
        return !grep { !$_->{joined} } @{ $j->{requests} };
    }, 20, 0.25) && wait_for(sub {
        $st = status($s) or return undef;
        my ($j, $l) = ($st->{capture}{join}, $st->{capture}{json_log});
        return $l->{pending_bytes} == 0 && $l->{written} + $l->{dropped} == $j->{joined};
    }, 20, 0.25);
    ok $ok, "$s->{name}: settled: written + dropped = joined, nothing waits"
        or diag explain $st->{capture}{json_log}, $st->{capture}{join}{joined};
    return $st;
}

# The file holds the lines the worker counted as written by the time of
# a status snapshot, in write order; the lines after them can only be
# status requests joined since (the checks' own).
sub all_written {
    my ($name, $lines, $written) = @_;
    my @extra = @$lines[$written .. $#$lines];
    my @other = grep { !$_->[1] || $_->[1]{uri} !~ m{^/tcp-inspect/} } @extra;
    ok @$lines >= $written && !@other, "$name: the $written lines counted as "
        . 'written are in the file (and ' . scalar(@extra) . ' status requests '
        . 'joined since)' or diag scalar(@$lines) . " lines: @other";
}

# Lines against /requests.json: each of @paths has exactly one line, and
# that line is the object /requests.json shows for the request.
sub same_as_requests_json {
    my ($s, $lines, @paths) = @_;
    my (%by_uri, %ids, @bad);
    for (@$lines) {
        my $o = $_->[1] or next;
        push @{ $by_uri{ $o->{uri} } }, $o;
        $ids{ $o->{id} }++;
    }
    my @dup = grep { $ids{$_} > 1 } keys %ids;
    is scalar(@dup), 0, "$s->{name}: no request has two lines" or diag "@dup[0..4]";
    my $j = get_json($s, "/tcp-inspect/requests.json?limit=4096&uri=/app/echo%3Fu=$run-$s->{name}-");
    ok $j, "$s->{name}: requests.json" or return;
    my %entry = map { $_->{uri} => $_ } @{ $j->{requests} };
    my ($fields, $tuples) = (0, 0);
    for my $p (@paths) {
        my ($l, $e) = ($by_uri{$p}, $entry{$p});
        if (!$l || @$l != 1 || !$e) {
            push @bad, "$p: " . ($l ? scalar(@$l) : 0) . ' line(s), '
                . ($e ? '' : 'not ') . 'in requests.json';
            next;
        }
        my ($a, $b) = ($json->encode($l->[0]), $json->encode($e));
        push @bad, "$p: the line differs:\n  $a\n  $b" if $a ne $b;
        $tuples++ if $e->{backend} && $l->[0]{front}{client} eq $e->{front}{client}
            && $l->[0]{backend}{local} eq $e->{backend}{local}
            && $l->[0]{id} eq $e->{id} && $e->{joined} && $e->{front}{found};
        $fields = scalar keys %{ $e->{timing} };
    }
    is scalar(@bad), 0, "$s->{name}: each of " . scalar(@paths) . ' requests has one '
        . 'line, the same object as its /requests.json entry (every field)'
        or diag join "\n", @bad[0 .. ($#bad < 4 ? $#bad : 4)];
    is $tuples, scalar(@paths), "$s->{name}: ids, tuples joined to their flows";
    cmp_ok $fields, '>=', 11, "$s->{name}: timing.* compared ($fields fields)";
}

# Processes started by httpd's parent for a piped logger: the pids of
# descendants named $comm.
# httpd's processes: the parent's descendants (pids).
sub descendants {
    my ($s) = @_;
    open my $pf, '<', "$s->{dir}/logs/httpd.pid" or return ();
    my $root = <$pf> + 0;
    my %ppid;
    for my $d (glob '/proc/[0-9]*') {
        my ($pid) = $d =~ m{(\d+)$};
        open my $fh, '<', "$d/stat" or next;
        my $st = <$fh> // next;
        my ($pp) = $st =~ /^\d+ \(.*\) \S+ (\d+)/ or next;
        $ppid{$pid} = $pp;
    }
    my @out;
    for my $pid (keys %ppid) {
        my $p = $pid;
        for (1 .. 8) { $p = $ppid{$p} // 0; last if $p == $root || $p <= 1 }
        push @out, $pid if $p == $root;
    }
    return sort { $a <=> $b } @out;
}
sub cmdline { open my $fh, '<', "/proc/$_[0]/cmdline" or return ''; local $/; return <$fh> // '' }
# The httpd process listening on mod_cgid's unix socket.
sub cgid_daemon {
    my ($s) = @_;
    my %listening;
    open my $un, '<', '/proc/net/unix' or return;
    while (<$un>) {
        my @f = split ' ';
        $listening{"socket:[$f[6]]"} = 1 if @f >= 8 && $f[7] =~ /cgisock/ && $f[5] eq '01';
    }
    for my $pid (descendants($s)) {
        for my $fd (glob "/proc/$pid/fd/*") {
            my $l = readlink($fd) // next;
            return $pid if $listening{$l};
        }
    }
    return;
}

# Which of them have file $f open.
sub holders {
    my ($s, $f) = @_;
    my @st = stat $f or return ();
    my @out;
    for my $pid (descendants($s)) {
        for my $fd (glob "/proc/$pid/fd/*") {
            my @fs = stat $fd or next;
            if ($fs[0] == $st[0] && $fs[1] == $st[1]) { push @out, $pid; last }
        }
    }
    return sort { $a <=> $b } @out;
}

sub logger_pids {
    my ($s, $comm) = @_;
    open my $pf, '<', "$s->{dir}/logs/httpd.pid" or return ();
    my $root = <$pf> + 0;
    my (%ppid, %name);
    for my $d (glob '/proc/[0-9]*') {
        my ($pid) = $d =~ m{(\d+)$};
        open my $fh, '<', "$d/stat" or next;
        my $st = <$fh> // next;
        my ($n, $pp) = $st =~ /^\d+ \((.*)\) \S+ (\d+)/ or next;
        ($ppid{$pid}, $name{$pid}) = ($pp, $n);
    }
    my @out;
    for my $pid (keys %name) {
        next unless $name{$pid} eq $comm;
        my $p = $pid;
        for (1 .. 8) { $p = $ppid{$p} // 0; last if $p == $root || $p <= 1 }
        push @out, $pid if $p == $root;
    }
    return @out;
}

sub metric {
    my ($s, $name) = @_;
    my $res = get($s, '/tcp-inspect/metrics');
    return $res->content =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

# --- file -----------------------------------------------------------------
{
    # (with mod_cgid: its daemon is another process the parent forks)
    my $s = server('file', sub { 'logs/requests.json' }, 'cgid');   # ServerRoot-relative
    my $f = "$s->{dir}/logs/requests.json";
    ok -f $f, 'file: created at start';
    # Of httpd's processes only the capture worker holds the log: not the
    # MPM's children, not mod_cgid's daemon (a child could reach it).
    {
        my $wpid = status($s)->{capture}{pid};
        my @holders = holders($s, $f);
        is_deeply \@holders, [$wpid], 'file: only the worker holds it'
            or diag explain { holders => \@holders, worker => $wpid };
        my @all = descendants($s);
        ok @all >= 3, 'file: (the parent has children: MPM, cgid, worker)';
        # mod_cgid's daemon forked again by the parent, now holding the
        # log: killed, httpd starts another, which must not hold it either.
        my $d = cgid_daemon($s);
        ok $d, 'file: mod_cgid\'s daemon runs' or diag explain \@all;
        kill 'KILL', $d if $d;
        my $d2;
        ok wait_for(sub { $d2 = cgid_daemon($s); $d2 && $d2 != $d }, 15, 0.2),
            'file: httpd started mod_cgid\'s daemon again';
        @holders = holders($s, $f);
        is_deeply \@holders, [$wpid], 'file: ... and it does not hold the log'
            or diag explain { holders => \@holders, worker => $wpid, cgid => $d2 };
    }
    my @st = stat $f;
    is sprintf('%o %d', $st[2] & 07777, $st[4]), sprintf('%o 0', 0644 & ~umask),
        'file: mode 0644 less the umask, owned by root (as CustomLog)';
    my @paths = requests($s, 'a', 40);
    my $st = settled($s);
    my ($lines, $tail) = lines_of($f);
    is $tail, 0, 'file: ends with a whole line';
    is scalar(grep { !$_->[1] } @$lines), 0, 'file: every line is one JSON object';
    all_written('file', $lines, $st->{capture}{json_log}{written});
    is $st->{capture}{json_log}{kind}, 'file', 'status.json: json_log.kind file';
    ok $st->{capture}{json_log}{enabled}, 'status.json: json_log.enabled';
    is $st->{capture}{json_log}{dropped}, 0, 'file: nothing dropped';
    same_as_requests_json($s, $lines, @paths);
    my ($proxied) = grep { $_->[1] && $_->[1]{backend} } @$lines;
    note 'a line: ' . $proxied->[0] if $proxied;
    # The shipping example reads these lines: a TOML file whose remap
    # takes the fields it names from them.
    my $vec = "$r->{top}/contrib/vector/tcpinspect-requests.toml";
    $vec = 'contrib/vector/tcpinspect-requests.toml' unless -e $vec;
    my $src = `python3 -c 'import sys, tomllib; c = tomllib.load(open(sys.argv[1], "rb")); print(c["transforms"]["tcpinspect_parse"]["source"])' $vec 2>&1`;
    is $?, 0, 'contrib/vector: the configuration is TOML' or diag $src;
    my @named = $src =~ /\.(\w+)\)/g;
    ok @named && $proxied && !grep({ !exists $proxied->[1]{$_} } grep { $_ ne 'message' } @named),
        "contrib/vector: the remap's fields (@named) are in a line";
    scratch_stop($s->{S});
}

# --- pipe, and the logger restarted by httpd -------------------------------
{
    my $s = server('pipe', sub { "\"|\$cat >>$_[0]/logs/piped.json\"" });
    my $f = "$s->{dir}/logs/piped.json";
    my @paths = requests($s, 'a', 20);
    settled($s);
    my @cat = logger_pids($s, 'cat');
    is scalar(@cat), 1, 'pipe: one cat, started by httpd, reads the pipe';
    # Killed while idle (nothing in flight): what comes meanwhile waits
    # in the pipe, which the parent keeps for the next logger.
    my @sh = logger_pids($s, 'sh');
    kill 'KILL', @cat, @sh;
    push @paths, requests($s, 'b', 20);
    ok wait_for(sub { my @n = logger_pids($s, 'cat'); @n && $n[0] != $cat[0] }, 15, 0.2),
        'pipe: httpd started the logger again';
    my $st = settled($s);
    my ($lines, $tail) = lines_of($f);
    is $tail, 0, 'pipe: ends with a whole line';
    is scalar(grep { !$_->[1] } @$lines), 0, 'pipe: every line is one JSON object';
    all_written('pipe (none lost with the logger)', $lines, $st->{capture}{json_log}{written});
    is $st->{capture}{json_log}{kind}, 'pipe', 'status.json: json_log.kind pipe';
    is $st->{capture}{json_log}{dropped}, 0, 'pipe: nothing dropped';
    same_as_requests_json($s, $lines, @paths);
    scratch_stop($s->{S});
}

# --- a stalled logger -----------------------------------------------------
{
    my $s = server('stalled', sub { "\"|\$cat >>$_[0]/logs/stalled.json\"" });
    my $f = "$s->{dir}/logs/stalled.json";
    requests($s, 'warm', 5);
    settled($s);
    my @cat = logger_pids($s, 'cat');
    is scalar(@cat), 1, 'stalled: the logger runs';
    $stopped{$_} = 1 for @cat;
    kill 'STOP', @cat;
    my $j0 = status($s)->{capture}{join}{joined};
    # 64 KiB of pipe and 64 KiB of buffer hold about a hundred lines.
    my $t0 = time;
    my @paths = requests($s, 'stall', 400);
    my $took = time - $t0;
    my ($st, $joined);
    ok wait_for(sub {
        my $rj = get_json($s, "/tcp-inspect/requests.json?limit=4096&uri=/app/echo%3Fu=$run-stalled-stall-")
            or return undef;
        $joined = grep { $_->{joined} } @{ $rj->{requests} };
        $st = status($s) or return undef;
        return $joined == 400 && $st->{capture}{json_log}{dropped} > 0;
    }, 20, 0.25), 'stalled: the join goes on (requests.json has all 400, joined) '
        . 'while lines are dropped' or diag "$joined joined; ", explain $st->{capture}{json_log};
    cmp_ok $st->{capture}{join}{joined}, '>=', $j0 + 400, 'stalled: capture.join.joined grew by 400';
    cmp_ok $took, '<', 60, sprintf 'stalled: the 400 requests took %.1f s', $took;
    my $l = $st->{capture}{json_log};
    cmp_ok $l->{pending_bytes}, '>', 0, "stalled: lines wait ($l->{pending_bytes} bytes)";
    cmp_ok $l->{pending_bytes}, '<=', 65536, 'stalled: no more than the 64 KiB buffer';
    cmp_ok $l->{delayed} + $l->{dropped}, '>', 0, 'stalled: counted';
    my $m = metric($s, 'tcpinspect_json_log_dropped_total');
    cmp_ok $m // 0, '>=', $l->{dropped}, "/metrics: tcpinspect_json_log_dropped_total $m";
    like get($s, '/tcp-inspect/?auto')->content, qr/^JsonLogDropped: [1-9]\d*$/m,
        '?auto: JsonLogDropped';
    is $st->{capture}{restarts}, 0, 'stalled: the worker never restarted';
    kill 'CONT', @cat;
    delete $stopped{$_} for @cat;
    $st = settled($s);
    $l = $st->{capture}{json_log};
    my ($lines, $tail) = lines_of($f);
    is $tail, 0, 'stalled: the file ends with a whole line';
    is scalar(grep { !$_->[1] } @$lines), 0, 'stalled: every line is one JSON object (none torn)';
    all_written("stalled ($l->{dropped} dropped)", $lines, $l->{written});
    my %ids;
    $ids{ $_->[1]{id} }++ for grep { $_->[1] } @$lines;
    is scalar(grep { $_ > 1 } values %ids), 0, 'stalled: no line twice';
    cmp_ok $l->{delayed}, '>', 0, "stalled: $l->{delayed} lines waited and were written";
    is metric($s, 'tcpinspect_json_log_dropped_total'), $l->{dropped},
        '/metrics and status.json agree on the drops';
    open my $el, '<', "$s->{dir}/logs/error_log";
    my @drop_msgs = grep { /TCPI0703/ } <$el>;
    is scalar(@drop_msgs), 1, 'stalled: the drops are logged once (TCPI0703)';
    scratch_stop($s->{S});
}

# --- rotation through rotatelogs ------------------------------------------
{
    my $s = server('rotated', sub { "\"|/usr/bin/rotatelogs $_[0]/logs/rot.%s 1\"" });
    my @paths = requests($s, 'a', 150, 0.02);          # over 3 s at least
    my $st = settled($s);
    my @files = sort glob "$s->{dir}/logs/rot.*";
    cmp_ok scalar(@files), '>=', 2, 'rotated: ' . scalar(@files) . ' files';
    my ($bad, $total) = (0, 0);
    for my $file (@files) {
        my ($l, $tail) = lines_of($file);
        $bad += $tail + grep { !$_->[1] } @$l;
        $total += @$l;
    }
    is $bad, 0, 'rotated: each file holds whole JSON lines only';
    my ($all) = lines_of(@files);
    all_written("rotated ($total lines in " . scalar(@files) . ' files)', $all, $st->{capture}{json_log}{written});
    is $st->{capture}{json_log}{dropped}, 0, 'rotated: nothing dropped';
    same_as_requests_json($s, $all, @paths);
    scratch_stop($s->{S});
}

for my $s (@servers) {
    open my $el, '<', "$s->{logs}/error_log" or next;
    my @crit = grep { /\[(emerg|alert|crit)\]|Segmentation|exited \(/ } <$el>;
    ok !@crit, "$s->{dir}: no crash, no worker exit, no emerg/alert/crit" or diag @crit;
}

done_testing;
