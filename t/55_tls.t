# An HTTPS front end through Debian's own mod_ssl (a certificate made here
# with openssl) in front of the rig's Jetty: each request's TLS facts in
# requests.json match what curl negotiated and what mod_ssl logs
# (%{SSL_PROTOCOL}x ...), for TLS 1.3, TLS 1.2, a resumed session and
# HTTP/2; with TCPInspectTLSKeys On the pcapng of every request (its
# /requests/<id>.pcapng, whether a TCPInspectCapture rule saved it or not,
# and the file a rule saved, e.g. a 502) carries the connection's secrets
# in a Decryption Secrets Block, so tshark decrypts the request and its
# status with no key file (and, with the block taken out, does not), while
# a host with it Off keeps none, from loopback and from the namespace;
# /capture.pcapng carries them too; /packets names the TLS records in
# clear; mod_ssl's own
# SSLKEYLOGFILE is still written; no secret of it shows on any page or in
# the error log; the download is refused where TCPInspectAllowDownload is
# Off; a kept-alive connection whose handshake the ring overwrote still
# decrypts from the handshake store.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use TCPI::Rig qw(rig have_module wait_for free_port scratch_httpd scratch_start
                 scratch_stop);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();
plan skip_all => 'needs root (packet capture)' unless $> == 0;
for my $tool (qw(tshark editcap openssl curl)) {
    plan skip_all => "$tool is not installed (make deps)"
        unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}
my $modules = `apxs -q LIBEXECDIR 2>/dev/null` || '/usr/lib/apache2/modules';
chomp $modules;
plan skip_all => 'mod_ssl is not installed' unless -e "$modules/mod_ssl.so";
plan skip_all => 'no client namespace (run through t/run.sh)' unless $r->{ns};

my ($jetty, $host_ip, $ns) = @$r{qw(jetty_port host_ip ns)};
my $mpm = $r->{mpm} || 'event';
my $h2 = $mpm ne 'prefork' && -e "$modules/mod_http2.so";  # h2 refuses prefork
my $run = sprintf '%x', int(time * 1000) % 0xffffffff;
my $json = JSON::PP->new;

# --- a scratch httpd with mod_ssl ------------------------------------------
my $port = free_port(18400, 18600);
my $vport = free_port($port + 1, 18600);    # two name-based TLS hosts
my $bport = free_port($vport + 1, 18600);   # a TLS backend (SSLProxyEngine)
my ($dir, $caps, $keylog);
my $S = scratch_httpd(name => 'tls',
    listen  => ["127.0.0.1:$port", "$host_ip:$port", "127.0.0.1:$vport",
                "127.0.0.1:$bport"],
    modules => [qw(unique_id proxy proxy_http socache_shmcb ssl),
                ($h2 ? 'http2' : ())],
    pages   => 1,
    body    => sub {
        ($dir) = @_;
        $caps = "$dir/captures";
        $keylog = "$dir/logs/sslkeylog.txt";
        mkdir "$dir/tls";
        system('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt',
               'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj',
               '/CN=localhost', '-addext',
               "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:$host_ip",
               '-keyout', "$dir/tls/key.pem", '-out', "$dir/tls/cert.pem") == 0
            or die "openssl req failed\n";
        my $protocols = $h2 ? 'Protocols h2 http/1.1' : '';
        return <<"EOF";
LogFormat "%{tcpinspect-id}n %{SSL_PROTOCOL}x %{SSL_CIPHER}x %{SSL_SESSION_RESUMED}x %>s %U%q" tls
CustomLog $dir/logs/access_log tls
SSLSessionCache shmcb:$dir/logs/ssl_scache(512000)
SSLEngine on
SSLProtocol -all +TLSv1.2 +TLSv1.3
SSLCertificateFile $dir/tls/cert.pem
SSLCertificateKeyFile $dir/tls/key.pem
$protocols
KeepAlive On
ProxyPass /app http://127.0.0.1:$jetty/app
ProxyPass /plain http://127.0.0.1:$jetty/app
TCPInspectEngine On
TCPInspectFrontend any $port $vport
TCPInspectBackend lo $jetty $bport
TCPInspectRingSize 32M
TCPInspectCaptureDir $caps
TCPInspectTLSKeys On
<Location /app>
    TCPInspectCapture On
</Location>
<Location /app/close>
    TCPInspectCapture "expr=%{REQUEST_STATUS} == 502"
</Location>
# mod_proxy speaking TLS to a backend (this httpd's own TLS host on
# \$bport, in front of Jetty).
SSLProxyEngine on
SSLProxyVerify none
SSLProxyCheckPeerName off
SSLProxyCheckPeerCN off
ProxyPass /tlsback https://127.0.0.1:$bport/app disablereuse=On
# (another worker: one URL is one worker, and the first one's
# disablereuse would apply)
ProxyPass /tlspool https://127.0.0.1:$bport/pool
<Location /tlsback>
    TCPInspectCapture On
</Location>
<Location /tlspool>
    TCPInspectCapture On
</Location>
<VirtualHost 127.0.0.1:$bport>
    ServerName backend.test
    SSLEngine on
    SSLCertificateFile $dir/tls/cert.pem
    SSLCertificateKeyFile $dir/tls/key.pem
    ProxyPass /app http://127.0.0.1:$jetty/app
    ProxyPass /pool http://127.0.0.1:$jetty/app
    # its own side of those connections saves nothing: what decrypts
    # them is what the proxy kept
    <Location />
        TCPInspectCapture Off
    </Location>
</VirtualHost>
# The host the client names (SNI) decides whether its secrets are kept.
<VirtualHost 127.0.0.1:$vport>
    ServerName keys.test
    SSLEngine on
    SSLCertificateFile $dir/tls/cert.pem
    SSLCertificateKeyFile $dir/tls/key.pem
    TCPInspectTLSKeys On
    ProxyPass /app http://127.0.0.1:$jetty/app
</VirtualHost>
<VirtualHost 127.0.0.1:$vport>
    ServerName nokeys.test
    SSLEngine on
    SSLCertificateFile $dir/tls/cert.pem
    SSLCertificateKeyFile $dir/tls/key.pem
    TCPInspectTLSKeys Off
    ProxyPass /app http://127.0.0.1:$jetty/app
</VirtualHost>
EOF
    });

