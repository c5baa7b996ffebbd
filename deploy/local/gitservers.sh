#!/usr/bin/env bash
# Real git servers with authentication for the git-client tests: git's smart HTTP over HTTPS
# with basic auth (git-https.py), and OpenSSH's sshd with deploy keys, both serving the bare
# repositories under DIR/repos (`git init --bare DIR/repos/NAME.git`), on loopback only.
#   gitservers.sh start DIR    prints `HTTPS_BASE USER PASSWORD_FILE CA_FILE SSH_BASE SSH_KEY
#                              SSH_RSA_KEY SSH_RSA_PASSPHRASE_FILE KNOWN_HOSTS KNOWN_HOSTS_WRONG REPOS_DIR`
#   gitservers.sh stop DIR
# HTTPS: https://USER:PASSWORD@127.0.0.1:PORT/NAME.git, trusting CA_FILE (GIT_SSL_CAINFO).
# SSH:   SSH_BASE/DIR/repos/NAME.git, an absolute path (git-shell runs git-upload-pack on the
#        path the client sends; ~/… would be the login user's home, not DIR/repos).
# Keys and certificates are made once per DIR; the secrets are in files (mode 600), never on a
# command line.
source "$(dirname "$0")/common.sh"
here=$(cd "$(dirname "$0")" && pwd)

cmd=${1:-} dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: gitservers.sh start|stop DIR"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

