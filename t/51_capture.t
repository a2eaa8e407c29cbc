# Per-request captures through a real httpd and Jetty: TCPInspectCapture
# expr= rules (a 502 from a backend that closes without answering, the
# namespace client's address, a slow URL) save <id>.pcapng files that
# tshark reads with both legs and the per-packet comments; a directory
# that is not writable or full is reported while serving goes on; and for
# 100+ requests from the namespace and from loopback, fresh and kept-alive,
# pooled and fresh backend connections, /requests/<id>.pcapng holds the
# request's URI on the front leg and on the backend leg (read by tshark).
#
# It runs its own httpd (this MPM, the rig's Jetty and namespace) so that
# the frontend is captured on "any": loopback clients' front flows are on
# lo, the namespace's on the veth.
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
plan skip_all => 'needs root (packet capture, mount)' unless $> == 0;
plan skip_all => 'tshark is not installed (make deps)' unless grep { -x "$_/tshark" } split /:/, $ENV{PATH};
plan skip_all => 'no client namespace (run through t/run.sh)' unless $r->{ns};

my ($jetty, $ns_ip, $host_ip) = @$r{qw(jetty_port ns_ip host_ip)};
my $www = $r->{user};
my $www_uid = (getpwnam($www))[2];
my $ua = LWP::UserAgent->new(timeout => 15, keep_alive => 0);
my $run = sprintf '%x', int(time * 1000) % 0xffffffff;   # unique per run

# --- a scratch httpd -------------------------------------------------------
my $port = free_port(18600, 18800);
my ($dir, $caps);
my $S = scratch_httpd(name => 'capture',
    listen  => ["127.0.0.1:$port", "$host_ip:$port"],
    modules => [qw(unique_id proxy proxy_http)],
    pages   => 1,
    body    => sub {
        ($dir) = @_;
        $caps = "$dir/captures";
        return <<"EOF";
LogFormat "%{tcpinspect-id}n %>s %U%q" capture
CustomLog $dir/logs/access_log capture
KeepAlive On
MaxKeepAliveRequests 0
ProxyPass /app http://127.0.0.1:$jetty/app
ProxyPass /nr/app http://localhost:$jetty/app disablereuse=On
TCPInspectEngine On
TCPInspectFrontend any $port
TCPInspectBackend lo $jetty
TCPInspectRingSize 32M
TCPInspectCaptureDir $caps
TCPInspectCaptureLimit 1000 64M
<Location /app>
    TCPInspectCapture "expr=%{REQUEST_STATUS} == 502 || %{REMOTE_ADDR} == '$ns_ip' || %{note:tcpinspect-duration-ms} -ge 300"
</Location>
EOF
    });

my ($started, $out) = scratch_start($S);
ok $started, 'scratch httpd starts' or diag $out;
END {
    local $?;                  # keep the test's exit status
    scratch_stop($S) if $S;
    system 'umount', $caps if $caps && `findmnt -n $caps 2>/dev/null` =~ /\S/;
}

sub get { $ua->get("http://127.0.0.1:$port$_[0]") }
sub status {
    my $res = get('/tcp-inspect/status.json');
    return $res->code == 200 ? eval { JSON::PP->new->decode($res->content) } : undef;
}
sub trig { my $s = status(); $s ? $s->{capture}{triggered} : undef }

