# The Debian package on the system apache2, once per t/run.sh (under its
# first MPM: the system apache2 is the same whatever the test httpd's MPM).
# make deb's .deb (built here unless build/deb/ holds this version's) has
# no lintian error, nor has its source package (.changes, .dsc); installed
# with apt-get it puts the module in /usr/lib/apache2/modules and its .load
# and .conf in mods-available as conffiles, and its postinst enables it
# (apache2-maintscript-helper) with proxy and proxy_http; the system
# apache2 then serves /tcp-inspect/status.json to 127.0.0.1 through the
# shipped tcpinspect.conf (and 403 to the client namespace: Require
# local), with the package's version and a running capture worker. Removed,
# the module is disabled and gone and its conffiles stay; purged, nothing
# of it is left and configtest passes. The system apache2 ends as the suite
# found it: stopped, the same modules enabled, the same a2enmod state.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use Cwd ();
use File::Basename qw(basename dirname);
use File::Path qw(make_path);
use JSON::PP ();
use LWP::UserAgent ();
use POSIX ();
use Time::HiRes qw(sleep);
use TCPI::Rig qw(rig wait_for bpf_prog_holders status_json);

my $r = rig();
my $pkg = 'libapache2-mod-tcpinspect';
my $once = $ENV{TCPI_FIRST_MPM};
plan skip_all => "runs once per t/run.sh, under its first MPM ($once): "
               . 'the system apache2 it installs the package on is the same for every MPM'
    if defined $once && length $once && $r->{mpm} ne $once;
plan skip_all => 'needs root (apt-get, the system apache2)' unless $> == 0;
for my $tool (qw(apt-get dpkg dpkg-query dpkg-deb)) {
    plan skip_all => "$tool is not installed: not a Debian system"
        unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}

