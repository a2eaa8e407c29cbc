# Every invalid directive value fails `apache2 -t` with a message that names
# the directive; valid values pass. Each case is a small config of its own
# (scratch ServerRoot, the module and mod_proxy loaded); no server starts.
use strict;
use warnings FATAL => 'all';

use Apache::Test ();
use Test::More;
use File::Temp qw(tempdir);
use TCPI::Rig qw(rig have_module);

my $r = rig();
plan skip_all => 'mod_tcpinspect.so not built' unless have_module();

my $modules = `apxs -q LIBEXECDIR 2>/dev/null` || '/usr/lib/apache2/modules';
chomp $modules;
my $scratch = tempdir('tcpi-configtest-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$scratch/logs";
# Capture directories root must not trust (checked once User is known):
# writable by others, owned by another user, or reached through a symlink.
mkdir "$scratch/world-writable";
chmod 0777, "$scratch/world-writable";
mkdir "$scratch/someone-elses";
chown 65534, 65534, "$scratch/someone-elses";
mkdir "$scratch/real";
symlink "$scratch/real", "$scratch/link";
# TCPInspectRequestLog: a file that is not executable as a piped logger.
open my $nx, '>', "$scratch/not-a-program" or die;
close $nx;
chmod 0644, "$scratch/not-a-program";

# [directive line(s), the directive the message must name]; server config
# unless the text has its own section.
my @invalid = (
    ['TCPInspectEngine maybe',                       'TCPInspectEngine'],
    ["<VirtualHost *:80>\nTCPInspectEngine On\n</VirtualHost>", 'TCPInspectEngine'],
    ['TCPInspectFrontend eth0 0',                    'TCPInspectFrontend'],
    ['TCPInspectFrontend eth0 65536',                'TCPInspectFrontend'],
    ['TCPInspectFrontend eth0 abc',                  'TCPInspectFrontend'],
    ['TCPInspectFrontend 0',                         'TCPInspectFrontend'],
    ['TCPInspectFrontend 80 -1',                     'TCPInspectFrontend'],
    ['TCPInspectBackend lo 0',                       'TCPInspectBackend'],
    ['TCPInspectBackend lo 65536',                   'TCPInspectBackend'],
    ['TCPInspectBackend lo abc',                     'TCPInspectBackend'],
    ['TCPInspectBackend 70000',                      'TCPInspectBackend'],
    ['TCPInspectFilter "tcp port"',                  'TCPInspectFilter'],
    ['TCPInspectFilter "host 999.1.1.1"',            'TCPInspectFilter'],
    # Ethernet fields cannot run on the default frontend handle ("any"),
    # whatever the order of the directives (checked once all are read)
    ['TCPInspectFilter "ether host 00:11:22:33:44:55"', 'TCPInspectFilter'],
    ["TCPInspectFrontend eth0 80\nTCPInspectBackend lo 7001\nTCPInspectFilter \"ether host 00:11:22:33:44:55\"\nTCPInspectFrontend any 80",
     'TCPInspectFilter'],
    ["TCPInspectFilter \"ether host 00:11:22:33:44:55\"\nTCPInspectFrontend eth0 80\nTCPInspectBackend any 7001",
     'TCPInspectFilter'],
    ['TCPInspectRedact ' . ('X' x 64),                 'TCPInspectRedact'],
    ['TCPInspectSnaplen 0',                          'TCPInspectSnaplen'],
    ['TCPInspectSnaplen abc',                        'TCPInspectSnaplen'],
    ['TCPInspectSnaplen 99999999999',                'TCPInspectSnaplen'],
    ['TCPInspectSnaplen 1G',                         'TCPInspectSnaplen'],
    ['TCPInspectRingSize 1K',                        'TCPInspectRingSize'],
    ['TCPInspectRingSize 99G',                       'TCPInspectRingSize'],
    ['TCPInspectRingSize 12Q',                       'TCPInspectRingSize'],
    ['TCPInspectRingSize -64M',                      'TCPInspectRingSize'],
    ['TCPInspectKernelBuffer 1K',                    'TCPInspectKernelBuffer'],
    ['TCPInspectKernelBuffer 99G',                   'TCPInspectKernelBuffer'],
    ['TCPInspectKernelBuffer 12Q',                   'TCPInspectKernelBuffer'],
    ['TCPInspectThreshold BOGUS 1 2',                'TCPInspectThreshold'],
    ['TCPInspectThreshold ESTABLISHED 800 600',      'TCPInspectThreshold'],
    ['TCPInspectThreshold ESTABLISHED 1 2 sideways', 'TCPInspectThreshold'],
    ['TCPInspectThreshold ESTABLISHED x 2',          'TCPInspectThreshold'],
    ['TCPInspectThreshold ESTABLISHED 1 y',          'TCPInspectThreshold'],
    ['TCPInspectThreshold ESTABLISHED 1',            'TCPInspectThreshold'],
    ['TCPInspectThreshold ESTABLISHED 1 2 front x',  'TCPInspectThreshold'],
    ['TCPInspectCaptureDir ""',                      'TCPInspectCaptureDir'],
    ["TCPInspectCaptureDir $scratch/world-writable",  'TCPInspectCaptureDir'],
    ["TCPInspectCaptureDir $scratch/someone-elses",   'TCPInspectCaptureDir'],
    ["TCPInspectCaptureDir $scratch/link/captures",   'TCPInspectCaptureDir'],
    ["TCPInspectCaptureDir $scratch/link",            'TCPInspectCaptureDir'],
    ['TCPInspectCaptureLimit 0 x',                   'TCPInspectCaptureLimit'],
    ['TCPInspectCaptureLimit x 1M',                  'TCPInspectCaptureLimit'],
    ['TCPInspectCaptureLimit 0 1M',                  'TCPInspectCaptureLimit'],
    ['TCPInspectCaptureLimit 10 12Q',                'TCPInspectCaptureLimit'],
    ['TCPInspectRedact "Bad Header:"',               'TCPInspectRedact'],
    ['TCPInspectRedact X-Token:',                    'TCPInspectRedact'],
    ["<Location /x>\nTCPInspectAllowDownload Maybe\n</Location>", 'TCPInspectAllowDownload'],
    ["<Location /x>\nTCPInspectCapture expr=%{\n</Location>",     'TCPInspectCapture'],
    ["<Location /x>\nTCPInspectCapture Sometimes\n</Location>",   'TCPInspectCapture'],
    ['TCPInspectTLSKeys Maybe',                      'TCPInspectTLSKeys'],
    # the secrets come from mod_ssl: without it, refused
    ['TCPInspectTLSKeys On',                         'TCPInspectTLSKeys'],
    ["<VirtualHost 127.0.0.1:18999>\nTCPInspectTLSKeys On\n</VirtualHost>", 'TCPInspectTLSKeys'],
    # the request log: CustomLog's syntax; a file that cannot be opened
    ['TCPInspectRequestLog ""',                       'TCPInspectRequestLog'],
    ["TCPInspectRequestLog $scratch",                  'TCPInspectRequestLog'],   # a directory
    ["TCPInspectRequestLog $scratch/",                 'TCPInspectRequestLog'],
    ["TCPInspectRequestLog $scratch/no-such-dir/requests.json", 'TCPInspectRequestLog'],
    ["TCPInspectRequestLog $scratch/not-a-program/requests.json", 'TCPInspectRequestLog'],
    ['TCPInspectRequestLog no-such-dir/requests.json', 'TCPInspectRequestLog'],   # ServerRoot-relative
    ['TCPInspectRequestLog "|"',                      'TCPInspectRequestLog'],
    ['TCPInspectRequestLog "|$ "',                    'TCPInspectRequestLog'],
    ['TCPInspectRequestLog "|/nonexistent/rotatelogs /var/log/r 86400"', 'TCPInspectRequestLog'],
    ["TCPInspectRequestLog \"|$scratch/not-a-program\"", 'TCPInspectRequestLog'],
    ["<VirtualHost 127.0.0.1:18999>\nTCPInspectRequestLog $scratch/logs/r.json\n</VirtualHost>", 'TCPInspectRequestLog'],
);

my @valid = (
    'TCPInspectEngine On',
    'TCPInspectEngine Off',
    'TCPInspectFrontend 8080',
    'TCPInspectFrontend eth0 80 443',
    'TCPInspectFrontend nosuchif0 8080',     # interfaces are opened at start, not checked here
    'TCPInspectBackend lo 7001',
    'TCPInspectBackend 7001 7002',
    'TCPInspectFilter "host 10.16.2.85"',
    "TCPInspectFrontend eth0 80\nTCPInspectBackend lo 7001\nTCPInspectFilter \"ether host 00:11:22:33:44:55\"",
    # the same with the filter first: the legs named after it count too
    "TCPInspectFilter \"ether host 00:11:22:33:44:55\"\nTCPInspectFrontend eth0 80\nTCPInspectBackend lo 7001",
    'TCPInspectRedact ' . ('X' x 63),
    'TCPInspectSnaplen 65535',
    'TCPInspectSnaplen 256K',
    'TCPInspectRingSize 64M',
    'TCPInspectRingSize 1G',
    'TCPInspectKernelBuffer 8M',
    'TCPInspectThreshold ESTABLISHED 600 800',
    'TCPInspectThreshold TIME_WAIT 4000 8000 front',
    'TCPInspectThreshold CLOSE_WAIT 10 50 backend_local',
    'TCPInspectCaptureDir captures-not-created-yet',   # relative to ServerRoot, made at start
    'TCPInspectCaptureLimit 100 1G',
    'TCPInspectRedact Authorization X-Api-Key',
    'TCPInspectRedact Off',
    "<Location /x>\nTCPInspectAllowDownload On\n</Location>",
    "<Location /x>\nTCPInspectCapture On\n</Location>",
    "<Location /x>\nTCPInspectCapture \"expr=%{REQUEST_STATUS} == 502\"\n</Location>",
    'TCPInspectTLSKeys Off',
    "LoadModule ssl_module $modules/mod_ssl.so\nTCPInspectTLSKeys On",
    "LoadModule ssl_module $modules/mod_ssl.so\n<VirtualHost 127.0.0.1:18999>\nTCPInspectTLSKeys On\n</VirtualHost>",
    "TCPInspectRequestLog $scratch/logs/requests.json",   # checked, not created
    'TCPInspectRequestLog logs/requests-relative.json',
    'TCPInspectRequestLog /dev/null',
    'TCPInspectRequestLog "|/usr/bin/rotatelogs logs/requests.json.%Y%m%d 86400"',
    'TCPInspectRequestLog "|cat"',                     # found in PATH at start
    'TCPInspectRequestLog "|$cat >>logs/requests.json"',
);

my $n = 0;
sub configtest {
    my ($body) = @_;
    my $file = sprintf '%s/case%03d.conf', $scratch, ++$n;
    my $mpm = $r->{mpm} || 'event';
    open my $fh, '>', $file or die "$file: $!";
    print $fh <<"EOF";
ServerRoot $scratch
PidFile $scratch/logs/httpd.pid
ErrorLog $scratch/logs/error_log
DefaultRuntimeDir $scratch/logs
ServerName localhost
Listen 127.0.0.1:18999
LoadModule mpm_${mpm}_module $modules/mod_mpm_$mpm.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule proxy_module $modules/mod_proxy.so
LoadModule proxy_http_module $modules/mod_proxy_http.so
LoadModule tcpinspect_module $r->{module}
$body
EOF
    close $fh;
    my $out = `$r->{httpd} -t -f $file 2>&1`;
    return ($? >> 8, $out);
}

for my $case (@invalid) {
    my ($body, $name) = @$case;
    (my $label = $body) =~ s/\n/ /g;
    my ($rc, $out) = configtest($body);
    isnt $rc, 0, "rejected: $label" or diag $out;
    # The message itself (after "Syntax error on line N of FILE:") names it.
    my ($msg) = $out =~ /Syntax error on line \d+ of \S+:\s*(.*)/s;
    like $msg // $out, qr/\b\Q$name\E\b/, "the message names $name" or diag $out;
}

for my $body (@valid) {
    (my $label = $body) =~ s/\n/ /g;
    my ($rc, $out) = configtest($body);
    is $rc, 0, "accepted: $label" or diag $out;
    like $out, qr/Syntax OK/, "Syntax OK: $label";
}
ok !-e "$scratch/logs/requests.json" && !-e "$scratch/logs/requests-relative.json",
    'configtest creates no TCPInspectRequestLog file';

done_testing;
