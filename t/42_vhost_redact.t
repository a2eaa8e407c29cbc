# Redaction cannot be bypassed. TCPInspectRedact is a global directive: the decoded views served through
# a virtual host mask the same headers as the main server's (a vhost's own
# server config is empty and must not fall back to the defaults).
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use LWP::UserAgent ();
use Time::HiRes qw(sleep);
use TCPI::Rig qw(rig have_module http_get wait_for);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
my $vport = eval { Apache::Test::config()->{vhosts}{tcpi_status}{port} }
    or plan skip_all => 'no tcpi_status virtual host';

my $key = "k3y-s3cr3t-$$";
my $ua = LWP::UserAgent->new(timeout => 10, keep_alive => 0);
my $res = $ua->get("http://127.0.0.1:$r->{port}/app/echo?redact=$$",
                   'X-Api-Key' => $key, 'X-Visible' => "v1s1ble-$$");
is $res->code, 200, 'request with X-Api-Key proxied';

# The bytes of each packet's -X block, joined (a header may span lines).
sub payloads {
    my ($text) = @_;
    my (@pk, $cur);
    for my $l (split /\n/, $text) {
        if ($l =~ /^\t0x[0-9a-f]{4}:  ((?:[0-9a-f]{2,4} ?)+)/) {
            (my $hex = $1) =~ s/\s+//g;
            $cur .= pack 'H*', $hex;
        } else {
            push @pk, $cur if defined $cur;
            $cur = '';
        }
    }
    push @pk, $cur if defined $cur;
    return @pk;
}

for my $p (['main server', $r->{port}], ['virtual host', $vport]) {
    my ($name, $port) = @$p;
    my @mine;
    wait_for(sub {
        my $x = $ua->get("http://127.0.0.1:$port/tcp-inspect/packets.txt?x=1&match=v1s1ble-$$");
        return 0 unless $x->code == 200;
        @mine = grep { index($_, "v1s1ble-$$") >= 0 } payloads($x->content);
        return scalar @mine;
    }, 5, 0.2);
    ok @mine, "$name: the request's packet is on /packets.txt?x=1 (an unredacted header shows)";
    ok !grep({ index($_, $key) >= 0 } @mine), "$name: the X-Api-Key value is masked";
    ok scalar(grep { /X-Api-Key: \*+\r\n/ } @mine), "$name: masked with *";
    my $html = $ua->get("http://127.0.0.1:$port/tcp-inspect/packets?x=1&match=v1s1ble-$$")->content;
    ok index($html, "v1s1ble") >= 0 && !grep({ index($_, $key) >= 0 } payloads($html =~ s/<[^>]*>//gr)),
        "$name: masked in the HTML view too";
}

# A BPF filter that indexes into the payload could read a masked value one
# byte per query (filter + limit=1): where downloads are off it sees the
# payload as zeros, so a right guess ('G' of "GET") and a wrong one list
# the same packets (t/43_filter.t probes a real cookie byte by byte).
use URI::Escape qw(uri_escape);
my %seen;
for my $guess ('0x47', '0x48') {
    my $probe = uri_escape("tcp port $r->{jetty_port} and tcp[((tcp[12]&0xf0)>>2)+0:1] = $guess");
    my $res2 = http_get("/tcp-inspect/packets.txt?filter=$probe");
    is $res2->code, 200, "a payload-indexing filter is answered ($guess)";
    $seen{$guess} = $res2->content;
}
is $seen{'0x47'}, $seen{'0x48'}, 'the right and the wrong guess list the same packets';
is $seen{'0x47'}, '', 'none: the payload reads as zeros';
is http_get('/tcp-inspect/packets.txt?filter=' . uri_escape('tcp[tcpflags] & tcp-syn != 0'))->code,
    200, 'header fields by name still work';
is http_get('/tcp-inspect/packets.txt?filter=' . uri_escape('tcp[13] = 2'))->code,
    200, 'constant offsets in the fixed header still work';

done_testing;
