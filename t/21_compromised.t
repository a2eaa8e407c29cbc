# A compromised httpd child, played by the test: as root, through
# /proc/<child>/mem, it overwrites every byte of every mapping of the
# module's shared memory that the child can write (the request log) with
# random data, then with crafted values, and tries the same on the
# mappings it can only read (the worker's part: interface table, filters,
# offsets, ring), which the kernel refuses. Each time the worker is then
# killed. Afterwards the parent lives, a new worker opens only the
# configured legs, runs as User with no capabilities, no_new_privs and
# seccomp, the pages answer and show the corruption, and new requests are
# joined again.
use strict;
use warnings FATAL => 'all';
no warnings 'portable';    # 64-bit addresses from /proc/<pid>/maps

use Apache::Test ();
use Test::More;
use Fcntl qw(SEEK_SET);
use JSON::PP ();
use Time::HiRes qw(time sleep);
use TCPI::Rig qw(rig have_module http_get status_json wait_for httpd_pid
                 proc_ppid test_httpd_pids ns_curl graceful);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'no client namespace (run through t/run.sh)' unless $r->{ns};

my $json = JSON::PP->new;
my $www_uid = (getpwnam($r->{user}))[2];
my $parent = httpd_pid();

sub worker_pid {
    my $s = status_json() or return undef;
    return $s->{capture}{running} ? $s->{capture}{pid} : undef;
}

