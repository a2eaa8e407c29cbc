# httpd reverse-proxies to Jetty, from loopback and from the client
# namespace over the veth; the module's status.json is valid JSON.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use TCPI::Rig qw(rig have_module http_get ns_curl status_json);


my $r = rig();
diag "httpd :$r->{port} ($r->{mpm}), namespace $r->{ns} via $r->{front_if}, "
   . "Jetty :$r->{jetty_port}, module " . ($r->{module} || 'not built');

# --- from loopback ---------------------------------------------------------
my $res = http_get('/app/echo?x=1&y=two');
is $res->code, 200, 'lo: GET /app/echo is 200';
like $res->content, qr/^method=GET$/m, 'lo: echo saw the method';
like $res->content, qr{^uri=/app/echo\?x=1&y=two$}m, 'lo: echo saw the URI and query';

$res = http_get('/static/hello.txt');
is $res->code, 200, 'lo: GET /static/hello.txt is 200';
is $res->content, "hello from jetty\n", 'lo: static body from Jetty';

$res = http_get('/app/echo', method => 'POST', content => 'x' x 1000);
is $res->code, 200, 'lo: POST /app/echo is 200';
like $res->content, qr/^body_bytes=1000$/m, 'lo: the request body went through';

$res = http_get('/app/big?kb=256');
is $res->code, 200, 'lo: GET /app/big?kb=256 is 200';
is length($res->content), 256 * 1024, 'lo: 256 KiB body';

$res = http_get('/app/close');
is $res->code, 502, 'lo: backend closing without a response gives 502';

$res = http_get('/app/delay?ms=300');
is $res->code, 200, 'lo: GET /app/delay?ms=300 is 200';

# --- from the client namespace, over the veth -------------------------------
SKIP: {
    skip 'no client namespace (run through t/run.sh)', 5 unless $r->{ns};
    my ($code, $body) = ns_curl('/app/echo?from=ns');
    is $code, 200, "$r->{ns}: GET /app/echo is 200";
    like $body, qr{^uri=/app/echo\?from=ns$}m, "$r->{ns}: echo saw the URI";
    ($code, $body) = ns_curl('/static/hello.txt');
    is $code, 200, "$r->{ns}: GET /static/hello.txt is 200";
    is $body, "hello from jetty\n", "$r->{ns}: static body";
    ($code, $body) = ns_curl('/app/close');
    is $code, 502, "$r->{ns}: /app/close gives 502";
}

# --- the module's status.json ------------------------------------------------
SKIP: {
    skip 'mod_tcpinspect.so not built', 6 unless have_module();
    my $s = status_json();
    ok $s, 'status.json is valid JSON' or diag $@;
    is ref($s), 'HASH', 'status.json is an object';
    ok defined $s->{generation}, 'status.json has generation';
    is ref($s->{capture}), 'HASH', 'status.json has capture';
    is ref($s->{capture}{interfaces}), 'ARRAY', 'capture.interfaces is an array';
    SKIP: {
        skip 'no client namespace', 1 unless $r->{ns};
        my ($code, $body) = ns_curl('/tcp-inspect/status.json');
        ok $code == 200 && eval { JSON::PP->new->decode($body); 1 },
            "$r->{ns}: status.json reachable and valid";
    }
}

done_testing;
