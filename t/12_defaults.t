# Without TCPInspectFrontend / TCPInspectBackend the legs come from the
# configuration itself: the frontend is every Listen port on interface
# `any`, the backend every mod_proxy http worker's port (ProxyPass and
# BalancerMember), on `lo` when every such host is a loopback address and
# on `any` otherwise. Each case starts a scratch httpd of its own (the
# module, mod_proxy, a free port), reads status.json and stops it.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP ();
use LWP::UserAgent ();
use Time::HiRes qw(sleep);
use TCPI::Rig qw(rig have_module wait_for);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();

my $modules = `apxs -q LIBEXECDIR 2>/dev/null` || '/usr/lib/apache2/modules';
chomp $modules;
my $jetty = $r->{jetty_port};
my $ua = LWP::UserAgent->new(timeout => 5, keep_alive => 0);

sub free_port {
    for (my $p = 18300; $p < 18500; $p++) {
        return $p unless `ss -Htln 'sport = :$p'` =~ /\S/;
    }
    die "no free port in 18300..18500\n";
}

# Starts httpd on $body, returns status.json (decoded) and stops it.
sub run_case {
    my ($label, $body, @listen) = @_;
    my $dir = tempdir("tcpi-defaults-XXXXXX", TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $dir;
    mkdir "$dir/logs";
    my $mpm = $r->{mpm} || 'event';
    my $listen = join '', map { "Listen 127.0.0.1:$_\n" } @listen;
    my $conf = "$dir/httpd.conf";
    open my $fh, '>', $conf or die "$conf: $!";
    print $fh <<"EOF";
ServerRoot $dir
PidFile $dir/logs/httpd.pid
ErrorLog $dir/logs/error_log
DefaultRuntimeDir $dir/logs
ServerName localhost
User $r->{user}
Group $r->{user}
$listen
LoadModule mpm_${mpm}_module $modules/mod_mpm_$mpm.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule authz_host_module $modules/mod_authz_host.so
LoadModule proxy_module $modules/mod_proxy.so
LoadModule proxy_http_module $modules/mod_proxy_http.so
LoadModule proxy_balancer_module $modules/mod_proxy_balancer.so
LoadModule slotmem_shm_module $modules/mod_slotmem_shm.so
LoadModule lbmethod_byrequests_module $modules/mod_lbmethod_byrequests.so
LoadModule tcpinspect_module $r->{module}
TCPInspectEngine On
TCPInspectRingSize 1M
<Location /tcp-inspect>
    SetHandler tcp-inspect
    Require local
</Location>
$body
EOF
    close $fh;
    my $out = `$r->{httpd} -f $conf -k start 2>&1`;
    is $?, 0, "$label: httpd starts" or diag $out;
    my $json;
    my $ok = wait_for(sub {
        my $res = $ua->get("http://127.0.0.1:$listen[0]/tcp-inspect/status.json");
        return 0 unless $res->code == 200;
        $json = eval { JSON::PP->new->decode($res->content) };
        return $json && $json->{capture}{running};
    }, 10, 0.2);
    ok $ok, "$label: status.json with a running worker" or diag explain $json;
    system $r->{httpd}, '-f', $conf, '-k', 'stop';
    wait_for(sub { !-e "$dir/logs/httpd.pid" }, 10, 0.2);
    open my $el, '<', "$dir/logs/error_log";
    my @crit = grep { /\[(emerg|alert|crit)\]|Segmentation/ } <$el>;
    ok !@crit, "$label: no emerg/alert/crit in the error log" or diag @crit;
    return $json || {};
}

sub ifaces {
    my ($j) = @_;
    return { map { $_->{name} => $_ } @{ $j->{capture}{interfaces} || [] } };
}

# 1. Two Listen ports, a ProxyPass to the loopback Jetty.
my ($p1, $p2) = (free_port());
$p2 = $p1 + 1;
my $j = run_case('loopback backend',
                 "ProxyPass /app http://127.0.0.1:$jetty/app\n", $p1, $p2);
is_deeply [sort { $a <=> $b } @{ $j->{states}{front}{ports} || [] }], [$p1, $p2],
    'front ports are the Listen ports';
is_deeply $j->{states}{backend}{ports}, [$jetty], 'backend port is the ProxyPass port';
my $if = ifaces($j);
ok $if->{any} && $if->{any}{leg} =~ /front/, 'frontend captured on "any"'
    or diag explain $j->{capture}{interfaces};
ok $if->{lo} && $if->{lo}{leg} =~ /backend/, 'a loopback backend host means "lo"'
    or diag explain $j->{capture}{interfaces};
like $if->{any}{filter} // '', qr/\bport $_\b/, "frontend filter names port $_" for $p1, $p2;
like $if->{lo}{filter} // '', qr/\bport $jetty\b/, 'backend filter names the Jetty port';

# 2. A balancer with one loopback member and one that is not: "any".
my $p3 = free_port();
$j = run_case('mixed balancer', <<"EOF", $p3);
<Proxy balancer://jetties>
    BalancerMember http://127.0.0.1:$jetty
    BalancerMember http://$r->{ns_ip}:7002
</Proxy>
ProxyPass /app balancer://jetties/app
EOF
is_deeply [sort { $a <=> $b } @{ $j->{states}{backend}{ports} || [] }],
    [sort { $a <=> $b } ($jetty, 7002)], 'backend ports are both members\' ports';
$if = ifaces($j);
ok !$if->{lo}, 'no lo handle when a member is not on loopback';
ok $if->{any} && $if->{any}{leg} =~ /backend/ && $if->{any}{leg} =~ /front/,
    'front and backend share the "any" handle' or diag explain $j->{capture}{interfaces};

done_testing;
