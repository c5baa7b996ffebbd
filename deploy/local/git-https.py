#!/usr/bin/env python3
"""A git server over HTTPS with basic auth (what GitHub and GitLab do for https remotes), for tests.

    GIT_HTTPS_PASSWORD_FILE=FILE git-https.py PORT CERT.pem KEY.pem REPOS USER

Runs git's own smart-HTTP server, `git http-backend`, as a CGI program for every request, so
fetch (upload-pack) and push (receive-pack) speak exactly what a real git host speaks, for
every bare repository under REPOS (`git init --bare REPOS/NAME.git`, then
https://USER:PASSWORD@127.0.0.1:PORT/NAME.git). A request without the login or with a wrong
one gets 401 with a Basic challenge: libgit2 asks its credential callback only after one.
The password is read from a file, never from the command line (ps shows argv to everyone).
"""
import base64, hmac, http.server, os, socket, ssl, subprocess, sys, threading
from urllib.parse import unquote

port, cert_path, key_path, repos, user = sys.argv[1:6]
password = open(os.environ["GIT_HTTPS_PASSWORD_FILE"]).read().strip()
expected = f"{user}:{password}".encode()
backend = "/usr/lib/git-core/git-http-backend"


class Handler(http.server.BaseHTTPRequestHandler):
    # HTTP/1.1: chunked responses (the CGI output streams without a known length, and a body
    # that ends only where the connection ends is a truncation error over TLS to GnuTLS, which
    # git links), and `Expect: 100-continue` gets its interim answer. Every response closes the
    # connection all the same.
    protocol_version = "HTTP/1.1"
    # A client that stops talking (or never finishes the TLS handshake) frees its thread.
    timeout = 120

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def body_chunks(self):
        """The request body, as git sends it: with Content-Length, or chunked (git push does
        that for packs larger than http.postBuffer; libgit2 always does for POSTs)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                line = self.rfile.readline(1024)
                if not line:
                    raise ConnectionError("the client closed the connection inside a chunked body")
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    # Trailers (none from git), then the blank line that ends the body.
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    data = self.rfile.read(min(left, 65536))
                    if not data:
                        raise ConnectionError("the client closed the connection inside a chunk")
                    left -= len(data)
                    yield data
                self.rfile.readline(1024)  # the CRLF after each chunk
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left:
                data = self.rfile.read(min(left, 65536))
                if not data:
                    raise ConnectionError("the client closed the connection inside the body")
                left -= len(data)
                yield data

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        try:
            given = base64.b64decode(auth[6:], validate=True)
        except ValueError:
            return False
        return hmac.compare_digest(given, expected)

    def answer(self, code, headers=(), body=b""):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def serve(self):
        if not self.authorized():
            # Read what the client sent first: closing on an unread body makes the kernel
            # reset the connection, and the client may lose the 401 itself.
            try:
                for _ in self.body_chunks():
                    pass
            except (ConnectionError, ValueError):
                pass
            self.answer(401, [("WWW-Authenticate", 'Basic realm="git"')], b"authentication required\n")
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": repos,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": "slipway-git-https",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(path),
            "QUERY_STRING": query,
            "REMOTE_ADDR": self.client_address[0],
            # http-backend allows receive-pack (push) only for an authenticated REMOTE_USER.
            "REMOTE_USER": user,
            "AUTH_TYPE": "Basic",
        }
        if self.headers.get("Content-Type"):
            env["CONTENT_TYPE"] = self.headers["Content-Type"]
        if self.headers.get("Content-Length") and "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            env["CONTENT_LENGTH"] = self.headers["Content-Length"]
        # Without CONTENT_LENGTH http-backend reads its input to the end: right for chunked.
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]  # git gzips large fetch requests
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]  # protocol v2
        process = subprocess.Popen([backend], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)

        # Feed the body from another thread: the backend may answer before it has read all of it,
        # and a full pipe each way would otherwise stall both.
        failure = []

        def feed():
            try:
                for data in self.body_chunks():
                    process.stdin.write(data)
            except (ConnectionError, BrokenPipeError, ValueError, OSError) as error:
                failure.append(error)
            finally:
                try:
                    process.stdin.close()
                except OSError:
                    pass

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            status, headers = 200, []
            while True:
                line = process.stdout.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").rstrip("\r\n").partition(":")
                value = value.strip()
                if name.lower() == "status":
                    status = int(value.split()[0])
                else:
                    headers.append((name, value))
            chunked = not any(name.lower() == "content-length" for name, _ in headers)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            while True:
                data = process.stdout.read1(65536)
                if not data:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            feeder.join()
            if failure:
                self.log_message("request body: %s", failure[0])
        finally:
            self.close_connection = True
            process.stdout.close()
            code = process.wait()
            if code != 0:
                self.log_message("git http-backend exited %d", code)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self):
        # The TLS handshake happens in the request's own thread (on its first read), not in
        # accept: one client that connects and says nothing must not block all the others.
        sock, address = self.socket.accept()
        return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def shutdown_request(self, request):
        # TLS's close_notify before the close, as a TLS server should (briefly: a client that
        # went away gets no wait).
        try:
            request.settimeout(2)
            request.unwrap()
        except (OSError, ValueError):
            pass
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        error = sys.exc_info()[1]
        if isinstance(error, (ssl.SSLError, ConnectionError, socket.timeout)):
            sys.stderr.write("%s %s\n" % (client_address[0], error))  # a client that gave up or distrusts the CA
        else:
            super().handle_error(request, client_address)


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.minimum_version = ssl.TLSVersion.TLSv1_2
context.load_cert_chain(cert_path, key_path)
Server(("127.0.0.1", int(port)), Handler).serve_forever()