# An MPM child of the parent (not the worker).
sub mpm_child {
    my $w = worker_pid() // 0;
    my @c = grep { $_ != $parent && $_ != $w && (proc_ppid($_) // 0) == $parent }
            test_httpd_pids();
    return $c[0];
}

# The module's mappings in a process: [start, end, perms, name].
sub module_maps {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/maps" or return [];
    my @m;
    while (<$fh>) {
        next unless m{^([0-9a-f]+)-([0-9a-f]+)\s+(\S+)\s+\S+\s+\S+\s+\S+\s+(/memfd:tcpinspect\S*)};
        push @m, [hex $1, hex $2, $3, $4];
    }
    return \@m;
}

# Write $len bytes from $gen (a sub returning chunks) at $addr of $pid;
# the number of bytes the kernel accepted.
sub mem_write {
    my ($pid, $addr, $len, $gen) = @_;
    open my $fh, '+<:raw', "/proc/$pid/mem" or return 0;
    my $done = 0;
    while ($done < $len) {
        my $n = $len - $done > 65536 ? 65536 : $len - $done;
        my $buf = $gen->($n);
        sysseek($fh, $addr + $done, SEEK_SET) or last;
        my $w = syswrite($fh, $buf, $n);
        last unless defined $w && $w > 0;
        $done += $w;
    }
    close $fh;
    return $done;
}

open my $urandom, '<:raw', '/dev/urandom' or die "urandom: $!";
sub random_bytes { my $b; read($urandom, $b, $_[0]) == $_[0] or die; return $b }
sub pattern { my ($p) = @_; return sub { substr($p x (int($_[0] / length($p)) + 1), 0, $_[0]) } }

sub status_of {
    my ($pid, $field) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) { return $1 if /^\Q$field\E:\s*(.*?)\s*$/ }
    return undef;
}

# The packet sockets a process holds, as ss names their interfaces.
sub packet_ifaces {
    my ($pid) = @_;
    my %if;
    for (`ss -0 -p -H 2>/dev/null`) {
        next unless /pid=$pid,/;
        $if{$1} = 1 if /^\S+\s+\d+\s+\d+\s+\S*:(\S+)\s/;
    }
    return [sort keys %if];
}

my $round = 0;
sub check_recovered {
    my ($what, $old) = @_;
    ok kill(0, $parent), "$what: the httpd parent $parent lives";
    # Workers killed young come back after 1, 2, 4, 8 s (as the log says).
    my $pid = wait_for(sub { my $p = worker_pid(); $p && $p != $old ? $p : undef }, 20, 0.1);
    ok $pid, "$what: a new worker runs" or return;
    my %legs = map { $_ => 1 } $r->{front_if}, 'lo';
    my $ifs = wait_for(sub { my $i = packet_ifaces($pid); @$i >= 2 ? $i : undef }, 5, 0.1) || [];
    ok @$ifs && !grep({ !$legs{$_} } @$ifs),
        "$what: it opened only the configured legs (@$ifs)";
    my ($ruid, $euid) = split ' ', status_of($pid, 'Uid') // '';
    is $euid, $www_uid, "$what: it runs as $r->{user}";
    is status_of($pid, 'CapEff'), '0000000000000000', "$what: no effective capability";
    is status_of($pid, 'CapPrm'), '0000000000000000', "$what: no permitted capability";
    is status_of($pid, 'NoNewPrivs'), '1', "$what: no_new_privs";
    is status_of($pid, 'Seccomp'), '2', "$what: a seccomp filter";
    my $sb = wait_for(sub { my $s = status_json(); $s && $s->{capture}{sandbox}{seccomp} ? $s->{capture}{sandbox} : undef }, 5, 0.1);
    is_deeply $sb, { map { $_ => JSON::PP::true } qw(no_new_privs seccomp no_capabilities not_dumpable) },
        "$what: status.json capture.sandbox says so";
    for my $page ('/', '/?auto', '/status.json', '/metrics', '/requests.json',
                  '/requests', '/packets.txt', '/flows.json') {
        my $res = http_get("/tcp-inspect$page");
        is $res->code, 200, "$what: $page answers";
    }
    # New requests are joined to their packets again.
    my $tag = sprintf 'r21-%s-%d-%d', $r->{mpm}, $$, ++$round;
    my @codes = map { (ns_curl("/app/echo?u=$tag-$_"))[0] } 1 .. 3;
    is_deeply \@codes, [200, 200, 200], "$what: three proxied requests";
    my $last;
    my $joined = wait_for(sub {
        my $res = http_get("/tcp-inspect/requests.json?limit=64&uri=/app/echo?u=$tag-");
        my $j = $res->code == 200 && eval { $json->decode($res->content) } or return undef;
        $last = $j;
        my @e = grep { $_->{joined} && $_->{backend}{found} && $_->{front}{found} }
                @{ $j->{requests} };
        return @e == 3 ? \@e : undef;
    }, 20, 0.3);
    ok $joined, "$what: the new worker joined them to both flows"
        or diag explain [ $last && $last->{join},
                          map { { uri => $_->{uri}, joined => $_->{joined},
                                  front => $_->{front}{found}, backend => $_->{backend}{found} } }
                          @{ ($last || {})->{requests} || [] } ];
    return $pid;
}

my $w0 = wait_for(\&worker_pid, 10, 0.1);
ok $w0, 'a worker runs' or BAIL_OUT('no worker');
my $child = wait_for(\&mpm_child, 10, 0.1);
ok $child, "an MPM child ($child)" or BAIL_OUT('no MPM child');
my $maps = module_maps($child);
my @rw = grep { $_->[2] =~ /w/ } @$maps;
my @ro = grep { $_->[2] !~ /w/ } @$maps;
ok @rw >= 1 && !grep({ $_->[3] !~ /tcpinspect-log/ } @rw),
    'the child can write only the request log: ' . join ' ', map { "$_->[3] $_->[2]" } @$maps;
ok @ro >= 1 && !grep({ $_->[2] ne 'r--s' } @ro), 'the worker\'s part is mapped r--s in the child';

# --- the read-only part: crafted values are refused by the kernel ----------
my @crafted = (['zeros', "\0"], ['0xff', "\xff"], ['any', "any\0"],
               ['huge', "\xff" x 7 . "\x7f"]);
for my $m (@ro) {
    my ($start, $end) = @$m;
    for my $c (@crafted) {
        for my $at ($start, $start + 4096, $start + int(($end - $start) / 2 / 4096) * 4096) {
            is mem_write($child, $at, 4096, pattern($c->[1])), 0,
                sprintf 'writing %s at %s+0x%x of the read-only part fails', $c->[0], $m->[3], $at - $start;
        }
    }
}

# --- the writable part: random bytes, then crafted ones ---------------------
my $old = $w0;
for my $pass (['random', \&random_bytes], ['0xff', pattern("\xff")],
              ['zeros', pattern("\0")],
              ['odd sequence numbers', pattern("\xf1" . "\xff" x 6 . "\x7f")]) {
    my ($name, $gen) = @$pass;
    my $total = 0;
    $total += mem_write($child, $_->[0], $_->[1] - $_->[0], $gen) for @rw;
    my $want = 0;
    $want += $_->[1] - $_->[0] for @rw;
    is $total, $want, "$name: every byte of the request log overwritten ($total bytes)";
    # The worker meets it first: counted, shown, passed over.
    if ($name eq 'random') {
        my $seen = wait_for(sub {
            my $s = status_json() or return undef;
            return $s->{capture}{request_log}{corrupt} ? $s : undef;
        }, 5, 0.2);
        ok $seen, 'random: status.json capture.request_log.corrupt counts what the worker passed over';
        my $m = http_get('/tcp-inspect/metrics')->content;
        like $m, qr/^tcpinspect_requests_corrupt_total [1-9]/m, 'random: and /metrics';
        like http_get('/tcp-inspect/?auto')->content, qr/^RequestsCorrupt: [1-9]/m, 'random: and ?auto';
    }
    ok kill('KILL', $old), "$name: kill -9 worker $old";
    $old = check_recovered("after $name", $old) // $old;
}

# The suites after this one share the server: a graceful restart gives
# them a fresh region (the corrupted log's counters are the child's garbage).
ok defined graceful(15), 'graceful restart: a new generation with a fresh region';
ok wait_for(\&worker_pid, 10, 0.1), 'and its worker runs';

done_testing;
