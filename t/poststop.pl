#!/usr/bin/perl
# Run by t/run.sh after the test httpd has been stopped: nothing of it may
# remain. TAP on stdout; the exit code is the number of failed checks.
#   TCPI_HTTPD_PID     the stopped parent's pid
#   TCPI_IPC_BASELINE  file with the SysV shm ids that existed before start
#   TCPI_MPM           for the test names
use strict;
use warnings FATAL => 'all';

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP ();
use TCPI::Rig qw(wait_for test_httpd_pids capture_pids);

my $t_dir = $FindBin::Bin;
my $conf  = "$t_dir/conf/httpd.conf";
my $mpm   = $ENV{TCPI_MPM} || '?';

# The worker gets SIGTERM at stop and SIGKILL 2 s later: allow 5 s.
my $gone = wait_for(sub { !test_httpd_pids($conf) && !capture_pids($conf) }, 5, 0.2);

my @left = test_httpd_pids($conf);
ok !@left, "[$mpm] no test httpd process is left"
    or diag "left: " . join ', ', map { "$_ (" . (readlink("/proc/$_/exe") // '?') . ')' } @left;

my @holders = capture_pids($conf);
ok !@holders, "[$mpm] no process of the test httpd holds a packet socket"
    or diag "packet sockets held by pid @holders";

# SysV shm made by the test httpd (its parent creates them in post_config)
# and still there. Other httpds on the machine may come and go meanwhile,
# so a new segment counts only when the test httpd's parent created it.
SKIP: {
    my $base = $ENV{TCPI_IPC_BASELINE};
    my $ppid = $ENV{TCPI_HTTPD_PID};
    skip 'no SysV shm baseline or httpd pid', 1 unless $base && -r $base && $ppid;
    open my $fh, '<', $base or die;
    my %before = map { chomp; $_ => 1 } <$fh>;
    my (@ours, @other);
    for (`ipcs -m -p`) {
        my ($shmid, $owner, $cpid) = split;
        next unless defined $cpid && $shmid =~ /^\d+$/ && !$before{$shmid};
        if ($cpid == $ppid) { push @ours, "shmid $shmid owner $owner" }
        else { push @other, "shmid $shmid (cpid $cpid)" }
    }
    diag "new SysV shm segments of other processes: @other" if @other;
    ok !@ours, "[$mpm] no SysV shared memory segment of the test httpd left behind"
        or diag "left: @ours";
}

# The state-change event counter's BPF programs (tcpi_ev_*) are held by
# the parent only: once it is gone, none loaded since the start may remain
# (bpftool, the kernel's own list).
SKIP: {
    my $base = $ENV{TCPI_BPF_BASELINE};
    skip 'no bpftool baseline (or not root: bpftool lists nothing)', 1
        unless $base && -r $base && -x '/usr/sbin/bpftool' && $> == 0;
    my $json = JSON::PP->new;
    my $read = sub { my $t = shift; $t =~ /\S/ ? $json->decode($t) : [] };
    my %before = map { $_->{id} => 1 } @{ $read->(do { local (@ARGV, $/) = $base; <> }) };
    my @left;
    wait_for(sub {
        @left = grep { ($_->{name} // '') =~ /^tcpi_ev/ && !$before{$_->{id}} }
                @{ $read->(scalar `bpftool -j prog show 2>/dev/null`) };
        return !@left;
    }, 3, 0.2);
    ok !@left, "[$mpm] no BPF program of the test httpd left loaded"
        or diag join ', ', map { "id $_->{id} $_->{name}" } @left;
}

# What the error log says about this run: no child crashed, no worker
# startup failure, no emergency.
my $log = "$t_dir/logs/error_log";
SKIP: {
    skip 'no error_log', 1 unless -r $log;
    open my $fh, '<', $log or die;
    my @bad = grep { /AH00052|exit signal (Segmentation|Abort|Bus|Illegal)|\[(\w+:)?emerg\]|\[(\w+:)?alert\]/ } <$fh>;
    ok !@bad, "[$mpm] error_log: no crashed child, no emerg/alert"
        or diag join '', @bad[0 .. ($#bad < 9 ? $#bad : 9)];
}

done_testing;
exit(Test::More->builder->is_passing ? 0 : 1);
