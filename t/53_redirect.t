# The request log after an internal redirect, through a real httpd: a
# missing page under /tcpi-missing/ has an ErrorDocument proxied to Jetty,
# so mod_proxy runs in the redirected request while log_transaction sees
# the original. The access log's %{tcpinspect-id}n (read from the final
# request) names the id; each request's entry in requests.json must carry
# the final request's status and body bytes -- what mod_log_config's %>s
# and %b print for it (the oracle) -- and the backend connection, and the
# worker must join it to both flows on the wire.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time);
use TCPI::Rig qw(rig have_module http_get wait_for);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();

my $tag = "rd$$" . int(time);
my %code;
for my $i (1 .. 3) {
    my $res = http_get("/tcpi-missing/$tag-$i");
    $code{$i} = $res->code;
    like $res->content, qr{errordoc=1}, "request $i: the ErrorDocument's body comes from Jetty";
}

# mod_log_config's line for each: final status, body bytes, our id.
my %log;
wait_for(sub {
    open my $fh, '<', "$r->{t_logs}/tcpi_access_log" or return 0;
    while (my $l = <$fh>) {
        $log{$1} = { status => $2, bytes => $3, id => $4 }
            if $l =~ m{"GET /tcpi-missing/\Q$tag\E-(\d) [^"]*" (\d+) (\d+|-) \d+ (\S+)$};
    }
    return keys(%log) == 3;
}, 5);
is scalar(keys %log), 3, 'the access log has the three requests';

my $json = JSON::PP->new;
my $list = wait_for(sub {
    my $res = http_get("/tcp-inspect/requests.json?limit=100&uri=/tcpi-missing/$tag");
    return undef unless $res->code == 200;
    my $j = eval { $json->decode($res->content) } or return undef;
    my @e = @{ $j->{requests} || [] };
    return @e == 3 ? \@e : undef;
}, 5, 0.2);
ok $list, 'requests.json has the three requests' or BAIL_OUT('no entries');

for my $e (@$list) {
    my ($n) = ($e->{uri} // '') =~ /-(\d)$/;
    my $l = $log{$n // 0} or do { fail "entry $e->{uri} is not in the access log"; next };
    like $l->{id}, qr/^[\w@-]+$/, "request $n: the access log names its id";
    is $e->{id}, $l->{id}, "request $n: id as in the access log";
    is $l->{status}, $code{$n}, "request $n: %>s is what the client got";
    is $e->{status}, $l->{status}, "request $n: status is the final request's (%>s = $l->{status})";
    is $e->{bytes_sent}, $l->{bytes}, "request $n: body bytes are the final request's (%b = $l->{bytes})";
    cmp_ok $e->{bytes_sent}, '>', 0, "request $n: the redirected request's body was counted";
    like $e->{backend}{remote} // '', qr/^127\.0\.0\.1:$r->{jetty_port}$/,
        "request $n: the backend connection of the redirected request";
}

# The worker joins each one to its flows 0.5 s after log time: the detail
# has wire timings of the backend leg, which only the redirect used.
for my $e (@$list) {
    my $d = wait_for(sub {
        my $res = http_get("/tcp-inspect/requests/$e->{id}.json");
        return undef unless $res->code == 200;
        my $j = eval { $json->decode($res->content) } or return undef;
        return defined $j->{timing}{backend_ttfb_ms} ? $j : undef;
    }, 5, 0.2);
    ok $d, "$e->{uri}: joined, with the backend's time to first byte measured on the wire"
        or diag explain $d;
}

done_testing;