my $st = wait_for(sub {
    my $s = status() or return undef;
    my %if = map { $_->{name} => $_->{status} } @{ $s->{capture}{interfaces} || [] };
    return $s->{capture}{running} && ($if{any} // '') eq 'ok' && ($if{lo} // '') eq 'ok' ? $s : undef;
}, 15, 0.2);
ok $st, 'the worker runs with "any" (front) and "lo" (backend)' or BAIL_OUT('no worker');
my $t = $st->{capture}{triggered};
is $t->{dir}, $caps, 'status.json capture.triggered.dir';
ok $t->{ok}, 'capture.triggered.ok' or diag explain $t;
is $t->{max_files}, 1000, 'capture.triggered.max_files';
is $t->{max_bytes}, 64 << 20, 'capture.triggered.max_bytes';
my @sb = stat $caps;
ok @sb && -d _, 'the parent created the capture directory';
is $sb[4], $www_uid, "it belongs to $www";
is $sb[2] & 07777, 0700, 'mode 0700';

# --- ids from the access log ----------------------------------------------
my %id_of;     # "/path?query" -> [id, status]
my $log_pos = 0;
sub read_log {
    open my $lf, '<', "$dir/logs/access_log" or return;
    seek $lf, $log_pos, 0;
    while (my $l = <$lf>) {
        last unless $l =~ /\n\z/;
        $log_pos += length $l;
        my ($id, $code, $uri) = $l =~ /^(\S+) (\d+) (\S+)$/ or next;
        $id_of{$uri} = [$id, $code];
    }
}
sub id_for {
    my ($uri) = @_;
    return wait_for(sub { read_log(); $id_of{$uri} ? $id_of{$uri}[0] : undef }, 5, 0.05);
}
sub ns_get {
    my ($path) = @_;
    my $o = `ip netns exec $r->{ns} curl -s -m 15 -o /dev/null -w '%{http_code}' http://$host_ip:$port$path`;
    return $o + 0;
}

# tshark's view of a capture file: [interface description, comment, src ip,
# whether the frame contains $needle] per packet, and the interface count.
sub tshark {
    my ($file, $needle) = @_;
    my @rows;
    open my $p, '-|', 'tshark', '-r', $file, '-T', 'fields', '-E', 'separator=|',
        '-e', 'frame.interface_id', '-e', 'frame.interface_description',
        '-e', 'frame.comment', '-e', 'ip.src', '-e', 'ipv6.src',
        '-e', 'frame.interface_name' or die "tshark: $!";
    while (my $l = <$p>) { chomp $l; push @rows, [split /\|/, $l, -1] }
    close $p;
    my $hit = defined $needle ? legs_with($file, $needle) : {};
    my %ifs = map { $_->[0] => 1 } @rows;
    return { rows => \@rows, ifaces => scalar(keys %ifs), hit => $hit };
}

# The legs (interface descriptions) of the packets that contain $needle.
sub legs_with {
    my ($file, $needle) = @_;
    my %hit;
    open my $p, '-|', 'tshark', '-r', $file, '-Y', "frame contains \"$needle\"",
        '-T', 'fields', '-e', 'frame.interface_description' or die "tshark: $!";
    while (my $l = <$p>) { chomp $l; $hit{$l}++ }
    close $p;
    return \%hit;
}

sub saved { "$caps/$_[0].pcapng" }

# One triggered request: its file appears, 0600, owned by the User; tshark
# sees both legs with the comments and the request on both.
sub check_saved {
    my ($what, $uri, $token, %o) = @_;
    my $id = id_for($uri);
    ok $id, "$what: logged with an id" or return;
    my $f = saved($id);
    ok wait_for(sub { -s $f }, 8, 0.1), "$what: $id.pcapng written" or do {
        diag explain trig(); return };
    my @s = stat $f;
    is $s[2] & 07777, 0600, "$what: file mode 0600";
    is $s[4], $www_uid, "$what: file owned by $www";
    my $ts = tshark($f, $token);
    is $ts->{ifaces}, 2, "$what: two interfaces in use (front and backend)";
    my %legs;
    my $bad = 0;
    for my $row (@{ $ts->{rows} }) {
        my ($ifid, $desc, $comment) = @$row;
        $legs{$desc}++;
        $bad++ unless ($comment // '') eq "tcpinspect-id=$id leg=$desc";
    }
    ok $legs{front} && $legs{backend}, "$what: packets on both legs ($legs{front} front, "
        . ($legs{backend} // 0) . ' backend)' or diag explain \%legs;
    is $bad, 0, "$what: every packet's comment names the id and its leg";
    ok $ts->{hit}{front} && $ts->{hit}{backend}, "$what: '$token' on the front and the backend leg"
        or diag explain $ts->{hit};
    if ($o{client}) {
        my @front_src = map { $_->[3] || $_->[4] } grep { $_->[1] eq 'front' } @{ $ts->{rows} };
        ok scalar(grep { $_ eq $o{client} } @front_src), "$what: front leg from $o{client}";
    }
    return $id;
}

# --- triggers ----------------------------------------------------------------
my $res = get("/app/close?t=502-$run");
is $res->code, 502, 'a backend closing without an answer gives 502';
my $id502 = check_saved('502 trigger', "/app/close?t=502-$run", "t=502-$run");

is ns_get("/app/echo?t=ns-$run"), 200, 'namespace client: 200';
check_saved('REMOTE_ADDR trigger', "/app/echo?t=ns-$run", "t=ns-$run", client => $ns_ip);

$res = get("/app/delay?ms=400&t=slow-$run");
is $res->code, 200, 'slow URL: 200';
my $id_slow = check_saved('duration trigger', "/app/delay?ms=400&t=slow-$run", "t=slow-$run");

# No rule matches: a fast request from loopback leaves no file.
$res = get("/app/delay?ms=0&t=fast-$run");
is $res->code, 200, 'fast URL from loopback: 200';
my $id_fast = id_for("/app/delay?ms=0&t=fast-$run");
sleep 2;
ok $id_fast && !-e saved($id_fast), 'no rule matched: no file for the fast loopback request';
$t = trig();
is $t->{written}, 3, 'capture.triggered.written is 3' or diag explain $t;
is $t->{matched}, 3, 'capture.triggered.matched is 3';
is $t->{files}, 3, 'capture.triggered.files is 3';
is $t->{scanned}, 0, 'capture.triggered.scanned is 0: the join selected all three';

# --- the download ----------------------------------------------------------
SKIP: {
    skip 'no 502 capture', 6 unless $id502;
    $res = get("/tcp-inspect/requests/$id502.pcapng");
    is $res->code, 200, 'download of a saved capture: 200';
    like $res->header('Content-Disposition') // '', qr/filename="\Q$id502\E\.pcapng"/,
        'Content-Disposition names the id';
    open my $sf, '<:raw', saved($id502);
    local $/;
    my $bytes = <$sf>;
    ok $res->content eq $bytes, 'it is the saved file, byte for byte';
    $res = get("/tcp-inspect-nodl/requests/$id502.pcapng");
    is $res->code, 403, 'without TCPInspectAllowDownload: 403';
    like $res->content, qr/TCPInspectAllowDownload/, '403 says which directive enables it';
    $res = get("/tcp-inspect/requests/$id_fast.pcapng");
    is $res->code, 200, 'an untriggered request: from the ring';
}
$res = get('/tcp-inspect/requests/NoSuchRequest0.pcapng');
is $res->code, 404, 'unknown id: 404';
like $res->content, qr/not in the recent-request log/, '404 says why';
$res = get('/tcp-inspect/requests/..%2f..%2fetc%2fpasswd.pcapng');
is $res->code, 404, 'an id that is not one: 404';

# --- every request's packets ------------------------------------------------
# 300 requests with unique URIs: half from the namespace, half from
# loopback; one connection per request or five requests per connection;
# pooled (/app) or fresh (/nr/app, disablereuse) backend connections.
my @uris;
my $k = 0;
for my $from (qw(ns lo)) {
    for my $batch (1 .. 4) {                       # 4 x 5 kept-alive
        my @b;
        for (1 .. 5) {
            my $pre = $k % 2 ? '/nr/app' : '/app';
            push @b, "$pre/echo?every=$run-$from-" . $k++;
        }
        push @uris, [$from, @b];
    }
    for (1 .. 130) {                               # 130 fresh connections
        my $pre = $k % 2 ? '/nr/app' : '/app';
        push @uris, [$from, "$pre/echo?every=$run-$from-" . $k++];
    }
}
my $t0 = time;
my $failed = 0;
for my $u (@uris) {
    my ($from, @paths) = @$u;
    my $base = $from eq 'ns' ? "http://$host_ip:$port" : "http://127.0.0.1:$port";
    my @cmd = ('curl', '-s', '-m', '15', '-w', '%{http_code}\n');
    push @cmd, '-o', '/dev/null', "$base$_" for @paths;
    unshift @cmd, 'ip', 'netns', 'exec', $r->{ns} if $from eq 'ns';
    open my $c, '-|', @cmd or die "curl: $!";
    my @codes = <$c>;
    close $c;
    $failed += grep { !/^200$/ } @codes;
    $failed += @paths - @codes;
}
my @all = map { my ($f, @p) = @$_; map { [$f, $_] } @p } @uris;
is $failed, 0, scalar(@all) . ' requests answered 200 (' . sprintf('%.1f', time - $t0) . ' s)';
sleep 1.5;                    # the grace period and the ring's block timeout
my (@no_front, @no_backend, @no_id, @bad_code, @files, %token_of);
for my $a (@all) {
    my ($from, $uri) = @$a;
    my ($token) = $uri =~ /(every=\S+)/;
    my $id = id_for($uri);
    unless ($id) { push @no_id, $uri; next }
    my $f = "$dir/dl-" . scalar(@files) . '.pcapng';
    $res = $ua->get("http://127.0.0.1:$port/tcp-inspect/requests/$id.pcapng", ':content_file' => $f);
    unless ($res->code == 200) { push @bad_code, "$uri: " . $res->code; next }
    push @files, $f;
    $token_of{$id} = [$from, $uri, $token];
}
# One tshark run over all the downloads (mergecap keeps each file's
# interfaces and comments): which leg's packets carry which request's URI.
my %hit;
if (@files && system('mergecap', '-w', "$dir/all.pcapng", @files) == 0) {
    open my $p, '-|', 'tshark', '-r', "$dir/all.pcapng", '-Y', "frame contains \"every=$run-\"",
        '-T', 'fields', '-E', 'separator=|', '-e', 'frame.comment',
        '-e', 'frame.interface_description', '-e', 'tcp.payload' or die "tshark: $!";
    while (my $l = <$p>) {
        chomp $l;
        my ($comment, $leg, $hex) = split /\|/, $l, 3;
        my ($id) = ($comment // '') =~ /tcpinspect-id=(\S+)/ or next;
        my $t = $token_of{$id} or next;
        (my $bytes = pack 'H*', ($hex // '') =~ s/[^0-9a-f]//gr);
        $hit{$id}{$leg}++ if index($bytes, "$t->[2] ") >= 0 || index($bytes, "$t->[2]\r") >= 0;
    }
    close $p;
}
unlink @files, "$dir/all.pcapng";
for my $id (sort keys %token_of) {
    my ($from, $uri) = @{ $token_of{$id} };
    push @no_front, "$from $uri ($id)" unless $hit{$id}{front};
    push @no_backend, "$from $uri ($id)" unless $hit{$id}{backend};
}
is scalar(@no_id), 0, 'every request is in the access log with an id' or diag "@no_id[0..4]";
is scalar(@bad_code), 0, 'every /requests/<id>.pcapng is 200' or diag join "\n", @bad_code[0 .. ($#bad_code < 4 ? $#bad_code : 4)];
is scalar(@no_front), 0, 'every download holds its URI on the front leg (tshark)'
    or diag join "\n", @no_front[0 .. ($#no_front < 9 ? $#no_front : 9)];
is scalar(@no_backend), 0, 'every download holds its URI on the backend leg (tshark)'
    or diag join "\n", @no_backend[0 .. ($#no_backend < 9 ? $#no_backend : 9)];

# --- a directory that is not writable, then full ---------------------------
sub error_log_lines {
    my ($re) = @_;
    open my $el, '<', "$dir/logs/error_log" or return 0;
    return scalar grep { /$re/ } <$el>;
}
my $before = trig();
chmod 0500, $caps;
for my $i (1 .. 2) {
    is get("/app/close?t=ro$i-$run")->code, 502, "unwritable directory: request $i still served (502 as always)";
}
is get("/app/echo?t=ro-ok-$run")->code, 200, 'unwritable directory: a normal request is 200';
$t = wait_for(sub { my $x = trig(); $x && $x->{failed} >= $before->{failed} + 2 ? $x : undef }, 8, 0.2);
ok $t, 'capture.triggered.failed counts both' or diag explain trig();
ok $t && !$t->{ok}, 'capture.triggered.ok is false';
like $t ? $t->{last_error} : '', qr/Permission denied/, 'capture.triggered.last_error says why';
is error_log_lines(qr/TCPI0601.*Permission denied/), 1, 'the error log says it once';
$res = get('/tcp-inspect/');
like $res->content, qr/Not writing: .*Permission denied/, 'the HTML page says why';
chmod 0700, $caps;
is get("/app/close?t=rw-$run")->code, 502, 'writable again: served';
ok wait_for(sub { my $x = trig(); $x && $x->{ok} && $x->{written} > $before->{written} }, 8, 0.2),
    'writable again: written, ok again' or diag explain trig();

# A graceful restart of the scratch httpd; true once the new generation's
# worker runs.
sub restart_scratch {
    my $gen = (status() // {})->{generation} // -1;
    open my $pf, '<', "$dir/logs/httpd.pid" or return 0;
    my $pid = <$pf>;
    chomp $pid;
    kill 'USR1', $pid or return 0;
    return wait_for(sub {
        my $s = status();
        $s && ($s->{generation} // -1) != $gen && $s->{capture}{running};
    }, 15, 0.2);
}

# Full: a 16 KiB tmpfs over the directory. The worker is confined to the
# directory it entered (chroot): a volume mounted over it is its next
# generation's, from a graceful restart on.
system('mount', '-t', 'tmpfs', '-o', "size=16k,mode=0700,uid=$www_uid", 'tcpi-full', $caps) == 0
    or BAIL_OUT('cannot mount a tmpfs');
ok restart_scratch(), 'full directory: graceful restart, the new worker runs';
$before = trig();
is ns_get("/app/big?kb=256&t=full-$run"), 200, 'full directory: the namespace client is served';
is ns_get("/app/big?kb=256&t=full2-$run"), 200, 'full directory: again';
$t = wait_for(sub { my $x = trig(); $x && $x->{failed} >= $before->{failed} + 2 ? $x : undef }, 8, 0.2);
ok $t && !$t->{ok}, 'full directory: capture.triggered.ok is false' or diag explain trig();
like $t ? $t->{last_error} : '', qr/No space left on device/, 'capture.triggered.last_error says the disk is full';
is error_log_lines(qr/TCPI0601.*No space left/), 1, 'the error log says it once';
system 'umount', $caps;
ok restart_scratch(), 'the full volume unmounted: graceful restart';
is ns_get("/app/echo?t=after-$run"), 200, 'after the full directory: served';
ok wait_for(sub { my $x = trig(); $x && $x->{ok} }, 8, 0.2), 'and written again';

# --- stop ---------------------------------------------------------------------
scratch_stop($S);
open my $el, '<', "$dir/logs/error_log";
my @crit = grep { /\[(emerg|alert|crit)\]|Segmentation|exited \(/ } <$el>;
ok !@crit, 'no crash, no worker exit, no emerg/alert/crit in the error log' or diag @crit;

done_testing;
