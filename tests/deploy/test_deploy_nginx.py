"""deploy/server/nginx/signage.conf: ``nginx -t`` accepts it, and a real nginx running it
serves ``/media/`` through X-Accel-Redirect the way docs/api.md promises.

The site is used as written; only what a test cannot have is swapped: the certificate (a
self-signed one made here), the ports (free loopback ones, so neither root nor a running
nginx is needed), the upstream (a fake app that answers like signage_server's media view with
MEDIA_ACCEL_REDIRECT set) and the media folder.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("deploy")

HOST = "signage.example.org"
MEDIA = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40
SHA = hashlib.sha256(MEDIA).hexdigest()
MANIFEST = json.dumps({"items": [{"id": n, "kind": "video", "sha256": SHA}
                                 for n in range(60)]}).encode()


def site_text(deploy_dir: Path) -> str:
    return (deploy_dir / "server" / "nginx" / "signage.conf").read_text()


def main_config(folder: Path, site: Path, daemon: bool) -> str:
    """The smallest nginx.conf that includes the site, everything under ``folder``."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read tmp_path
    temp = "".join(f"    {kind}_temp_path {folder}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return (f"{user}worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
            f"{'' if daemon else 'daemon off;'}\nevents {{ worker_connections 64; }}\n"
            f"http {{\n    default_type application/octet-stream;\n"
            f"    access_log {folder}/access.log;\n{temp}    include {site};\n}}\n")


@pytest.fixture(scope="module")
def certificate(installed: Callable[[str], str],
                tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = installed("openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "fullchain.pem", folder / "privkey.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={HOST}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def site_for_test(text: str, certificate: tuple[Path, Path], https_port: int, http_port: int,
                  upstream_port: int | None = None, media: Path | None = None) -> str:
    """The site with the test certificate and loopback ports (nginx binds its ports even for
    ``-t``); with ``upstream_port`` and ``media`` also the fake app and the media folder."""
    cert, key = certificate
    live = f"/etc/letsencrypt/live/{HOST}"
    swaps = {f"{live}/fullchain.pem": str(cert), f"{live}/privkey.pem": str(key),
             "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
             "listen 80;": f"listen 127.0.0.1:{http_port};",
             "listen [::]:443 ssl http2;": "", "listen [::]:80;": ""}
    if upstream_port is not None:
        swaps["server 127.0.0.1:8000;"] = f"server 127.0.0.1:{upstream_port};"
    if media is not None:
        swaps["/var/lib/signage-server/media/"] = f"{media}/"
    for old, new in swaps.items():
        assert old in text, f"the site no longer contains {old!r}"
        text = text.replace(old, new)
    return text


def test_nginx_accepts_the_site(installed: Callable[[str], str], deploy_dir: Path,
                                certificate: tuple[Path, Path], free_port: Callable[[], int],
                                tmp_path: Path) -> None:
    nginx = installed("nginx")
    site = tmp_path / "signage.conf"
    site.write_text(site_for_test(site_text(deploy_dir), certificate, free_port(), free_port()))
    (tmp_path / "nginx.conf").write_text(main_config(tmp_path, site, daemon=True))

    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c",
                             str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")],
                            capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


# -- a running nginx --------------------------------------------------------------------------

class FakeApp(http.server.BaseHTTPRequestHandler):
    """Answers like signage_server with MEDIA_ACCEL_REDIRECT=/_protected_media/."""

    def do_GET(self) -> None:
        if self.path == f"/media/{SHA}":
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Cache-Control", "public, max-age=31536000, immutable")
            self.send_header("ETag", f'"{SHA}"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("X-Accel-Redirect", f"/_protected_media/{SHA[:2]}/{SHA}")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/api/v1/kiosk/manifest":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(MANIFEST)))
            self.end_headers()
            self.wfile.write(MANIFEST)
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Site:
    https_port: int
    http_port: int

    def get(self, path: str, headers: dict[str, str] | None = None,
            tls: bool = True) -> tuple[http.client.HTTPResponse, bytes]:
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.https_port, context=context, timeout=10)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            conn.request("GET", path, headers={"Host": HOST, **(headers or {})})
            response = conn.getresponse()
            return response, response.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def running_site(installed: Callable[[str], str], deploy_dir: Path,
                 certificate: tuple[Path, Path], free_port: Callable[[], int],
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    nginx = installed("nginx")
    folder = tmp_path_factory.mktemp("nginx")
    media = folder / "media"
    (media / SHA[:2]).mkdir(parents=True)
    (media / SHA[:2] / SHA).write_bytes(MEDIA)
    app = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeApp)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    process = None
    for _attempt in range(3):
        site = Site(free_port(), free_port())
        text = site_for_test(site_text(deploy_dir), certificate, site.https_port,
                             site.http_port, app.server_port, media)
        (folder / "signage.conf").write_text(text)
        (folder / "nginx.conf").write_text(main_config(folder, folder / "signage.conf",
                                                       daemon=False))
        process = subprocess.Popen([nginx, "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                    "-e", str(folder / "error.log")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _serving(site.https_port, process):
            break
    else:
        app.shutdown()
        app.server_close()
        pytest.fail(f"nginx did not start:\n{(folder / 'error.log').read_text()}")
    yield site
    process.terminate()
    process.wait(timeout=10)
    app.shutdown()
    app.server_close()



def test_media_is_served_by_nginx_from_the_content_addressed_store(running_site: Site) -> None:
    response, body = running_site.get(f"/media/{SHA}")

    assert response.status == 200
    assert body == MEDIA
    assert response.getheader("Content-Type") == "video/mp4"
    assert response.getheader("ETag") == f'"{SHA}"'
    assert response.headers.get_all("Cache-Control") == ["public, max-age=31536000, immutable"]


def test_media_ranges_are_answered_with_206(running_site: Site) -> None:
    response, body = running_site.get(f"/media/{SHA}", {"Range": "bytes=100-199"})

    assert response.status == 206
    assert body == MEDIA[100:200]
    assert response.getheader("Content-Range") == f"bytes 100-199/{len(MEDIA)}"


def test_the_protected_store_is_not_reachable_from_outside(running_site: Site) -> None:
    response, _ = running_site.get(f"/_protected_media/{SHA[:2]}/{SHA}")

    assert response.status == 404


def test_json_is_gzipped(running_site: Site) -> None:
    response, body = running_site.get("/api/v1/kiosk/manifest", {"Accept-Encoding": "gzip"})

    assert response.getheader("Content-Encoding") == "gzip"
    assert gzip.decompress(body) == MANIFEST


def test_plain_http_redirects_to_https(running_site: Site) -> None:
    response, _ = running_site.get("/api/v1/kiosk/manifest", tls=False)

    assert response.status == 301
    assert response.getheader("Location") == f"https://{HOST}/api/v1/kiosk/manifest"


def _serving(port: int, process: subprocess.Popen[bytes], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    process.kill()
    process.wait()
    return False