# A random secret in a file only its owner reads.
secret_file() {
    [ -s "$1" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=\n' > "$1")
    chmod 600 "$1"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A process that exited stays a zombie until PID 1 reaps it (seconds, in some containers):
# that one does not run.
running() {
    [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && [[ "$(ps -o stat= -p "$(cat "$1")" 2>/dev/null)" != Z* ]]
}

start_https() {
    local https=$dir/https
    mkdir -p "$https"
    # A CA the clients trust (CA_FILE) and a server certificate for 127.0.0.1 signed by it, as a
    # private git host has; made again only when missing or about to expire.
    if [ ! -f "$https/ca.pem" ] || [ ! -f "$https/cert.pem" ] || ! openssl x509 -checkend 86400 -noout -in "$https/cert.pem" >/dev/null 2>&1; then
        cat > "$https/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
        (
            umask 077
            openssl req -x509 -config "$https/openssl.cnf" -extensions ca -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -days 365 -subj "/CN=Slipway test git CA" -keyout "$https/ca-key.pem" -out "$https/ca.pem" 2>/dev/null &&
            openssl req -new -config "$https/openssl.cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
                -subj /CN=127.0.0.1 -keyout "$https/key.pem" -out "$https/cert.csr" 2>/dev/null &&
            openssl x509 -req -in "$https/cert.csr" -CA "$https/ca.pem" -CAkey "$https/ca-key.pem" -set_serial "0x$(openssl rand -hex 16)" \
                -days 364 -extfile "$https/openssl.cnf" -extensions server -out "$https/cert.pem" 2>/dev/null
        ) || die "openssl could not make the git server's certificates"
        rm -f "$https/cert.csr"
        chmod 644 "$https/ca.pem" "$https/cert.pem"
        stop_pidfile "$https/pid" "git https server"  # it holds the old certificate
    fi
    if ! running "$https/pid"; then
        local port; port=$(free_port)
        GIT_HTTPS_PASSWORD_FILE="$dir/git-password" nohup python3 "$here/git-https.py" "$port" "$https/cert.pem" "$https/key.pem" \
            "$dir/repos" "$http_user" > "$https/git-https.log" 2>&1 &
        echo $! > "$https/pid"
        echo "$port" > "$https/port"
        # Any answer (a 401 here) means it serves, with the certificate the CA file vouches for.
        wait_for "git https server" 80 curl -s -o /dev/null --cacert "$https/ca.pem" "https://127.0.0.1:$port/" \
            || die "the git https server did not start; see $https/git-https.log"
    fi
}

start_ssh() {
    local ssh=$dir/ssh
    mkdir -p "$ssh"
    # The server's host key, and an unrelated one for the "host key changed" tests.
    [ -f "$ssh/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C slipway-test-git-host -f "$ssh/host_ed25519"
    [ -f "$ssh/wrong_host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C slipway-test-wrong-host -f "$ssh/wrong_host_ed25519"
    # Deploy keys in the two formats users bring: OpenSSH-format ed25519 without a passphrase,
    # and PEM RSA (BEGIN RSA PRIVATE KEY) with one. ssh-keygen takes a new passphrase only on its
    # command line (-N), so the RSA key is made plain and openssl encrypts it, reading the
    # passphrase from its file; the result is what `ssh-keygen -m PEM` with a passphrase writes
    # (Proc-Type 4,ENCRYPTED, AES-128-CBC).
    [ -f "$ssh/deploy_key" ] || ssh-keygen -q -t ed25519 -N '' -C slipway-test-deploy -f "$ssh/deploy_key"
    if [ ! -f "$ssh/deploy_key_rsa" ] || [ ! -s "$ssh/deploy_key_passphrase" ]; then
        rm -f "$ssh/deploy_key_rsa" "$ssh/deploy_key_rsa.pub" "$ssh/deploy_key_rsa.plain" "$ssh/deploy_key_rsa.plain.pub"
        secret_file "$ssh/deploy_key_passphrase"
        ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C slipway-test-deploy-rsa -f "$ssh/deploy_key_rsa.plain"
        (umask 077; openssl rsa -in "$ssh/deploy_key_rsa.plain" -traditional -aes128 -passout "file:$ssh/deploy_key_passphrase" \
            -out "$ssh/deploy_key_rsa" 2>/dev/null) || die "openssl could not encrypt the RSA deploy key"
        mv "$ssh/deploy_key_rsa.plain.pub" "$ssh/deploy_key_rsa.pub"
        rm -f "$ssh/deploy_key_rsa.plain"
    fi
    # Either key may run git's commands only: git-shell refuses anything but upload-pack,
    # receive-pack and upload-archive; restrict forbids forwarding and a terminal.
    local key
    : > "$ssh/authorized_keys"
    for key in "$ssh/deploy_key.pub" "$ssh/deploy_key_rsa.pub"; do
        printf 'restrict,command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"" %s\n' "$(cat "$key")" >> "$ssh/authorized_keys"
    done

    if ! running "$ssh/sshd.pid"; then
        local port; port=$(free_port)
        # sshd as root wants its privilege separation folder (systemd makes it for the system sshd).
        [ "$(id -u)" != 0 ] || [ -d /run/sshd ] || mkdir -m 755 /run/sshd
        # MaxStartups: tests connect in parallel, and the default drops connections past 10
        # unauthenticated ones. Only the current user may log in, with a key only.
        # +ssh-rsa: libssh2 1.10 (Debian 12, under libgit2 1.5) signs with an RSA key only as
        # ssh-rsa (SHA-1), which OpenSSH 8.8 and later refuse by default; without it the RSA
        # deploy key could never log in here (hosts that refuse SHA-1, GitHub among them,
        # refuse that client the same way).
        cat > "$ssh/sshd_config" <<EOF
ListenAddress 127.0.0.1:$port
HostKey $ssh/host_ed25519
PidFile $ssh/sshd.pid
AuthorizedKeysFile $ssh/authorized_keys
AllowUsers $login
AuthenticationMethods publickey
PubkeyAuthentication yes
PubkeyAcceptedAlgorithms +ssh-rsa
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
UseDNS no
AcceptEnv GIT_PROTOCOL
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
PrintMotd no
MaxStartups 200
MaxSessions 50
LoginGraceTime 30
LogLevel VERBOSE
EOF
        # OpenSSH 9.8 and later penalise a source address after failed logins, which the
        # wrong-key and wrong-host tests cause on purpose; older ones do not know the option.
        echo "PerSourcePenalties no" >> "$ssh/sshd_config"
        if ! /usr/sbin/sshd -t -f "$ssh/sshd_config" 2>/dev/null; then
            sed -i '/^PerSourcePenalties /d' "$ssh/sshd_config"
            /usr/sbin/sshd -t -f "$ssh/sshd_config" || die "sshd rejects $ssh/sshd_config"
        fi
        rm -f "$ssh/sshd.pid"
        # An absolute path: sshd re-executes itself for each connection. It daemonizes and
        # writes its pid file; its log goes to a file, not syslog.
        /usr/sbin/sshd -f "$ssh/sshd_config" -E "$ssh/sshd.log" || die "sshd did not start; see $ssh/sshd.log"
        echo "$port" > "$ssh/port"
        wait_for "git sshd" 80 test -s "$ssh/sshd.pid" && wait_for "git sshd" 80 port_open "$port" \
            || die "sshd did not start; see $ssh/sshd.log"
    fi
    local port; port=$(cat "$ssh/port")
    # known_hosts for a port other than 22 names the host [127.0.0.1]:PORT.
    printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$ssh/host_ed25519.pub")" > "$ssh/known_hosts"
    printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$ssh/wrong_host_ed25519.pub")" > "$ssh/known_hosts_wrong"
}

case "$cmd" in
start)
    [ -x /usr/sbin/sshd ] || die "no /usr/sbin/sshd; run deploy/install.sh (package openssh-server)"
    [ -x /usr/lib/git-core/git-http-backend ] || die "no git http-backend; run deploy/install.sh (package git)"
    command -v git-shell >/dev/null || die "no git-shell; run deploy/install.sh (package git)"
    http_user=slipway
    # The ssh login is the user running the stack (root in CI): a non-root sshd can let in no
    # other, and root's own keys stay out of it (AuthorizedKeysFile is DIR/ssh/authorized_keys).
    login=$(id -un)
    mkdir -p "$dir/repos"
    secret_file "$dir/git-password"
    start_https
    start_ssh
    echo "https://127.0.0.1:$(cat "$dir/https/port") $http_user $dir/git-password $dir/https/ca.pem" \
        "ssh://$login@127.0.0.1:$(cat "$dir/ssh/port") $dir/ssh/deploy_key $dir/ssh/deploy_key_rsa $dir/ssh/deploy_key_passphrase" \
        "$dir/ssh/known_hosts $dir/ssh/known_hosts_wrong $dir/repos"
    ;;
stop)
    stop_pidfile "$dir/https/pid" "git https server"
    stop_pidfile "$dir/ssh/sshd.pid" "git sshd"
    ;;
*) die "unknown command $cmd" ;;
esac
