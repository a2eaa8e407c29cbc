# The capture worker's life cycle in a real httpd: it runs unprivileged with
# its packet sockets, comes back after kill -9, and survives graceful
# restarts as exactly one process, while proxied requests keep succeeding.
# (What must be gone after stop is checked by t/poststop.pl.)
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use Time::HiRes qw(time sleep);
use TCPI::Rig qw(rig have_module status_json wait_for packet_socket_pids proc_uid
                 proc_ppid httpd_pid test_httpd_pids capture_pids client_loop
                 client_loop_wait graceful bpf_prog_holders);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();

my $www_uid = (getpwnam($r->{user}))[2];

# status.json's capture object once the worker runs (<= $timeout s).
sub running_capture {
    my ($timeout, $not_pid) = @_;
    return wait_for(sub {
        my $s = status_json() or return undef;
        my $c = $s->{capture} or return undef;
        return undef unless $c->{running} && $c->{pid};
        return undef if defined $not_pid && $c->{pid} == $not_pid;
        return $c;
    }, $timeout, 0.1);
}

sub check_worker {
    my ($c, $what) = @_;
    my $pid = $c->{pid};
    ok kill(0, $pid), "$what: worker $pid exists";
    my $uid = proc_uid($pid) || [];
    ok @$uid == 4 && !grep({ $_ == 0 } @$uid),
        "$what: worker runs with non-zero real/effective/saved/fs uid (@$uid)";
    is $uid->[1], $www_uid, "$what: worker runs as $r->{user}" if defined $www_uid;
    is $c->{uid}, $uid->[1], "$what: status.json capture.uid matches /proc";
    my $holders = packet_socket_pids();
    ok $holders->{$pid}, "$what: worker holds packet sockets"
        or diag 'packet socket holders: ' . join ' ', keys %$holders;
    is proc_ppid($pid), httpd_pid(), "$what: worker is a child of the httpd parent";
}

# --- (a) the worker as started ---------------------------------------------
my $c = running_capture(10);
ok $c, 'status.json: capture.running is true with a pid' or BAIL_OUT('no capture worker');
check_worker($c, 'start');
my %ifs = map { $_->{name} => $_ } @{ $c->{interfaces} || [] };
for my $if ($r->{front_if}, 'lo') {
    is $ifs{$if} && $ifs{$if}{status}, 'ok', "interface $if is captured"
        or diag explain $c->{interfaces};
}
is_deeply [capture_pids()], [$c->{pid}], 'exactly one process of the test httpd holds packet sockets';

# --- (b) kill -9 under load: restarted, no request lost ---------------------
# A worker that ran 10 s or more is restarted at once (a younger one backs
# off first): let it reach that age.
{
    my $aged = wait_for(sub {
        my $s = status_json();
        $s && $s->{capture}{running} && ($s->{capture}{uptime_s} // 0) >= 11 ? $s->{capture} : undef;
    }, 15, 0.5);
    ok $aged, 'the worker has run for 10 s' or diag explain status_json();
    $c = $aged if $aged;
    my $old = $c->{pid};
    my $restarts = $c->{restarts} // 0;
    my $load = client_loop(count => 200, seconds => 20, concurrency => 2, pause => 0.02);
    sleep 0.3;
    ok kill('KILL', $old), "kill -9 worker $old";
    my $t0 = time;
    # The parent forks the successor as soon as the MPM reaps the old one
    # (its maintenance loop looks once a second) and publishes its pid.
    my $forked = wait_for(sub {
        my $s = status_json() or return undef;
        my $p = $s->{capture}{pid};
        return $p && $p != $old && kill(0, $p) ? $p : undef;
    }, 5, 0.02);
    my $dt = time - $t0;
    ok $forked && $dt <= 1.0, sprintf 'a new worker process %.2f s after kill -9 of one that ran 10 s', $dt;
    my $n = running_capture(5, $old);
    ok $n, sprintf 'a new worker runs %.1f s after kill -9', time - $t0;
    my $res = client_loop_wait($load);
    is $res->{failed}, 0, "no proxied request failed while the worker was replaced ($res->{ok} ok)"
        or diag join "\n", @{ $res->{errors} };
    cmp_ok $res->{ok}, '>', 0, 'the client loop ran';
    SKIP: {
        skip 'no new worker', 8 unless $n;
        isnt $n->{pid}, $old, "new worker pid $n->{pid}";
        cmp_ok $n->{restarts} // 0, '>', $restarts, 'capture.restarts counted the restart';
        check_worker($n, 'after kill -9');
    }
    ok wait_for(sub { !kill 0, $old }, 2), "old worker $old is gone (reaped)";
}

# --- (c) three graceful restarts under load: one worker, no request lost ----
{
    my $load = client_loop(count => 400, seconds => 30, concurrency => 2, pause => 0.02);
    my $parent = httpd_pid();
    for my $i (1 .. 3) {
        my $gen = graceful(15);
        ok defined $gen, "graceful restart $i: new generation " . ($gen // 'none');
        ok running_capture(10), "graceful restart $i: the worker runs";
    }
    is httpd_pid(), $parent, 'the httpd parent is the same process';
    my $res = client_loop_wait($load);
    is $res->{failed}, 0, "no proxied request failed across the restarts ($res->{ok} ok)"
        or diag join "\n", @{ $res->{errors} };
    cmp_ok $res->{ok}, '>', 0, 'the client loop ran';

    # Old workers get SIGTERM, then SIGKILL after 2 s: allow 5 s.
    my $one = wait_for(sub { my @p = capture_pids(); @p == 1 ? \@p : undef }, 5, 0.2);
    ok $one, 'exactly one process of the test httpd holds packet sockets'
        or diag 'holders: ' . join ' ', capture_pids();
    my $now = running_capture(5);
    SKIP: {
        skip 'no worker', 7 unless $one && $now;
        is $one->[0], $now->{pid}, 'and it is the worker status.json reports';
        check_worker($now, 'after 3 graceful restarts');
    }
    my @procs = test_httpd_pids();
    my @workers = grep { my $u = proc_uid($_); $u && $u->[0] != 0 && packet_socket_pids()->{$_} } @procs;
    is scalar(@workers), 1, 'one worker process in total';

    # Each generation detaches its state-change event counter: after three
    # restarts the parent holds exactly one, and the pages use it.
    SKIP: {
        my $h = bpf_prog_holders('tcpi_ev_state');
        skip 'bpftool is not installed', 2 unless $h;
        my @held = grep { grep { $_ == $parent } @{ $h->{$_} } } keys %$h;
        is scalar @held, 1, 'one event-counter program held by the parent after 3 restarts'
            or diag `bpftool prog show name tcpi_ev_state`;
        my $j = status_json();
        is $j && $j->{counts}{source}, 'events+dump', 'the new generation counts from events';
    }
}

done_testing;
