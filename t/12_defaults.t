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
use JSON::PP ();
use LWP::UserAgent ();
use Time::HiRes qw(sleep);
use TCPI::Rig qw(rig have_module wait_for free_port scratch_httpd scratch_start
                 scratch_stop);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();

my $jetty = $r->{jetty_port};
my $ua = LWP::UserAgent->new(timeout => 5, keep_alive => 0);


# Starts httpd on $body, returns status.json (decoded) and stops it.
sub run_case {
    my ($label, $body, @listen) = @_;
    my $S = scratch_httpd(name => 'defaults',
        listen  => [map { "127.0.0.1:$_" } @listen],
        modules => [qw(proxy proxy_http proxy_balancer slotmem_shm
                       lbmethod_byrequests)],
        body    => <<"EOF");
TCPInspectEngine On
TCPInspectRingSize 1M
<Location /tcp-inspect>
    SetHandler tcp-inspect
    Require local
</Location>
$body
EOF
    my ($started, $out) = scratch_start($S);
    ok $started, "$label: httpd starts" or diag $out;
    my $json;
    my $ok = wait_for(sub {
        my $res = $ua->get("http://127.0.0.1:$listen[0]/tcp-inspect/status.json");
        return 0 unless $res->code == 200;
        $json = eval { JSON::PP->new->decode($res->content) };
        return $json && $json->{capture}{running};
    }, 10, 0.2);
    ok $ok, "$label: status.json with a running worker" or diag explain $json;
    scratch_stop($S);
    open my $el, '<', "$S->{logs}/error_log";
    my @crit = grep { /\[(emerg|alert|crit)\]|Segmentation/ } <$el>;
    ok !@crit, "$label: no emerg/alert/crit in the error log" or diag @crit;
    return $json || {};
}

sub ifaces {
    my ($j) = @_;
    return { map { $_->{name} => $_ } @{ $j->{capture}{interfaces} || [] } };
}

# 1. Two Listen ports, a ProxyPass to the loopback Jetty.
my ($p1, $p2) = (free_port(18300, 18500), free_port(18300, 18500));
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
my $p3 = free_port(18300, 18500);
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
