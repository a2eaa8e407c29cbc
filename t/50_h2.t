# HTTP/2: requests multiplexed on one client connection (mod_http2's
# secondary connections) carry the real client connection's tuple (the
# master's socket), count its requests, and are joined to its packets;
# the cookie and authorization values in its header blocks (HPACK
# literals, raw and Huffman-coded) never show in a decoded view or match=.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time);
use TCPI::Rig qw(rig have_module http_get wait_for);
use URI::Escape qw(uri_escape);

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

# --- redaction of HTTP/2 header blocks ---------------------------------------
# Values of rare characters are sent as raw literals (their Huffman code is
# longer); word-like ones Huffman-coded. Either way no view may show them.
{
    my $raw = '~|~^`{}~|~^`{}' . $$;
    my $huff = "sesame$$" . 'abcdefgh';
    my @cmd = ('ip', 'netns', 'exec', $r->{ns}, 'curl', '-sS', '-m', '10',
               '--http2-prior-knowledge', '-o', '/dev/null',
               '-w', '%{http_version} %{local_port}',
               '-H', "Cookie: SID=$raw", '-H', "Authorization: Bearer $huff",
               "http://$r->{host_ip}:$r->{port}/app/echo?h2redact=$run");
    my $out = `@{[ join ' ', map { "'$_'" } @cmd ]}`;
    my ($ver, $lport) = split ' ', $out // '';
    is $ver, '2', 'curl spoke HTTP/2 (h2c, prior knowledge)';
    SKIP: {
        skip 'no HTTP/2 request', 6 unless $ver && $ver eq '2' && $lport;
        my $filter = uri_escape("tcp port $lport");
        my $text = wait_for(sub {
            my $res = http_get("/tcp-inspect/packets.txt?x=1&filter=$filter");
            return $res->code == 200 && $res->content =~ /length [1-9]/ ? $res->content : undef;
        }, 5, 0.2) // '';
        ok $text, 'the connection\'s packets are on /packets.txt?x=1';
        my $bytes = join '', map { my $h = $_; $h =~ s/\s+//g; pack 'H*', $h }
                    $text =~ /^\t0x[0-9a-f]{4}:  ((?:[0-9a-f]{2,4} ?)+)/mg;
        cmp_ok length($bytes), '>', 200, 'and their bytes are dumped';
        ok index($bytes, $raw) < 0, 'the raw cookie literal is not in the dump';
        ok index($bytes, $huff) < 0, 'nor the authorization value';
        my $html = http_get("/tcp-inspect/packets?x=1&filter=$filter")->content;
        ok index($html, $raw) < 0 && index($html, uri_escape($raw)) < 0, 'nor on the HTML view';
        for my $needle ($raw, $huff) {
            my $m = http_get("/tcp-inspect/packets.txt?filter=$filter&match=" . uri_escape($needle));
            is $m->content, '', "match= finds no packet for a secret ($needle)";
        }
    }
}

done_testing;
