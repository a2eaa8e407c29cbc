# HTTP/2: requests multiplexed on one client connection (mod_http2's
# secondary connections) carry the real client connection's tuple (the
# master's socket), count its requests, and are joined to its packets.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time);
use TCPI::Rig qw(rig have_module http_get wait_for);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'no client namespace (run through t/run.sh)' unless $r->{ns};
plan skip_all => 'mod_http2 does not serve HTTP/2 under prefork' if $r->{mpm} eq 'prefork';

my $json = JSON::PP->new;
my $run = sprintf 'r50h2-%s-%d-%d', $r->{mpm}, $$, int(time);
my @paths = map { "/app/echo?u=$run-$_" } 1 .. 6;

plan skip_all => 'nghttp not installed (make deps)'
    unless grep { -x "$_/nghttp" } split /:/, $ENV{PATH};
# nghttp multiplexes all the streams on one connection (h2c with prior
# knowledge); -s prints one line per stream with its status.
open my $fh, '-|', 'ip', 'netns', 'exec', $r->{ns}, 'nghttp', '-n', '-s', '-t', '20',
    map({ "http://$r->{host_ip}:$r->{port}$_" } @paths)
    or die "nghttp: $!";
my @codes = map { /^\s*\d+\s+\S+\s+\S+\s+\S+\s+(\d{3})\s/ ? $1 : () } <$fh>;
close $fh;
plan skip_all => 'mod_http2 did not answer with HTTP/2' unless @codes;

is scalar(grep { $_ eq '200' } @codes), scalar(@paths), 'every stream is 200';

my %by_uri;
my $all = wait_for(sub {
    my $res = http_get("/tcp-inspect/requests.json?uri=/app/echo%3Fu=$run-");
    return undef unless $res->code == 200;
    my $j = eval { $json->decode($res->content) } or return undef;
    %by_uri = map { $_->{uri} => $_ } @{ $j->{requests} };
    return (grep { !$by_uri{$_} || !$by_uri{$_}{joined} } @paths) ? undef : 1;
}, 10, 0.3);
ok $all, 'every request is listed and joined';

my @e = grep { defined } map { $by_uri{$_} } @paths;
is scalar(@e), scalar(@paths), 'all streams are in requests.json';
my ($client) = map { $_->{front}{client} } @e;
like $client // '', qr/^\Q$r->{ns_ip}\E:\d+$/, "front.client is the namespace client ($client)";
is_deeply [map { $_->{front}{client} } @e], [($client) x @e],
    'the same TCP connection for every stream (the master\'s socket)';
my ($cport) = ($client // '') =~ /:(\d+)$/;
ok defined $cport && $cport != $r->{port}, 'a client port, not a stream\'s';
is_deeply [sort map { $_->{front}{server} } @e], [("$r->{host_ip}:$r->{port}") x @e],
    'front.server is httpd\'s socket';
is_deeply [sort { $a <=> $b } map { $_->{front}{requests_before} } @e], [0 .. $#e],
    'the connection\'s requests are counted on the master connection';
is scalar(grep { $_->{front}{found} } @e), scalar(@e), 'the frontend flow was found for each';
is scalar(grep { $_->{backend}{found} && defined $_->{timing}{backend_ttfb_ms} } @e), scalar(@e),
    'each has its backend leg and TTFB';

done_testing;