my $top = $r->{top} || dirname(dirname(Cwd::abs_path(__FILE__)));
my $mods = '/etc/apache2/mods-enabled';
my $avail = '/etc/apache2/mods-available';
my $so = '/usr/lib/apache2/modules/mod_tcpinspect.so';
my $state_dir = '/var/lib/apache2';
my $pid_file = '/var/run/apache2/apache2.pid';
my $systemd = (readlink('/proc/1/exe') // '') =~ /systemd/;
my $ua = LWP::UserAgent->new(timeout => 5, keep_alive => 0);
$ENV{DEBIAN_FRONTEND} = 'noninteractive';

# (exit code, stdout and stderr) of a command, killed after $timeout s.
sub run {
    my ($timeout, @cmd) = @_;
    my $pid = open(my $fh, '-|') // die "fork: $!";
    if (!$pid) {
        open STDERR, '>&', \*STDOUT;
        open STDIN, '<', '/dev/null';
        { exec 'timeout', '-k', '10', $timeout, @cmd };
        POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

sub installed_version {
    my ($rc, $out) = run(30, 'dpkg-query', '-W', '-f', '${Status}|${Version}', $pkg);
    return $rc == 0 && $out =~ /^install ok installed\|(\S+)/ ? $1 : undef;
}

sub port80_listening { return `ss -Htln 'sport = :80'` =~ /\S/ }

# The system apache2's processes: the parent named by its pid file (started
# without -f, unlike the rig's and the scratch httpds) and its children.
sub system_apache_pids {
    open my $fh, '<', $pid_file or return ();
    my ($ppid) = (<$fh> // '') =~ /^(\d+)/;
    return () unless $ppid && kill 0, $ppid;
    my @pids = ($ppid);
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $s, '<', $stat or next;
        my ($pid, $parent) = (<$s> // '') =~ /^(\d+) \(.*\) \S (\d+)/;
        push @pids, $pid if defined $parent && $parent == $ppid;
    }
    return @pids;
}

# What the suite may change in the system apache2's setup: the enabled
# modules (links) and a2enmod's state markers.
sub apache_state {
    my %s;
    for my $f (glob "$mods/*") {
        $s{"enabled " . basename($f)} = readlink($f) // 'a file';
    }
    my (undef, $out) = run(30, 'find', $state_dir, '-type', 'f');
    $s{"marker $_"} = 1 for split /\n/, $out;
    return \%s;
}

sub apache_start {
    return run(60, $systemd ? ('systemctl', 'start', 'apache2') : ('apache2ctl', 'start'));
}

# Stops the system apache2 and waits (<= 20 s) for all of its processes
# (the capture worker too) and port 80 to go: true once they have.
sub apache_stop {
    my @pids = system_apache_pids();
    return 1 unless @pids;
    run(60, $systemd ? ('systemctl', 'stop', 'apache2') : ('apache2ctl', 'stop'));
    my $gone = wait_for(sub { !grep({ kill 0, $_ } @pids) && !port80_listening() }, 20, 0.2);
    return 1 if $gone;
    kill 'KILL', grep { kill 0, $_ } @pids;
    return 0;
}

sub configtest { return run(60, 'apache2ctl', 'configtest') }

sub apt {
    return run(900, 'apt-get', '-y', '-q', '-o', 'DPkg::Lock::Timeout=300',
               '-o', 'Dpkg::Options::=--force-confdef',
               '-o', 'Dpkg::Options::=--force-confold', @_);
}

sub error_log_tail {
    my (undef, $out) = run(10, 'tail', '-n', '20', '/var/log/apache2/error.log');
    return $out;
}

# --- what the suite finds ----------------------------------------------------
unless (-x '/usr/sbin/apache2ctl') {
    # the rig itself needs apache2 (make deps); for a run outside it
    my ($rc, $out) = apt('install', '--no-install-recommends', 'apache2');
    plan skip_all => "cannot install apache2: $out" if $rc;
    run(60, 'systemctl', 'disable', '--now', 'apache2') if $systemd;
    apache_stop();
}
plan skip_all => "$pkg is installed on this system (" . installed_version()
               . "): this suite would purge it; apt-get purge $pkg first"
    if installed_version();
my @leftover = grep { -e } $so, glob("$avail/tcpinspect.*"), glob("$mods/tcpinspect.*");
plan skip_all => "a copy of the module outside the package (make install?) is there, "
               . "which installing and purging the package would replace and remove: @leftover"
    if @leftover;
plan skip_all => 'the system apache2 is running: this suite does not touch a live server'
    if system_apache_pids();
plan skip_all => 'port 80 is taken: the system apache2 could not start'
    if port80_listening();
{
    my ($rc, $out) = configtest();
    plan skip_all => "the system apache2's configuration fails configtest before the suite: $out"
        if $rc;
}
my $ports = do { local (@ARGV, $/) = '/etc/apache2/ports.conf'; <> } // '';
plan skip_all => 'the system apache2 does not Listen on port 80 (ports.conf)'
    unless $ports =~ /^\s*Listen\s+80\s*$/m;

my $before = apache_state();
my ($installed, $started);

# Puts back what the suite changed, also when it fails half way: the
# system apache2 stopped, the package purged, proxy and proxy_http
# disabled unless they were enabled, a2enmod's markers of the three
# modules as they were.
sub restore {
    apache_stop() if $started;
    if ($installed && defined installed_version()) {
        apt('purge', $pkg);
        apache_stop();              # in case a maintainer script started it
    }
    $installed = 0;
    for my $m (qw(tcpinspect proxy_http proxy)) {
        run(60, 'a2dismod', '-q', '-f', $m)
            if -l "$mods/$m.load" && !exists $before->{"enabled $m.load"};
    }
    for my $m (qw(tcpinspect proxy_http proxy)) {
        for my $f ("$m.load", "$m.conf") {
            my $was = $before->{"enabled $f"};
            symlink $was, "$mods/$f" if defined $was && !-e "$mods/$f" && !-l "$mods/$f";
        }
        unlink grep { !$before->{"marker $_"} } glob "$state_dir/module/*/$m";
        for my $k (grep { m{^marker \Q$state_dir\E/module/[^/]+/\Q$m\E$} } keys %$before) {
            my $p = substr $k, length 'marker ';
            next if -e $p;
            make_path(dirname $p);
            open(my $t, '>', $p) or next;
            close $t;
        }
    }
}
END {
    local $?;
    restore() if $installed || $started;
}

# --- the package ---------------------------------------------------------------
my ($rc, $out) = run(30, 'dpkg-parsechangelog', '-l', "$top/debian/changelog", '-S', 'Version');
chomp(my $version = $out);
ok $rc == 0 && $version =~ /^[0-9][A-Za-z0-9.+~:-]*$/, "the version from debian/changelog: $version"
    or do { diag $out; done_testing(); exit 1 };
chomp(my $arch = `dpkg --print-architecture`);
my $deb = "$top/build/deb/${pkg}_${version}_$arch.deb";
my $changes = "$top/build/deb/${pkg}_${version}_$arch.changes";
my $dsc = "$top/build/deb/${pkg}_$version.dsc";
# build/deb/ as make deb left it, unless a file of the tree is newer
my ($newest, $newest_t) = ('', 0);
for my $f (split /\0/, `git -C '$top' ls-files -z -co --exclude-standard 2>/dev/null`) {
    my $t = (stat "$top/$f")[9] // next;
    ($newest, $newest_t) = ($f, $t) if $t > $newest_t;
}
my $built_t = -e $changes ? (stat $changes)[9] : 0;
if (-e $deb && -e $dsc && $built_t && $built_t >= $newest_t) {
    note "using $deb (make deb ran at " . localtime($built_t) . ', after the last change)';
} else {
    note "building $deb: make deb" . ($built_t ? " ($newest changed since the last)" : '');
    ($rc, $out) = run(1800, 'make', '-C', $top, '--no-print-directory', 'deb');
    ok $rc == 0, 'make deb' or diag length $out > 4000 ? substr($out, -4000) : $out;
}
ok -e $deb, "build/deb/" . basename($deb) or do { done_testing(); exit 1 };
ok -e $changes && -e $dsc, 'build/deb/ has the .changes and the .dsc';

# lintian: no error in the binary packages nor the source package
($rc, $out) = run(600, 'lintian', '--fail-on', 'error', '-I', $changes);
note "lintian -I " . basename($changes) . ":\n$out";
ok $rc == 0, 'lintian --fail-on error exits 0' or diag $out;
my @errors = grep { /^E: / } split /\n/, $out;
ok !@errors, 'lintian: no E: line' or diag join "\n", @errors;
my @warnings = grep { /^W: / } split /\n/, $out;
ok !@warnings, 'lintian: no W: line (overrides explain the ones accepted)'
    or diag join "\n", @warnings;

chomp(my $deb_version = `dpkg-deb -f '$deb' Version`);
is $deb_version, $version, 'the .deb has the changelog version';
chomp(my $depends = `dpkg-deb -f '$deb' Depends`);
like $depends, qr/\bapache2-api-\d{8}\b/, 'Depends on the apache2 module API (dh_apache2)';
like $depends, qr/\blibpcap0\.8\b/, 'Depends on the libraries it links (shlibs)';
my %files = map { (split ' ')[-1] => 1 } split /\n/, `dpkg-deb -c '$deb'`;
ok $files{".$_"}, "the .deb ships $_"
    for $so, "$avail/tcpinspect.load", "$avail/tcpinspect.conf";
my $conffiles = `dpkg-deb -I '$deb' conffiles`;
like $conffiles, qr{^\Q$avail/tcpinspect.$_\E\s*$}m, "tcpinspect.$_ is a conffile"
    for qw(load conf);

# --- install -------------------------------------------------------------------
($rc, $out) = apt('install', '--no-install-recommends', $deb);
$installed = 1;
ok $rc == 0, "apt-get install -y $deb" or diag $out;
is installed_version(), $version, "$pkg $version is installed";
ok -f $so, "$so";
ok -f "$avail/tcpinspect.$_", "$avail/tcpinspect.$_" for qw(load conf);
for my $m (qw(tcpinspect proxy proxy_http)) {
    ok -l "$mods/$m.load", "the postinst enabled $m" . ($m eq 'tcpinspect' ? '' : ' (a dependency)');
}
ok -l "$mods/tcpinspect.conf", 'the postinst enabled tcpinspect.conf';
ok -e "$state_dir/module/enabled_by_maint/tcpinspect",
    'a2enmod recorded tcpinspect as enabled by the maintainer script';
($rc, $out) = run(60, 'a2enmod', 'proxy', 'proxy_http', 'tcpinspect');
ok $rc == 0, 'a2enmod proxy proxy_http tcpinspect (as README says): already enabled' or diag $out;
($rc, $out) = configtest();
ok $rc == 0, 'configtest with the module enabled' or diag $out;

# --- the system apache2 with the module ------------------------------------------
# (a maintainer script may have started it, where policy-rc.d allows)
if (!system_apache_pids()) {
    ($rc, $out) = apache_start();
    ok $rc == 0, 'the system apache2 starts' . ($systemd ? ' (systemctl)' : ' (apache2ctl start)')
        or diag $out, error_log_tail();
} else {
    pass 'the system apache2 runs (started by the package)';
}
$started = 1;
my $json;
my $ok = wait_for(sub {
    my $res = $ua->get('http://127.0.0.1/tcp-inspect/status.json');
    return 0 unless $res->code == 200;
    $json = eval { JSON::PP->new->decode($res->content) };
    return $json && $json->{capture}{running};
}, 20, 0.25);
ok $ok, 'http://127.0.0.1/tcp-inspect/status.json: 200, JSON, the capture worker runs'
    or diag explain($json), error_log_tail();
is $json && $json->{version}, $version, "status.json's version is the package's ($version)";
SKIP: {
    my $rig_json = status_json();
    skip "the rig's httpd has no state-change event counter on this kernel", 1
        unless $rig_json && $rig_json->{counts}{events}{loaded};
    ok $json && $json->{counts}{events}{loaded},
        "the package's module loads its BPF state counter too (as the rig's does)"
        or diag explain($json && $json->{counts}), error_log_tail();
}
SKIP: {
    skip 'no client namespace (run through t/run.sh)', 1 unless $r->{ns};
    ($rc, $out) = run(20, 'ip', 'netns', 'exec', $r->{ns}, 'curl', '-sS', '-m', '10',
                      '-o', '/dev/null', '-w', '%{http_code}',
                      "http://$r->{host_ip}/tcp-inspect/status.json");
    is $out, '403', 'a client outside the host gets 403 (Require local)';
}
# The state counter's BPF programs the system apache2 holds (bpftool and
# /proc/*/fdinfo): unloaded once it has stopped.
my %sys = map { $_ => 1 } system_apache_pids();
my $progs = {};
for my $name (qw(tcpi_ev_state tcpi_ev_seed)) {
    my $h = bpf_prog_holders($name) or last;
    $progs->{$_} = $name for grep { grep { $sys{$_} } @{ $h->{$_} } } keys %$h;
}
ok apache_stop(), 'the system apache2 stops (<= 20 s), its capture worker with it';
$started = 0;
SKIP: {
    skip 'bpftool is not installed', 1 unless -x '/usr/sbin/bpftool';
    my @left;
    wait_for(sub {
        my %loaded = map { $_ => 1 } `bpftool prog show 2>/dev/null` =~ /^(\d+): /mg;
        @left = grep { $loaded{$_} } sort keys %$progs;
        return !@left;
    }, 5, 0.2);
    ok !@left, 'its BPF programs are unloaded (' . (join(', ', map { "$_ $progs->{$_}" }
                                                     sort keys %$progs) || 'it held none') . ')'
        or diag "still loaded: @left";
}

# --- remove, then purge --------------------------------------------------------------
($rc, $out) = apt('remove', $pkg);
ok $rc == 0, "apt-get remove $pkg" or diag $out;
apache_stop();
ok !-e $so, "removed: $so is gone";
ok !-e "$mods/tcpinspect.$_" && !-l "$mods/tcpinspect.$_", "removed: tcpinspect.$_ is disabled"
    for qw(load conf);
ok -e "$avail/tcpinspect.$_", "removed: the conffile tcpinspect.$_ stays until purge"
    for qw(load conf);
($rc, $out) = configtest();
ok $rc == 0, 'configtest after remove' or diag $out;

($rc, $out) = apt('purge', $pkg);
ok $rc == 0, "apt-get purge -y $pkg" or diag $out;
apache_stop();
$installed = 0;
ok !defined installed_version(), "$pkg is not installed";
($rc, $out) = run(30, 'dpkg-query', '-W', '-f', '${Status}', $pkg);
unlike $out, qr/config-files/, 'no config-files state left';
my @left = grep { -e || -l } $so, glob("$avail/tcpinspect.*"), glob("$mods/tcpinspect.*"),
                               glob("$state_dir/module/*/tcpinspect"),
                               "/usr/share/doc/$pkg";
ok !@left, 'purged: nothing of the module is left' or diag "left: @left";
($rc, $out) = configtest();
ok $rc == 0, 'configtest after purge' or diag $out;

# --- the system apache2 as found --------------------------------------------------------
restore();
ok !system_apache_pids(), 'the system apache2 is stopped';
ok !port80_listening(), 'nothing listens on port 80';
is_deeply apache_state(), $before,
    'the enabled modules and the a2enmod state are as the suite found them';

done_testing();
