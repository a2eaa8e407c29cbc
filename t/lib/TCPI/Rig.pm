package TCPI::Rig;
# Helpers for the mod_tcpinspect Apache::Test suites: the rig's names, HTTP
# from the host and from the client namespace, status.json, the processes
# that hold packet sockets, and bounded client loops.
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use JSON::PP ();
use LWP::UserAgent ();
use POSIX ();
use File::Temp ();
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(rig have_module url http_get ns_curl status_json wait_for
                    packet_socket_pids packet_socket_inodes proc_uid proc_ppid
                    httpd_pid client_loop graceful error_log_offset
                    error_log_since test_httpd_pids capture_pids
                    bpf_prog_holders);

my %rig;

# The rig's names: Apache::Test's configuration first (so a suite works
# when t/TEST -run-tests is called from a fresh shell), the environment as
# a fallback.
sub rig {
    return \%rig if %rig;
    my $vars = eval { require Apache::Test; Apache::Test::vars() } || {};
    my %env = (
        port       => $ENV{APACHE_TEST_PORT} || 8529,
        ns         => $ENV{TCPI_NS} || '',
        front_if   => $ENV{TCPI_VETH_HOST} || 'lo',
        ns_if      => $ENV{TCPI_VETH_NS} || '',
        host_ip    => $ENV{TCPI_HOST_IP} || '198.18.0.1',
        ns_ip      => $ENV{TCPI_NS_IP} || '198.18.0.2',
        jetty_port => $ENV{TCPI_JETTY_PORT} || 7001,
        module     => '',
        mpm        => $ENV{TCPI_MPM} || 'event',
        top        => '',
        t_logs     => '',
        t_conf     => '',
        httpd      => '/usr/sbin/apache2',
        pid_file   => '',
    );
    %rig = %env;
    for my $k (qw(ns front_if ns_if host_ip ns_ip jetty_port module mpm top)) {
        my $v = $vars->{"tcpi_$k"};
        $rig{$k} = $v if defined $v && length $v;
    }
    $rig{port}     = $vars->{port}       if $vars->{port};
    $rig{t_logs}   = $vars->{t_logs}     || '';
    $rig{t_conf}   = $vars->{t_conf}     || '';
    $rig{httpd}    = $vars->{httpd}      if $vars->{httpd};
    $rig{pid_file} = $vars->{t_pid_file} || "$rig{t_logs}/httpd.pid";
    $rig{user}     = $vars->{user}       || 'www-data';
    return \%rig;
}

# True when the test httpd loaded mod_tcpinspect.
sub have_module { return rig()->{module} ne '' }

sub url {
    my ($path) = @_;
    return "http://127.0.0.1:" . rig()->{port} . $path;
}

my $ua;
sub _ua {
    $ua ||= LWP::UserAgent->new(timeout => 10, keep_alive => 0, agent => 'tcpi-rig/1');
    return $ua;
}

# GET (or another method) from the host over lo: an HTTP::Response.
sub http_get {
    my ($path, %opt) = @_;
    my $method = $opt{method} || 'GET';
    my $req = HTTP::Request->new($method => url($path));
    $req->content($opt{content}) if defined $opt{content};
    return _ua()->request($req);
}

# curl from inside the client namespace to httpd's veth address. Returns
# (status, body); status is 0 when curl itself failed.
sub ns_curl {
    my ($path, @extra) = @_;
    my $r = rig();
    die "no client namespace (run the suite through t/run.sh)\n" unless $r->{ns};
    my $u = "http://$r->{host_ip}:$r->{port}$path";
    open my $fh, '-|', 'ip', 'netns', 'exec', $r->{ns}, 'curl', '-sS', '-m', '10',
        @extra, '-w', '\n%{http_code}', $u or die "cannot run curl: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;
    my ($body, $code) = $out =~ /\A(.*)\n(\d{3})\z/s ? ($1, $2) : ($out, 0);
    return ($code + 0, $body);
}

