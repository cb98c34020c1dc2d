"""Registry credentials (config.json) and the Bearer/Basic auth flows of the registry client."""

from __future__ import annotations

import base64
import json
import os
from urllib.parse import parse_qs, urlsplit

import pytest

from oci.auth import Credentials, DockerConfig, TokenCache, parse_challenges
from oci.errors import AuthenticationRequired, RegistryConfigError
from oci.registry import RegistryClient, RetryPolicy
from tests.unit.fake_registry import FakeServer, Reply

MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "0" * 64,
            "size": 2,
        },
        "layers": [],
    }
).encode()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def write_config(path, auths: dict) -> str:
    path.write_text(json.dumps({"auths": auths}))
    return str(path)


# -- config.json ---------------------------------------------------------------------------


def test_config_auth_field_and_username_password_both_work(tmp_path):
    path = write_config(
        tmp_path / "config.json",
        {
            "reg.example.com": {"auth": b64("alice:s3cr:et")},
            "https://other.example.com:5000/v2/": {"username": "bob", "password": "pw"},
            "nothing.example.com": {},
        },
    )
    config = DockerConfig.load(path)
    assert config.lookup("reg.example.com") == Credentials("alice", "s3cr:et")
    assert config.lookup("other.example.com:5000") == Credentials("bob", "pw")
    assert config.lookup("nothing.example.com") is None
    assert config.lookup("unknown.example.com") is None


def test_docker_hub_credentials_are_found_under_the_v1_index_url(tmp_path):
    path = write_config(tmp_path / "c.json", {"https://index.docker.io/v1/": {"auth": b64("u:p")}})
    assert DockerConfig.load(path).lookup("docker.io") == Credentials("u", "p")


def test_docker_config_env_then_home(tmp_path, monkeypatch):
    env_dir = tmp_path / "envdir"
    env_dir.mkdir()
    write_config(env_dir / "config.json", {"a.example.com": {"auth": b64("env:1")}})
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    write_config(home / ".docker" / "config.json", {"a.example.com": {"auth": b64("home:2")}})
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(env_dir))
    assert DockerConfig.load().lookup("a.example.com").username == "env"
    monkeypatch.delenv("DOCKER_CONFIG")
    assert DockerConfig.load().lookup("a.example.com").username == "home"
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))
    assert DockerConfig.load().lookup("a.example.com") is None, "no default config: no creds"


def test_explicit_config_path_must_exist(tmp_path):
    with pytest.raises(
        RegistryConfigError, match=r"registry config .*missing.json: file not found"
    ):
        DockerConfig.load(str(tmp_path / "missing.json"))


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{not json", "cannot read it"),
        ('{"auths": []}', '"auths" must be an object'),
        ('{"auths": {"r": {"auth": "bm9jb2xvbg=="}}}', "not base64 of USER:PASSWORD"),
    ],
)
def test_malformed_config_is_a_clear_error(tmp_path, content, says):
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(RegistryConfigError) as raised:
        DockerConfig.load(str(path))
    assert str(path) in str(raised.value) and says in str(raised.value)


# -- challenges and the token cache --------------------------------------------------------


def test_parse_bearer_challenge_with_commas_inside_quotes():
    (challenge,) = parse_challenges(
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:org/app:pull,push"'
    )
    assert challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.example.com/token",
        "service": "registry.example.com",
        "scope": "repository:org/app:pull,push",
    }


def test_parse_basic_challenge():
    (challenge,) = parse_challenges('Basic realm="minikube-py-test"')
    assert challenge.scheme == "basic" and challenge.params == {"realm": "minikube-py-test"}


def test_token_cache_forgets_tokens_when_they_expire():
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    key = ("realm", "svc", "repository:a:pull")
    cache.put(key, "tok", 60)
    assert cache.get(key) == "tok"
    assert cache.get(("realm", "svc", "repository:b:pull")) is None, "tokens are per scope"
    now[0] += 56
    assert cache.get(key) is None, "renewed a little before the registry's deadline"


# -- the Bearer token flow against a local server -------------------------------------------


class TokenRegistry:
    """A registry whose manifests need a Bearer token from its own /token endpoint."""

    def __init__(self, field="token", need_user: tuple[str, str] | None = None, expires_in=300):
        self.field = field
        self.need_user = need_user
        self.expires_in = expires_in
        self.issued = 0
        self.server = FakeServer(self.route)

    def challenge(self, scope: str | None = None) -> dict[str, str]:
        value = f'Bearer realm="{self.server.url}/token",service="fake-registry"'
        if scope:
            value += f',scope="{scope}"'
        return {"WWW-Authenticate": value}

    def route(self, server, seen):
        path = urlsplit(seen.path).path
        if path == "/token":
            query = parse_qs(urlsplit(seen.path).query)
            if query.get("service") != ["fake-registry"]:
                return Reply(400, b"bad service")
            if self.need_user:
                want = "Basic " + b64(":".join(self.need_user))
                if seen.headers.get("Authorization") != want:
                    return Reply(401, b"{}")
            self.issued += 1
            token = f"tok{self.issued}-{','.join(query.get('scope', []))}"
            body = {self.field: token, "expires_in": self.expires_in}
            return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})
        if path == "/v2/":
            return Reply(401, b"{}", self.challenge())
        if path.startswith("/v2/") and "/manifests/" in path:
            repo = path[len("/v2/") :].split("/manifests/")[0]
            scope = f"repository:{repo}:pull"
            auth = seen.headers.get("Authorization", "")
            if not (auth.startswith("Bearer tok") and auth.endswith(scope)):
                return Reply(401, b"{}", self.challenge(scope))
            return Reply(
                200, MANIFEST, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
            )
        return Reply(404)


