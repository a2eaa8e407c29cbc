# The overview page and status.json carry the newest requests (PRODUCT.md:
# "recent requests"), tied to the access log by %{tcpinspect-id}n, and the
# overview links every page of the handler; each link answers.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use TCPI::Rig qw(rig have_module http_get status_json wait_for);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();

# A few proxied requests with a recognisable URI; the last one is newest.
my $tag = "ov$$" . time;
for my $i (1 .. 3) {
    is http_get("/app/echo?$tag=$i")->code, 200, "request $i proxied";
}

# The access log names each request's id (written at log time).
my %id_of;
wait_for(sub {
    open my $fh, '<', "$r->{t_logs}/tcpi_access_log" or return 0;
    while (my $l = <$fh>) {
        $id_of{$1} = $2 if $l =~ m{"GET /app/echo\?\Q$tag\E=(\d) [^"]*" .* (\S+)$};
    }
    return keys(%id_of) == 3;
}, 5);
is scalar(keys %id_of), 3, 'the access log names the three ids';

my $s = status_json();
ok $s && ref $s->{recent_requests} eq 'ARRAY', 'status.json has recent_requests'
    or diag explain $s;
my @mine = grep { ($_->{uri} // '') =~ /\Q$tag\E=/ } @{ $s->{recent_requests} || [] };
is scalar(@mine), 3, 'the three requests are among them';
is_deeply [map { $_->{uri} } @mine], [map { "/app/echo?$tag=$_" } 3, 2, 1],
    'newest first';
for my $e (@mine) {
    my ($n) = $e->{uri} =~ /=(\d)$/;
    is $e->{id}, $id_of{$n}, "request $n: id as in the access log";
    is $e->{status}, 200, "request $n: status";
    like $e->{backend}{remote} // '', qr/^127\.0\.0\.1:$r->{jetty_port}$/,
        "request $n: backend tuple";
}

my $res = http_get('/tcp-inspect/');
is $res->code, 200, 'overview';
my $html = $res->content;
like $html, qr/<h2>Recent requests<\/h2>/, 'overview has a recent requests section';
for my $n (1 .. 3) {
    my $id = $id_of{$n} // 'none';
    like $html, qr{href="/tcp-inspect/requests/\Q$id\E"}, "overview links request $n";
}
my @links = $html =~ m{<nav>(.*?)</nav>}s ? ($1 =~ m{href="([^"]+)"}g) : ();
cmp_ok scalar(@links), '>=', 7, 'the overview links the other pages';
for my $l (@links) {
    $l =~ s/&amp;/&/g;
    my $c = http_get($l)->code;
    ok $c == 200 || ($c == 403 && $l =~ /capture/), "$l answers ($c)";
}
like $html, qr{href="/tcp-inspect/packets"}, 'links /packets';
like $html, qr{href="/tcp-inspect/requests"}, 'links /requests';

# Every HTML view that shows what clients sent forbids scripts; a 400 that
# quotes a query value is plain text the browser must not sniff.
for my $p ('/tcp-inspect/', '/tcp-inspect/requests', '/tcp-inspect/flows',
           '/tcp-inspect/packets') {
    like http_get($p)->header('Content-Security-Policy') // '', qr/default-src 'none'/,
        "$p sends a Content-Security-Policy";
}
my $bad = http_get('/tcp-inspect/requests?limit=<b>x</b>');
is $bad->code, 400, 'a bad limit is a 400';
like $bad->header('Content-Type') // '', qr{^text/plain}, '... in plain text';
is $bad->header('X-Content-Type-Options'), 'nosniff', '... not to be sniffed';

# The query as the route table reads it: a parameter given twice, a %00
# that would cut a value short of what was sent, a broken escape, an
# unknown name: each a 400 naming what is wrong; a %2F is a '/'.
for (['/tcp-inspect/requests?limit=5&limit=6', qr/limit is given more than once/],
     ['/tcp-inspect/packets.txt?filter=tcp%00+or+udp', qr/%00/],
     ['/tcp-inspect/requests?uri=%zz', qr/bad %-escape/],
     ['/tcp-inspect/flows?bogus=1', qr/unknown query parameter/]) {
    my ($q, $why) = @$_;
    my $res = http_get($q);
    is $res->code, 400, "$q: 400";
    like $res->content, $why, "$q: says why";
}
is http_get('/tcp-inspect/requests.json?uri=%2Fapp%2F')->code, 200, 'uri=%2Fapp%2F is /app/';

done_testing;