# /tcp-inspect/status.json decoded, or undef (with $@ set) when it is not
# there or not JSON.
sub status_json {
    my $res = http_get('/tcp-inspect/status.json');
    unless ($res->code == 200) {
        $@ = 'status.json: ' . $res->status_line;
        return undef;
    }
    my $j = eval { JSON::PP->new->decode($res->decoded_content // $res->content) };
    return $j;
}

# Polls $cond every $step seconds for at most $timeout seconds; returns the
# first true value it gave, or undef.
sub wait_for {
    my ($cond, $timeout, $step) = @_;
    $step ||= 0.1;
    my $end = time + $timeout;
    while (1) {
        my $v = $cond->();
        return $v if $v;
        return undef if time >= $end;
        sleep $step;
    }
}

# Inodes of the packet (AF_PACKET) sockets in this network namespace.
sub packet_socket_inodes {
    my %ino;
    open my $fh, '<', '/proc/net/packet' or return {};
    my $head = <$fh>;
    my @cols = split ' ', $head // '';
    my ($icol) = grep { $cols[$_] eq 'Inode' } 0 .. $#cols;
    while (my $line = <$fh>) {
        my @f = split ' ', $line;
        $ino{ $f[ $icol // $#f ] } = 1;
    }
    return \%ino;
}

# pid => [inodes] of every process that holds a packet socket.
sub packet_socket_pids {
    my $ino = packet_socket_inodes();
    my %pids;
    return \%pids unless %$ino;
    opendir my $proc, '/proc' or return \%pids;
    for my $pid (grep { /^\d+$/ } readdir $proc) {
        opendir my $fd, "/proc/$pid/fd" or next;
        for my $f (readdir $fd) {
            my $l = readlink "/proc/$pid/fd/$f" or next;
            push @{ $pids{$pid} }, $1 if $l =~ /^socket:\[(\d+)\]$/ && $ino->{$1};
        }
    }
    return \%pids;
}

# Processes started from the test configuration (parent, MPM children,
# capture worker): their command line names t/conf/httpd.conf. Other httpd
# instances on the machine are not ours to count.
sub test_httpd_pids {
    my ($conf) = @_;
    $conf ||= (rig()->{t_conf} || do { require FindBin; "$FindBin::Bin/conf" }) . '/httpd.conf';
    my @pids;
    opendir my $proc, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $proc) {
        open my $fh, '<', "/proc/$pid/cmdline" or next;
        local $/;
        my $cmd = <$fh> // '';
        push @pids, $pid if index($cmd, $conf) >= 0;
    }
    return sort { $a <=> $b } @pids;
}

# The test httpd's processes that hold packet sockets (the capture worker).
sub capture_pids {
    my ($conf) = @_;
    my $holders = packet_socket_pids();
    return grep { $holders->{$_} } test_httpd_pids($conf);
}

sub _status_field {
    my ($pid, $field) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (my $line = <$fh>) {
        return [ split ' ', $1 ] if $line =~ /^\Q$field\E:\s*(.*)$/;
    }
    return undef;
}

# Real, effective, saved and filesystem uid of a process (array ref).
sub proc_uid { return _status_field($_[0], 'Uid') }
sub proc_ppid { my $p = _status_field($_[0], 'PPid'); return $p ? $p->[0] : undef }

sub httpd_pid {
    my $file = rig()->{pid_file};
    open my $fh, '<', $file or return undef;
    my $pid = <$fh>;
    return undef unless defined $pid && $pid =~ /^(\d+)/;
    return kill(0, $1) ? $1 : undef;
}

# The loaded BPF programs named $name (bpftool, the kernel's list) and the
# processes holding a descriptor of each (/proc/*/fdinfo names the program
# of every BPF program or link descriptor): { id => [pids] }. undef when
# bpftool is not installed.
sub bpf_prog_holders {
    my ($name) = @_;
    return undef unless -x '/usr/sbin/bpftool';
    my %h = map { $_->{id} => [] } grep { ($_->{name} // '') eq $name }
            @{ JSON::PP->new->decode(scalar(`bpftool -j prog show`) || '[]') };
    return \%h unless %h;
    for my $fi (glob '/proc/[0-9]*/fdinfo/*') {
        open my $fh, '<', $fi or next;
        my $t = do { local $/; <$fh> } // '';
        my ($id) = $t =~ /^prog_id:\s+(\d+)$/m;
        next unless defined $id && $h{$id};
        my ($pid) = $fi =~ m{^/proc/(\d+)/};
        push @{ $h{$id} }, $pid unless grep { $_ == $pid } @{ $h{$id} };
    }
    return \%h;
}

# Starts a client loop in a child process: at most $opt{count} requests of
# $opt{path}, one connection each, for at most $opt{seconds} seconds, with
# $opt{concurrency} clients. Returns a handle; client_loop_wait($h) gives
# { ok => N, failed => N, errors => [first few] }.
sub client_loop {
    my (%opt) = @_;
    my $count   = $opt{count}   || 200;
    my $seconds = $opt{seconds} || 20;
    my $path    = $opt{path}    || '/app/echo';
    my $conc    = $opt{concurrency} || 1;
    my $pause   = $opt{pause}   || 0;
    pipe my $r, my $w or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $r;
        my @kids;
        my $per = int(($count + $conc - 1) / $conc);
        for my $c (1 .. $conc) {
            my $k = fork // POSIX::_exit(1);
            if ($k == 0) {
                my $ua = LWP::UserAgent->new(timeout => 5, keep_alive => 0);
                my $end = time + $seconds;
                my ($ok, $failed, @err) = (0, 0);
                for my $i (1 .. $per) {
                    last if time >= $end;
                    my $res = $ua->get(url("$path?c=$c&i=$i"));
                    if ($res->code == 200) { $ok++ }
                    else {
                        $failed++;
                        push @err, "$path #$c.$i: " . $res->status_line if @err < 5;
                    }
                    sleep $pause if $pause;
                }
                syswrite $w, join("\t", 'R', $ok, $failed, @err) . "\n";
                POSIX::_exit(0);
            }
            push @kids, $k;
        }
        waitpid $_, 0 for @kids;
        POSIX::_exit(0);
    }
    close $w;
    return { pid => $pid, fh => $r, seconds => $seconds };
}

sub client_loop_wait {
    my ($h) = @_;
    my %res = (ok => 0, failed => 0, errors => []);
    my $fh = $h->{fh};
    my $deadline = time + $h->{seconds} + 15;
    my $buf = '';
    while (time < $deadline) {
        my $rin = '';
        vec($rin, fileno($fh), 1) = 1;
        my $n = select(my $rout = $rin, undef, undef, 1);
        next unless $n > 0;
        my $got = sysread $fh, $buf, 65536, length $buf;
        last unless $got;
    }
    kill 'KILL', $h->{pid};
    waitpid $h->{pid}, 0;
    for my $line (split /\n/, $buf) {
        my (undef, $ok, $failed, @err) = split /\t/, $line;
        $res{ok} += $ok;
        $res{failed} += $failed;
        push @{ $res{errors} }, @err;
    }
    return \%res;
}
push @EXPORT_OK, 'client_loop_wait';

# Graceful restart of the test httpd (SIGUSR1 to the parent, as
# `apache2 -k graceful` does); waits (<= $timeout s) until status.json
# reports a new generation. Returns the new generation or undef.
sub graceful {
    my ($timeout) = @_;
    $timeout ||= 15;
    my $pid = httpd_pid() or return undef;
    my $before = status_json();
    my $gen = $before ? $before->{generation} : -1;
    kill 'USR1', $pid or return undef;
    return wait_for(sub {
        my $s = status_json();
        return $s && defined $s->{generation} && $s->{generation} != $gen
            ? $s->{generation} : undef;
    }, $timeout, 0.2);
}

sub _error_log { return rig()->{t_logs} . '/error_log' }

sub error_log_offset { return -s _error_log() || 0 }

# The error log's lines written since $offset.
sub error_log_since {
    my ($offset) = @_;
    open my $fh, '<', _error_log() or return ();
    seek $fh, $offset, 0;
    my @l = <$fh>;
    return @l;
}

# --- scratch httpds -----------------------------------------------------------
# A suite that needs a configuration of its own runs a scratch httpd beside
# the rig's: its own ServerRoot in a temporary directory, the rig's MPM and
# User, the modules it names, and the suite's own directives.

# A TCP port in [$lo, $hi) that nothing uses and this process has not
# handed out before.
my %ports_taken;
sub free_port {
    my ($lo, $hi) = @_;
    for (my $p = $lo; $p < $hi; $p++) {
        next if $ports_taken{$p};
        next if `ss -Htan 'sport = :$p'` =~ /\S/;
        $ports_taken{$p} = 1;
        return $p;
    }
    die "no free port in $lo..$hi\n";
}

# Writes a scratch httpd's configuration: name (of its temporary
# directory), listen (["addr:port", ...]), modules (NAME as in mod_NAME.so,
# beyond the MPM and the two authz modules; mod_tcpinspect comes last),
# loglevel (notice), body (the suite's directives, or a function of the
# directory that returns them), pages (1: the handler at /tcp-inspect with
# downloads allowed, and at /tcp-inspect-nodl without; open to all, the
# scratch httpd listens on test addresses only). Returns
# { dir, conf, logs }; scratch_start and scratch_stop run it, and it is
# stopped at exit if it still runs.
my @scratch;
sub scratch_httpd {
    my (%o) = @_;
    my $r = rig();
    my $modules = `apxs -q LIBEXECDIR 2>/dev/null` || '/usr/lib/apache2/modules';
    chomp $modules;
    my $mpm = $r->{mpm} || 'event';
    my $dir = File::Temp::tempdir("tcpi-$o{name}-XXXXXX", TMPDIR => 1,
                                  CLEANUP => 1);
    chmod 0755, $dir;
    mkdir "$dir/logs";
    my $listen = join '', map { "Listen $_\n" } @{ $o{listen} || [] };
    my $load = join '', map { "LoadModule ${_}_module $modules/mod_$_.so\n" }
                        'authz_core', 'authz_host', @{ $o{modules} || [] };
    my $level = $o{loglevel} || 'notice';
    my $body = ref $o{body} eq 'CODE' ? $o{body}->($dir) : $o{body} // '';
    $body .= <<'EOF' if $o{pages};
<Location /tcp-inspect>
    SetHandler tcp-inspect
    Require all granted
    TCPInspectAllowDownload On
</Location>
<Location /tcp-inspect-nodl>
    SetHandler tcp-inspect
    Require all granted
</Location>
EOF
    my $conf = "$dir/httpd.conf";
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh <<"EOF";
ServerRoot $dir
PidFile $dir/logs/httpd.pid
ErrorLog $dir/logs/error_log
LogLevel $level
DefaultRuntimeDir $dir/logs
ServerName localhost
User $r->{user}
Group $r->{user}
${listen}LoadModule mpm_${mpm}_module $modules/mod_mpm_$mpm.so
${load}LoadModule tcpinspect_module $r->{module}
$body
EOF
    close $fh or die "$conf: $!";
    my $s = { dir => $dir, conf => $conf, logs => "$dir/logs" };
    push @scratch, $s;
    return $s;
}

# Starts a scratch httpd: (1, output) or (0, what httpd said).
sub scratch_start {
    my ($s) = @_;
    my $out = `$rig{httpd} -f $s->{conf} -k start 2>&1`;
    return ($? == 0 ? 1 : 0, $out);
}

# Stops a scratch httpd and waits (<= $timeout s, 10) for its pid file to
# go: true once it has.
sub scratch_stop {
    my ($s, $timeout) = @_;
    return 1 unless -e "$s->{logs}/httpd.pid";
    system $rig{httpd}, '-f', $s->{conf}, '-k', 'stop';
    return wait_for(sub { !-e "$s->{logs}/httpd.pid" }, $timeout || 10, 0.2);
}

END {
    local $?;                  # keep the suite's exit status
    scratch_stop($_) for @scratch;
}
push @EXPORT_OK, qw(free_port scratch_httpd scratch_start scratch_stop);

1;