# mod_ssl's own key log (SSLKEYLOGFILE, read by mod_ssl at startup).
my ($started, $out);
{
    local $ENV{SSLKEYLOGFILE} = $keylog;
    ($started, $out) = scratch_start($S);
}
ok $started, "scratch httpd ($mpm) with mod_ssl starts" or BAIL_OUT($out);

my $base = "https://127.0.0.1:$port";

# A command's standard output, its arguments quoted for the shell.
sub run_out {
    my $cmd = join ' ', map { my $a = $_; $a =~ s/'/'\\''/g; "'$a'" } @_;
    return scalar `$cmd 2>/dev/null`;
}

# curl over TLS, the body dropped: (status, what curl -v said of the
# connection). From the namespace when the URL names the host's veth
# address.
sub tls_curl {
    my ($url, @opt) = @_;
    my @ns = $url =~ /\Q$host_ip\E/ ? ('ip', 'netns', 'exec', $ns) : ();
    my $err = "$dir/curl.err";
    my $code = run_out(@ns, 'curl', '-sSk', '-v', '-m', '15', '--stderr', $err,
                       '-o', '/dev/null', '-w', '%{http_code}\n', @opt, $url);
    open my $fh, '<', $err or return (0, '');
    local $/;
    my $v = <$fh> // '';
    my ($first) = ($code // '') =~ /^(\d{3})/;
    return (($first // 0) + 0, $v);
}
# A page's body over TLS (HTTP/1.1).
sub body_of { return run_out('curl', '-sk', '-m', '15', '--http1.1', "$base$_[0]") // '' }
sub get_json {
    my $b = body_of($_[0]);
    return length $b ? eval { $json->decode($b) } : undef;
}
sub get_raw {
    my ($path, $file) = @_;
    return (run_out('curl', '-sk', '-m', '15', '--http1.1', '-o', $file, '-w',
                    '%{http_code}', "$base$path") // 0) + 0;
}

ok wait_for(sub { my $s = get_json('/tcp-inspect/status.json');
                  $s && $s->{capture}{running} }, 15, 0.2),
    'the capture worker runs' or BAIL_OUT('no worker');

# The access log: id => [protocol, cipher, resumed, status, uri].
sub access_log {
    open my $fh, '<', "$dir/logs/access_log" or return {};
    my %by;
    while (<$fh>) {
        chomp;
        my ($id, $proto, $cipher, $resumed, $status, $uri) = split / /, $_, 6;
        $by{$uri} = { id => $id, protocol => $proto, cipher => $cipher,
                      resumed => $resumed, status => $status };
    }
    return \%by;
}
sub record_for {
    my ($uri) = @_;
    my $log = access_log()->{$uri} or return;
    my $rec;
    wait_for(sub {
        my $j = get_json("/tcp-inspect/requests/$log->{id}.json") or return 0;
        $rec = $j;
        return $j->{joined};
    }, 10, 0.2);
    return ($rec, $log);
}

# tshark over a per-request pcapng, no key file: the decrypted requests'
# URIs (HTTP/1.1 and HTTP/2) and response codes.
sub decrypted {
    my ($file, $ring) = @_;
    my @f = ('-e', 'http.request.uri', '-e', 'http.response.code');
    push @f, '-e', 'http2.headers.path', '-e', 'http2.headers.status' if $h2;
    # The front leg only: the backend's HTTP is plain text anyway.
    # (the ring's file names its interfaces by leg: "frontend", "backend")
    my $leg = $ring ? 'contains "frontend"' : '== "front"';
    my $out = run_out('tshark', '-r', $file, '-d', "tcp.port==$port,tls",
                      '-d', "tcp.port==$vport,tls", '-Y',
                      qq{frame.interface_description $leg && (http || http2)},
                      '-T', 'fields', '-E', 'separator=|',
                      @f) // '';
    my (%uri, %code);
    for (split /\n/, $out) {
        my ($u, $c, $p, $s) = split /\|/;
        for my $x ($u, $p) { $uri{$_} = 1 for grep { length } split /,/, $x // '' }
        for my $x ($c, $s) { $code{$_} = 1 for grep { length } split /,/, $x // '' }
    }
    return { uri => \%uri, code => \%code };
}

# The same for the backend leg (mod_proxy's TLS connection to $bport).
sub backend_decrypted {
    my ($file) = @_;
    my $out = run_out('tshark', '-r', $file, '-d', "tcp.port==$bport,tls", '-Y',
                      'frame.interface_description == "backend" && http',
                      '-T', 'fields', '-E', 'separator=|', '-e', 'http.request.uri',
                      '-e', 'http.response.code') // '';
    my (%uri, %code);
    for (split /\n/, $out) {
        my ($u, $c) = split /\|/;
        $uri{$u} = 1 if length($u // '');
        $code{$c} = 1 if length($c // '');
    }
    return { uri => \%uri, code => \%code };
}

sub check_capture {
    my ($what, $id, $uri, $status) = @_;
    my $f = "$dir/$id.pcapng";
    is get_raw("/tcp-inspect/requests/$id.pcapng", $f), 200,
        "$what: /requests/<id>.pcapng";
    my $d = decrypted($f);
    ok $d->{uri}{$uri}, "$what: tshark decrypts the request ($uri) with no key file"
        or diag(explain($d), `tshark -r '$f' -d tcp.port==$port,tls 2>&1 | head -40`),
           system('cp', $f, "/tmp/t55-$id.pcapng");
    ok $d->{code}{$status}, "$what: ... and its status $status" or diag explain $d;
    my $stripped = "$dir/$id.nosecrets.pcapng";
    system('editcap', '--discard-all-secrets', $f, $stripped) == 0
        or BAIL_OUT('editcap --discard-all-secrets failed');
    my $n = decrypted($stripped);
    ok !%{ $n->{uri} }, "$what: without its secrets block it stays encrypted"
        or diag explain $n;
    return $f;
}

sub check_facts {
    my ($what, $rec, $log, $curl, %want) = @_;
    my $tls = $rec->{front}{tls};
    ok $tls, "$what: front.tls is set" or return;
    is $tls->{protocol}, $log->{protocol}, "$what: protocol is mod_ssl's ($log->{protocol})";
    is $tls->{cipher}, $log->{cipher}, "$what: cipher is mod_ssl's ($log->{cipher})";
    is $tls->{resumed} ? 'Resumed' : 'Initial', $log->{resumed},
        "$what: resumed as mod_ssl logs it ($log->{resumed})";
    if (defined $curl) {
        my ($cv, $cc) = $curl =~ /SSL connection using (\S+) \/ (\S+)/;
        is $tls->{protocol}, $cv, "$what: protocol is what curl negotiated";
        is $tls->{cipher}, $cc, "$what: cipher is what curl negotiated";
        my ($alpn) = $curl =~ /ALPN: server accepted (\S+)/;
        is $tls->{alpn}, $alpn, "$what: ALPN is what curl was given (" . ($alpn // 'none') . ')';
    }
    is $tls->{protocol}, $want{protocol}, "$what: $want{protocol}" if $want{protocol};
    like $tls->{client_random} // '', qr/^[0-9a-f]{64}\z/, "$what: client_random";
    ok $tls->{keys_kept}, "$what: the secrets were kept";
    return $tls;
}

# tshark's times for one front connection of a decrypted per-request
# capture (the client's port names it): its ClientHello, its Finished,
# each request (by URI) and the response to it, in epoch seconds.
sub wire_frames {
    my ($file, $client_port) = @_;
    my $out = run_out('tshark', '-r', $file, '-d', "tcp.port==$port,tls", '-Y',
        qq{frame.interface_description == "front" && tcp.port == $client_port && tls},
        '-T', 'fields', '-E', 'separator=|', '-e', 'frame.time_epoch',
        '-e', 'tcp.srcport', '-e', 'tls.handshake.type', '-e', 'http.request.uri',
        '-e', 'http.response_for.uri') // '';
    my %w = (request => {}, response => {});
    for (split /\n/, $out) {
        my ($t, $src, $hs, $uri, $for) = split /\|/;
        my $client = $src == $client_port;
        my %types = map { $_ => 1 } split /,/, $hs // '';
        $w{hello} //= $t if $client && $types{1};
        $w{finished} //= $t if $client && $types{20};
        $w{request}{$uri} //= $t if $client && length($uri // '');
        if (!$client && length($for // '')) {
            (my $u = $for) =~ s{^https?://[^/]+}{};
            $w{response}{$u} //= $t;
        }
    }
    return \%w;
}

# A request's wire points against tshark's frames, to the microsecond
# (the points are in ms with 3 decimals, from the request's start_us).
# A record's time point (its _ms from start_us) is tshark's frame time.
sub check_point {
    my ($what, $rec, $name, $point, $frame) = @_;
    my $ms = $rec && $rec->{points}{"${point}_ms"};
    my $p = defined $ms ? $rec->{start_us} / 1e6 + $ms / 1e3 : undef;
    ok defined $p && defined $frame && abs($p - $frame) < 2e-6,
        "$what: $name is tshark's frame" or
        diag sprintf "%s: point %s, frame %s", $point, $p // 'null', $frame // 'none';
}

# The backend leg of a per-request pcapng (plain HTTP to Jetty): the
# frame times of each request mod_proxy sent and of the first frame of
# its response (headers, the body not reassembled), by URI.
sub backend_frames {
    my ($file) = @_;
    my $out = run_out('tshark', '-r', $file, '-o', 'http.desegment_body:FALSE', '-Y',
        'frame.interface_description == "backend" && http', '-T', 'fields',
        '-E', 'separator=|', '-e', 'frame.time_epoch', '-e', 'http.request.uri',
        '-e', 'http.response_for.uri') // '';
    my %w = (request => {}, response => {});
    for (split /\n/, $out) {
        my ($t, $uri, $for) = split /\|/;
        $w{request}{$uri} //= $t if length($uri // '');
        if (length($for // '')) {
            (my $u = $for) =~ s{^https?://[^/]+}{};
            $w{response}{$u} //= $t;
        }
    }
    return \%w;
}

sub check_wire {
    my ($what, $rec, $w, $uri, %o) = @_;
    $rec && $rec->{points} or return fail("$what: no points");
    my $near = sub { check_point($what, $rec, @_) };
    if ($o{fresh}) {
        $near->('the ClientHello', 'tls_hello', $w->{hello});
        $near->("the client's Finished", 'tls_done', $w->{finished});
        my $hs = $rec->{timing}{tls_handshake_ms};
        ok defined $hs && defined $w->{hello} && defined $w->{finished} &&
           abs($hs - 1000 * ($w->{finished} - $w->{hello})) < 0.002,
           "$what: tls_handshake_ms is tshark's ClientHello to Finished"
            or diag "tls_handshake_ms ", $hs // 'null';
    } else {
        ok !defined $rec->{timing}{tls_handshake_ms},
            "$what: no handshake of its own on a kept-alive connection";
    }
    return if $o{h2};
    $near->('the first request byte', 'req_first', $w->{request}{$uri});
    $near->('the first response byte', 'resp_first', $w->{response}{$uri});
}

my @randoms;

# 1. TLS 1.3 over HTTP/1.1, from the namespace (the veth front).
{
    my $uri = "/app/echo?tls13=$run";
    my ($code, $curl) = tls_curl("https://$host_ip:$port$uri", '--http1.1', '--tlsv1.3');
    is $code, 200, 'TLS 1.3: proxied';
    my ($rec, $log) = record_for($uri);
    my $tls = check_facts('TLS 1.3', $rec, $log, $curl, protocol => 'TLSv1.3');
    push @randoms, $tls->{client_random} if $tls;
    # The server's handshake flight before the request is not a previous
    # response: the connection opened for this request, from its SYN.
    ok $rec && $rec->{front}{opened}, 'TLS 1.3: the front connection opened for it';
    ok $rec && defined $rec->{timing}{front_handshake_ms}, 'TLS 1.3: front_handshake_ms'
        or diag explain $rec && $rec->{timing};
    my $page = $log ? body_of("/tcp-inspect/requests/$log->{id}") : '';
    like $page, qr{<svg[^>]*>.*<text x="4" y="\d+">TLS handshake</text>}s,
        'TLS 1.3: the request page\'s waterfall has the TLS handshake bar';
    my $f = $log && check_capture('TLS 1.3', $log->{id}, $uri, 200);
    my ($cport) = ($rec && $rec->{front}{client} // '') =~ /:(\d+)$/;
    check_wire('TLS 1.3', $rec, wire_frames($f, $cport), $uri, fresh => 1) if $f && $cport;
}

# 2. TLS 1.2, two requests on one kept-alive connection, from the
#    namespace: the second one's capture needs the connection's earlier
#    records too.
{
    my ($u1, $u2) = ("/app/echo?tls12a=$run", "/app/echo?tls12b=$run");
    my $ns = "https://$host_ip:$port";
    # Two URLs in one curl: the second goes over the first's connection.
    my ($code, $curl) = tls_curl("$ns$u2", '--http1.1', '--tls-max', '1.2',
                                 '-o', '/dev/null', "$ns$u1");
    like $curl, qr/Re-using existing connection|Reusing existing/i, 'TLS 1.2: curl kept the connection';
    my ($rec, $log) = record_for($u2);
    my ($rec1) = record_for($u1);
    ok $rec && $rec1 && $rec->{front}{requests_before} == $rec1->{front}{requests_before} + 1 &&
       $rec->{front}{client} eq $rec1->{front}{client},
       'TLS 1.2: the second request came after the first on its connection'
        or diag explain [ $rec1 && $rec1->{front}, $rec && $rec->{front} ];
    my $tls = check_facts('TLS 1.2', $rec, $log, $curl, protocol => 'TLSv1.2');
    push @randoms, $tls->{client_random} if $tls;
    my $f = $log && check_capture('TLS 1.2, kept-alive', $log->{id}, $u2, 200);
    my ($cport) = ($rec && $rec->{front}{client} // '') =~ /:(\d+)$/;
    if ($f && $cport) {
        my $w = wire_frames($f, $cport);
        check_wire('TLS 1.2, first', $rec1, $w, $u1, fresh => 1);
        check_wire('TLS 1.2, kept-alive', $rec, $w, $u2);
    }
}

# 3. A resumed TLS 1.2 session (openssl s_client saves, then offers it).
{
    my $sess = "$dir/session.pem";
    my $uri1 = "/app/echo?full=$run";
    my $uri2 = "/app/echo?resumed=$run";
    for my $u ([$uri1, '-sess_out'], [$uri2, '-sess_in']) {
        open my $s, '|-', "openssl s_client -quiet -tls1_2 -connect 127.0.0.1:$port "
            . "-servername localhost $u->[1] $sess >/dev/null 2>&1" or die;
        print $s "GET $u->[0] HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        close $s;
    }
    my ($rec, $log) = record_for($uri2);
    is $log && $log->{resumed}, 'Resumed', 'resumed: mod_ssl resumed the session';
    my $tls = check_facts('resumed', $rec, $log, undef, protocol => 'TLSv1.2');
    ok $tls && $tls->{resumed}, 'resumed: front.tls.resumed';
    is $tls && $tls->{sni}, 'localhost', 'resumed: front.tls.sni is what s_client sent';
    my $f = $log && check_capture('resumed', $log->{id}, $uri2, 200);
    my ($cport) = ($rec && $rec->{front}{client} // '') =~ /:(\d+)$/;
    check_wire('resumed', $rec, wire_frames($f, $cport), $uri2, fresh => 1) if $f && $cport;
}

# 3b. Two requests pipelined in one TLS record: the second came in the
#     first's records, so no count places it: its request points are
#     null, not the first one's.
{
    my ($u1, $u2) = ("/app/echo?pipe1=$run", "/app/echo?pipe2=$run");
    open my $s, '|-', "openssl s_client -quiet -connect 127.0.0.1:$port "
        . "-servername localhost >/dev/null 2>&1" or die;
    print $s "GET $u1 HTTP/1.1\r\nHost: localhost\r\n\r\n"
           . "GET $u2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    close $s;
    my ($r1) = record_for($u1);
    my ($r2) = record_for($u2);
    ok $r1 && defined $r1->{timing}{request_receive_ms}, 'pipelined: the first is placed';
    ok $r2 && !defined $r2->{timing}{request_receive_ms} &&
       !defined $r2->{timing}{response_transfer_ms},
        'pipelined: the second has no request or response points of its own'
        or diag explain $r2 && $r2->{timing};
}

# 4. HTTP/2: three streams on one connection, each request's capture
#    decrypts its own :path.
SKIP: {
    skip 'mod_http2 runs under the event and worker MPMs only', 1 unless $h2;
    my @u = map { "/app/echo?h2=$run-$_" } 1 .. 3;
    # nghttp sends the three on one connection at once (streams 13, 15, 17).
    my $out = run_out('nghttp', '-n', map { "$base$_" } @u);
    is $?, 0, 'h2: nghttp fetched the three';
    my %conn;
    for my $u (@u) {
        my ($rec, $log) = record_for($u);
        $conn{ $rec ? $rec->{front}{client} : '' }++;
        my $tls = check_facts("h2 $u", $rec, $log, undef);
        is $tls && $tls->{alpn}, 'h2', "h2 $u: ALPN h2";
        # The front connection carries the other streams: its phases are
        # null for a reason, never another stream's figure; the backend's
        # are the stream's own.
        my $tm = $rec ? $rec->{timing} : {};
        for my $ph (qw(request_receive_ms response_transfer_ms client_ack_ms)) {
            ok exists $tm->{$ph} && !defined $tm->{$ph}, "h2 $u: $ph is null";
            is $tm->{null_reasons}{$ph}, 'shared_connection', "h2 $u: ... shared_connection";
        }
        ok defined $tm->{backend_ttfb_ms}, "h2 $u: backend_ttfb_ms is the stream's own";
        my $f = $log && check_capture("h2 $u", $log->{id}, $u, 200);
        # ... as tshark reads the backend leg of its file: the request
        # mod_proxy forwarded for this stream's own URI, and the first
        # byte of the backend's answer to it.
        my $bw = $f ? backend_frames($f) : {};
        check_point("h2 $u", $rec, 'the request forwarded', 'fwd_first', $bw->{request}{$u});
        check_point("h2 $u", $rec, "the backend's first response byte", 'be_first',
                    $bw->{response}{$u});
        my ($cport) = ($rec && $rec->{front}{client} // '') =~ /:(\d+)$/;
        # The stream that opened the connection has its handshake.
        check_wire("h2 $u", $rec, wire_frames($f, $cport), $u, h2 => 1,
                   fresh => !$rec->{front}{requests_before}) if $f && $cport;
    }
    is scalar(keys %conn), 1, 'h2: the three streams came over one connection'
        or diag explain \%conn;
}

# 5. A request no rule captures, from the namespace: its host keeps keys,
#    so its record holds its connection's secrets too, and its
#    /requests/<id>.pcapng from the ring decrypts by itself.
{
    my $uri = "/plain/echo?nocap=$run";
    my ($code, $curl) = tls_curl("https://$host_ip:$port$uri", '--http1.1');
    is $code, 200, 'not captured: proxied';
    my ($rec, $log) = record_for($uri);
    ok $rec && !$rec->{captured}, 'not captured: no rule matched it';
    check_facts('not captured', $rec, $log, $curl);
    my $f = $log && check_capture('not captured', $log->{id}, $uri, 200);
    my ($cport) = ($rec && $rec->{front}{client} // '') =~ /:(\d+)$/;
    check_wire('not captured', $rec, wire_frames($f, $cport), $uri, fresh => 1)
        if $f && $cport;
}

# 6. A 502 over TLS from the namespace, saved by an expr= rule: the saved
#    file decrypts, as its /requests/<id>.pcapng does.
{
    my $uri = "/app/close?t=502-$run";
    my ($code, $curl) = tls_curl("https://$host_ip:$port$uri", '--http1.1');
    is $code, 502, 'a backend closing without an answer gives 502 over TLS';
    my ($rec, $log) = record_for($uri);
    ok $log, '502: logged';
    ok $rec && $rec->{captured}, '502: the expr= rule matched it';
    check_facts('502', $rec, $log, $curl);
    my $g = $log && check_capture('502', $log->{id}, $uri, 502);
    my ($cport) = ($rec && $rec->{front}{client} // '') =~ /:(\d+)$/;
    check_wire('502', $rec, wire_frames($g, $cport), $uri, fresh => 1)
        if $g && $cport;
    my $f = $log ? "$caps/$log->{id}.pcapng" : '/nonexistent';
    ok wait_for(sub { -s $f }, 10, 0.2), '502: the rule saved its capture';
    my $d = decrypted($f);
    ok $d->{uri}{$uri}, '502: the saved capture decrypts the request' or diag explain $d;
    ok $d->{code}{502}, '502: ... and its 502' or diag explain $d;
}

# 6b. Two name-based hosts on one address: the one the client names
#     (SNI) with TCPInspectTLSKeys On keeps the secrets, the one with it
#     Off keeps none, and its saved capture stays encrypted.
for my $h (['keys.test', 1], ['nokeys.test', 0]) {
    my ($name, $keys) = @$h;
    my $uri = "/app/echo?vhost=$name-$run";
    my ($code) = tls_curl("https://$name:$vport$uri", '--http1.1', '--resolve',
                          "$name:$vport:127.0.0.1");
    is $code, 200, "$name: proxied";
    my ($rec, $log) = record_for($uri);
    my $tls = $rec && $rec->{front}{tls};
    is $tls && $tls->{sni}, $name, "$name: front.tls.sni";
    is !!($tls && $tls->{keys_kept}), !!$keys,
        "$name: secrets " . ($keys ? 'kept' : 'not kept') . ' (its TCPInspectTLSKeys)';
    my $f = "$dir/$name.pcapng";
    is get_raw("/tcp-inspect/requests/$log->{id}.pcapng", $f), 200, "$name: its pcapng"
        if $log;
    my $d = decrypted($f);
    is !!$d->{uri}{$uri}, !!$keys,
        "$name: tshark " . ($keys ? 'decrypts it' : 'cannot decrypt it') . ' with no key file'
        or diag explain $d;
}

# 6c. A TLS backend (mod_proxy with SSLProxyEngine): the record says so,
#     and on a new connection to it the exchange's phases are null for
#     the reason (its handshake's records come first), not the
#     handshake's figures; the connect is measured.
{
    my $uri = "/tlsback/echo?tlsback=$run";
    my ($code) = tls_curl("$base$uri", '--http1.1');
    is $code, 200, 'TLS backend: proxied over TLS to the backend';
    my ($rec) = record_for($uri);
    my $tm = $rec ? $rec->{timing} : {};
    ok $rec && $rec->{backend}{tls}, 'TLS backend: backend.tls'
        or diag explain $rec && $rec->{backend};
    ok $rec && $rec->{backend}{opened} && defined $tm->{backend_connect_ms},
        'TLS backend: a new connection, backend_connect_ms';
    for my $ph (qw(backend_ttfb_ms backend_transfer_ms proxy_forward_ms proxy_return_ms)) {
        ok exists $tm->{$ph} && !defined $tm->{$ph}, "TLS backend: $ph is null";
        is $tm->{null_reasons}{$ph}, 'tls_backend_handshake', "TLS backend: ... tls_backend_handshake";
    }
    my ($plain) = record_for("/app/echo?tls13=$run");
    ok $plain && !$plain->{backend}{tls} && defined $plain->{timing}{backend_ttfb_ms},
        'a plain backend: backend.tls false, its ttfb measured';
    # disablereuse: the connection was opened for this request and closed
    # by it, so its secrets go with the capture, and the backend leg (the
    # whole connection) decrypts too.
    ok $rec && $rec->{backend}{tls_keys_kept}, 'TLS backend: its secrets are kept'
        or diag explain $rec && $rec->{backend};
    my $log = access_log()->{$uri};
    my $f = "$dir/tlsback.pcapng";
    is get_raw("/tcp-inspect/requests/$log->{id}.pcapng", $f), 200, 'TLS backend: its pcapng'
        if $log;
    my $b = backend_decrypted($f);
    ok $b->{uri}{"/app/echo?tlsback=$run"}, 'TLS backend: tshark decrypts the backend leg\'s request'
        or diag explain $b;
    ok $b->{code}{200}, 'TLS backend: ... and its 200' or diag explain $b;
    ok decrypted($f)->{uri}{$uri}, 'TLS backend: ... and the front leg\'s';
    system('editcap', '--discard-all-secrets', $f, "$f.nosecrets") == 0
        or BAIL_OUT('editcap --discard-all-secrets failed');
    ok !%{ backend_decrypted("$f.nosecrets")->{uri} },
        'TLS backend: without the secrets block the backend leg stays encrypted';
}

# 6d. A pooled TLS backend connection (reuse on): it carries other
#     requests before and after, so its secrets go nowhere and the
#     backend leg stays encrypted.
{
    my $uri = "/tlspool/echo?tlspool=$run";
    my ($code) = tls_curl("$base$uri", '--http1.1');
    is $code, 200, 'pooled TLS backend: proxied';
    my ($rec, $log) = record_for($uri);
    ok $rec && $rec->{backend}{tls} && !$rec->{backend}{tls_keys_kept},
        'pooled TLS backend: no secrets kept' or diag explain $rec && $rec->{backend};
    my $f = "$dir/tlspool.pcapng";
    is get_raw("/tcp-inspect/requests/$log->{id}.pcapng", $f), 200, 'pooled TLS backend: its pcapng'
        if $log;
    ok !%{ backend_decrypted($f)->{uri} }, 'pooled TLS backend: its backend leg stays encrypted';
}

# 7. The packet pages: the HTML annotates the TLS records in clear (the
#    hellos, with s_client's SNI and the cipher mod_ssl chose); the text
#    stays tcpdump's lines.
{
    my $q = "filter=" . "tcp+port+$port" . '&limit=5000';
    my $html = body_of("/tcp-inspect/packets?$q");
    like $html, qr/TLS ClientHello SNI=localhost/, '/packets: the ClientHello with its SNI';
    # (Read from the redacted bytes: the redactor takes a direction for
    # HTTP/1 text until it proves otherwise, and may mask a hello's later
    # extensions, curl's ALPN among them; s_client's SNI comes first.)
    like $html, qr/TLS ClientHello</, "/packets: curl's ClientHello";
    like $html, qr/TLS ServerHello TLSv1\.3 TLS_AES_\d+_GCM_SHA\d+/, '/packets: a TLS 1.3 ServerHello and its cipher';
    like $html, qr/TLS ServerHello TLSv1\.2 ECDHE-/, '/packets: a TLS 1.2 ServerHello';
    like $html, qr/ApplicationData \d+/, '/packets: application data records';
    my $txt = body_of("/tcp-inspect/packets.txt?$q");
    ok length($txt) > 0 && $txt !~ /ClientHello|ApplicationData/, '/packets.txt: no annotation';
}

# 7b. The flows view: each TLS front flow's version, from its ServerHello.
{
    my $flows = get_json("/tcp-inspect/flows.json?leg=front&limit=1024") || [];
    my %v = map { ($_->{tls} // 'none') => 1 } @$flows;
    ok $v{'TLSv1.3'} && $v{'TLSv1.2'}, '/flows.json: TLS 1.3 and TLS 1.2 front flows'
        or diag explain \%v;
    like body_of('/tcp-inspect/flows?leg=front'), qr{<td class="l">TLSv1\.3</td>},
        '/flows: the version column';
}

# 7c. /capture.pcapng: the ring's file carries the secrets still held of
#     the connections it has packets of; tshark decrypts the requests in
#     it, the one no rule saved too (its host keeps keys); the keys-Off
#     host's stays encrypted.
{
    my $f = "$dir/ring.pcapng";
    is get_raw("/tcp-inspect/capture.pcapng?filter=tcp+port+$port", $f), 200,
        '/capture.pcapng of the TLS front';
    my $d = decrypted($f, 1);
    ok $d->{uri}{"/app/echo?tls13=$run"} && $d->{uri}{"/app/echo?tls12b=$run"},
        '/capture.pcapng: tshark decrypts the saved requests with no key file'
        or diag explain $d;
    ok $d->{uri}{"/plain/echo?nocap=$run"},
        '/capture.pcapng: ... and the one no rule saved' or diag explain $d;
    # The two name-based hosts (6b): the one with TCPInspectTLSKeys Off
    # gives no secrets to the ring's file either.
    my $fv = "$dir/ring-vhosts.pcapng";
    is get_raw("/tcp-inspect/capture.pcapng?filter=tcp+port+$vport", $fv), 200,
        '/capture.pcapng of the name-based hosts';
    my $v = decrypted($fv, 1);
    ok $v->{uri}{"/app/echo?vhost=keys.test-$run"},
        '/capture.pcapng: the host with TCPInspectTLSKeys On decrypts' or diag explain $v;
    ok !$v->{uri}{"/app/echo?vhost=nokeys.test-$run"},
        '/capture.pcapng: ... the one with it Off does not' or diag explain $v;
    # The TLS backend connections: the one closed by its request (6c)
    # decrypts, the pooled one (6d) does not.
    my $fb = "$dir/ring-back.pcapng";
    is get_raw("/tcp-inspect/capture.pcapng?filter=tcp+port+$bport", $fb), 200,
        '/capture.pcapng of the TLS backend';
    my $b = backend_decrypted($fb);
    ok $b->{uri}{"/app/echo?tlsback=$run"},
        '/capture.pcapng: the TLS backend connection whose secrets were kept decrypts'
        or diag explain $b;
    ok !$b->{uri}{"/pool/echo?tlspool=$run"},
        '/capture.pcapng: ... not the pooled one';
}

# 8. Downloads only: refused where TCPInspectAllowDownload is Off.
{
    my $id = (values %{ access_log() })[0]{id};
    is get_raw("/tcp-inspect-nodl/requests/$id.pcapng", "$dir/nodl"), 403,
        'a per-request pcapng where downloads are Off: 403';
    for my $ring (qw(capture.pcapng capture.pcap)) {
        is get_raw("/tcp-inspect-nodl/$ring", "$dir/nodl"), 403,
            "/$ring where downloads are Off: 403";
    }
}

# 9. mod_ssl's SSLKEYLOGFILE is still written, and none of its secrets
#    shows on a page or in the error log.
my %secret;
{
    my %seen_random;
    open my $kl, '<', $keylog or diag "$keylog: $!";
    while ($kl && defined(my $_l = <$kl>)) {
        local $_ = $_l;
        my (undef, $rnd, $sec) = split ' ';
        next unless $sec;
        $seen_random{lc $rnd} = 1;
        $secret{lc $sec} = 1;
    }
    ok %secret, 'SSLKEYLOGFILE is still written with TCPInspectTLSKeys On';
    ok((grep { $seen_random{$_} } @randoms) == @randoms,
       'it holds the connections the module kept secrets for') or diag explain \@randoms;
    my @pages = ('/tcp-inspect/', '/tcp-inspect/?auto', '/tcp-inspect/status.json',
                 '/tcp-inspect/metrics', '/tcp-inspect/requests',
                 '/tcp-inspect/requests.json', '/tcp-inspect/flows.json',
                 '/tcp-inspect/packets.txt?x=1', '/tcp-inspect/packets?x=1');
    my $ids = access_log();
    push @pages, map { ("/tcp-inspect/requests/$_->{id}", "/tcp-inspect/requests/$_->{id}.json") }
                 values %$ids;
    my $leaks = 0;
    for my $p (@pages) {
        my $all = lc body_of($p);
        for my $s (keys %secret) {
            if (index($all, $s) >= 0) { $leaks++; diag "$p shows a secret" }
        }
    }
    is $leaks, 0, 'no secret on any of ' . scalar(@pages) . ' pages';
    open my $el, '<', "$dir/logs/error_log";
    my $log = lc do { local $/; <$el> // '' };
    is scalar(grep { index($log, $_) >= 0 } keys %secret), 0, 'no secret in the error log';
}

# 10. A kept-alive connection whose handshake the ring has overwritten:
#     the handshake store kept it apart, so the request's capture still
#     starts at the connection's SYN and tshark decrypts it. The client
#     (Python's ssl, TLS 1.3) shakes hands, then waits; 40 MB from Jetty
#     on lo push the connection's packets out of the 32 MB ring; then it
#     sends its request.
{
    my $uri = "/app/echo?hsstore=$run";
    my ($pfile, $go, $outf) = map { "$dir/hs.$_" } qw(port go out);
    unlink $pfile, $go, $outf;
    my $py = <<'PY';
import socket, ssl, sys, time, os
port, uri, pfile, go, outf = sys.argv[1:6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))),
                    server_hostname="localhost")
open(pfile + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(pfile + ".tmp", pfile)
end = time.time() + 60
while not os.path.exists(go) and time.time() < end:
    time.sleep(0.05)
s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % uri).encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
open(outf, "wb").write(data)
PY
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        exec 'python3', '-c', $py, $port, $uri, $pfile, $go, $outf;
        exit 127;
    }
    ok wait_for(sub { -s $pfile }, 15, 0.05), 'handshake store: the client shook hands';
    my $shook = time;
    my $cport = do { open my $fh, '<', $pfile; local $/; <$fh> // 0 } + 0;
    my $before = get_json('/tcp-inspect/status.json');
    run_out('curl', '-s', '-m', '30', '-o', '/dev/null',
            "http://127.0.0.1:$jetty/app/big?kb=40960");
    # The ring no longer holds any packet of the waiting connection.
    my $ringf = "$dir/hs.ring.pcapng";
    ok wait_for(sub {
        get_raw("/tcp-inspect/capture.pcapng?filter=tcp+port+$cport", $ringf) == 200
            && run_out('tshark', '-r', $ringf, '-T', 'fields', '-e', 'frame.number') eq '' }, 15, 0.5),
        'handshake store: the ring has overwritten the connection\'s handshake';
    # idle long enough that the store keeps the handshake only
    sleep 1.5 - (time - $shook) if time - $shook < 1.5;
    open my $g, '>', $go; close $g;
    waitpid $pid, 0;
    my $resp = do { open my $fh, '<', $outf; local $/; $fh ? <$fh> // '' : '' };
    like $resp, qr{^HTTP/1\.1 200}, 'handshake store: the late request is answered';
    my ($rec, $log) = record_for($uri);
    ok $rec && $rec->{front}{tls} && $rec->{front}{tls}{keys_kept},
        'handshake store: its secrets are kept';
    my $f = $log && check_capture('handshake store', $log->{id}, $uri, 200);
    if ($f) {
        my $first = run_out('tshark', '-r', $f, '-Y', 'frame.interface_description == "front"',
                            '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.flags.syn',
                            '-e', 'tcp.flags.ack', '-c', '1') // '';
        like $first, qr/^$cport\t1\t0$/m, 'handshake store: the file starts at the client\'s SYN';
        my $saved = "$caps/$log->{id}.pcapng";
        ok wait_for(sub { -s $saved }, 10, 0.2), 'handshake store: the rule saved its capture';
        ok decrypted($saved)->{uri}{$uri}, 'handshake store: the saved file decrypts too';
    }
    my $st = get_json('/tcp-inspect/status.json');
    my $hs = $st && $st->{capture}{handshake_store};
    my $hb = $before->{capture}{handshake_store} // {};
    ok $hs && $hs->{enabled} && $hs->{connections} > ($hb->{connections} // 0)
       && $hs->{packets} > 0 && $hs->{complete} > ($hb->{complete} // 0),
        'handshake store: status.json counts the kept handshakes' or diag explain $hs;
}

ok scratch_stop($S), 'the scratch httpd stops';
open my $el, '<', "$dir/logs/error_log";
my @crit = grep { /\[(emerg|alert|crit)\]|Segmentation|exited \(/ } <$el>;
ok !@crit, 'no crash, no worker exit, no emerg/alert/crit' or diag @crit;

done_testing;