@pytest.fixture
def token_registry():
    servers = []

    def make(**kwargs) -> TokenRegistry:
        reg = TokenRegistry(**kwargs)
        servers.append(reg)
        return reg

    yield make
    for reg in servers:
        reg.server.close()


def client_for(reg: TokenRegistry, creds=None) -> RegistryClient:
    return RegistryClient(
        reg.server.host, credentials=creds, retry=RetryPolicy(attempts=2, backoff=0)
    )


@pytest.mark.parametrize("field", ["token", "access_token"])
def test_bearer_token_is_fetched_from_challenge_and_cached_per_scope(token_registry, field):
    reg = token_registry(field=field)
    client = client_for(reg)
    client.ping()
    for _ in range(3):
        manifest = client.get_manifest("team/app", "v1", "team/app:v1")
        assert manifest.body == MANIFEST
    assert reg.issued == 1, "one token for three requests in the same scope"
    client.get_manifest("team/other", "v1", "team/other:v1")
    assert reg.issued == 2, "another repository is another scope"
    token_requests = [s for s in reg.server.seen if s.path.startswith("/token")]
    assert parse_qs(urlsplit(token_requests[0].path).query)["scope"] == ["repository:team/app:pull"]
    assert all("Authorization" not in s.headers for s in token_requests), "anonymous"


def test_expired_token_is_fetched_again(token_registry):
    reg = token_registry(expires_in=60)
    client = client_for(reg)
    now = [0.0]
    client.auth.tokens._clock = lambda: now[0]
    client.get_manifest("app", "v1", "app:v1")
    now[0] += 3600
    client.get_manifest("app", "v1", "app:v1")
    assert reg.issued == 2


def test_token_endpoint_gets_basic_credentials(token_registry):
    reg = token_registry(need_user=("alice", "pw"))
    client_for(reg, Credentials("alice", "pw")).get_manifest("app", "v1", "app:v1")
    assert reg.issued == 1


def test_no_credentials_for_a_token_that_needs_them_is_authentication_required(token_registry):
    reg = token_registry(need_user=("alice", "pw"))
    with pytest.raises(AuthenticationRequired) as raised:
        client_for(reg).get_manifest("team/app", "v1", "team/app:v1")
    assert str(raised.value) == f"authentication required for {reg.server.host}/team/app"


def test_wrong_credentials_say_they_were_rejected(token_registry):
    reg = token_registry(need_user=("alice", "pw"))
    with pytest.raises(AuthenticationRequired) as raised:
        client_for(reg, Credentials("alice", "wrong")).get_manifest("app", "v1", "app:v1")
    assert "rejected the credentials of user alice" in str(raised.value)


def test_basic_challenge_is_answered_with_credentials():
    want = "Basic " + b64("u:p")

    def route(server, seen):
        if seen.headers.get("Authorization") != want:
            return Reply(401, b"{}", {"WWW-Authenticate": 'Basic realm="r"'})
        return Reply(200, MANIFEST, {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})

    server = FakeServer(route)
    try:
        client = RegistryClient(server.host, credentials=Credentials("u", "p"))
        client.ping()
        client.get_manifest("app", "v1", "app:v1")
        client.get_manifest("app", "v2", "app:v2")
        # After the ping's challenge, Basic is sent up front: no second 401 round trip.
        manifest_requests = [s for s in server.seen if "/manifests/" in s.path]
        assert [s.headers.get("Authorization") for s in manifest_requests] == [want, want]
        with pytest.raises(AuthenticationRequired, match="authentication required for"):
            RegistryClient(server.host).get_manifest("app", "v1", "app:v1")
    finally:
        server.close()


def test_config_json_is_used_through_pull(tmp_path, token_registry):
    """registry_config reaches the token request."""
    from oci.errors import OCIError
    from oci.pull import pull
    from oci.store import ContentStore

    reg = token_registry(need_user=("alice", "pw"))
    config = write_config(tmp_path / "config.json", {reg.server.host: {"auth": b64("alice:pw")}})
    store = ContentStore(str(tmp_path / "images"))
    with pytest.raises(OCIError) as raised:
        # The manifest's config blob does not exist on this fake: auth passed, the blob fails.
        pull(f"{reg.server.host}/app:v1", store, registry_config=config, retry=RetryPolicy(1, 0))
    assert "authentication" not in str(raised.value)
    assert reg.issued == 1
    assert not os.path.exists(os.path.join(store.root, "blobs", "sha256", "0" * 64))


def test_token_the_registry_refuses_is_replaced_once(token_registry):
    reg = token_registry()
    client = client_for(reg)
    client.get_manifest("app", "v1", "app:v1")
    # The registry forgets its tokens (restart, early expiry): the cached one now fails.
    key = next(k for k in client.auth.tokens._tokens if k[2] == "repository:app:pull")
    client.auth.tokens.put(key, "stale-token", 300)
    assert client.get_manifest("app", "v1", "app:v1").body == MANIFEST
    assert reg.issued == 2
