"""Asterisk's base configuration (asterisk_conf/) and the compose stack around it.

Plain pytest: no Django, no database. The files are read with a small parser
that follows Asterisk's own config syntax (main/config.c): sections `[name]`,
templates `[name](!)`, inheritance `[name](tmpl)`, appends `[name](+)`,
`key = value`, `key => value`, `;` comments (`\\;` is a literal semicolon),
and the `#include` / `#tryinclude` / `#exec` directives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "asterisk_conf"
COMPOSE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
ENTRYPOINT = ROOT / "docker" / "asterisk-entrypoint.sh"
ACCESS_SCRIPT = ROOT / "docker" / "asterisk-access.sh"

# Base file -> the generated file it pulls in (written by the orchestrator).
GENERATED_INCLUDES = {
    "pjsip.conf": "generated/pjsip.conf",
    "extensions.conf": "generated/extensions.conf",
    "queues.conf": "generated/queues.conf",
    "voicemail.conf": "generated/voicemail.conf",
    "musiconhold.conf": "generated/musiconhold.conf",
    "features.conf": "generated/features.conf",
    "confbridge.conf": "generated/confbridge.conf",
}
# Files the Asterisk container's entrypoint writes from the environment.
ENTRYPOINT_WRITTEN = {"manager_secrets.conf", "ari_secrets.conf", "pjsip_nat.conf"}
REQUIRED_SECRETS = {"SECRET_KEY", "POSTGRES_PASSWORD", "ASTERISK_AMI_SECRET", "ASTERISK_ARI_PASSWORD"}
SERVICES = {"postgres", "redis", "asterisk", "web", "proxy", "bridge", "worker"}
# The templates let in loopback only; the entrypoint appends the stack's networks to the user it writes.
LOOPBACK_ONLY = [("deny", "0.0.0.0/0.0.0.0"), ("deny", "::/0"), ("permit", "127.0.0.1/255.255.255.255")]
# See manager.conf (and tests/test_asterisk_access.py, which derives them from the actions and events).
AMI_READ = "system,call,agent,user"
AMI_WRITE = "system,call,agent,originate,command"


# --------------------------------------------------------------------------
# A small Asterisk config parser
# --------------------------------------------------------------------------


class ConfigError(Exception):
    pass


@dataclass
class Section:
    name: str
    template: bool = False
    bases: list[str] = field(default_factory=list)
    options: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        """First value, as ast_variable_retrieve() reads it."""
        for k, v in self.options:
            if k.lower() == key.lower():
                return v
        return None

    def get_all(self, key: str) -> list[str]:
        return [v for k, v in self.options if k.lower() == key.lower()]


@dataclass
class Include:
    directive: str  # "include" or "tryinclude"
    path: str
    lineno: int
    after_sections: list[str]


@dataclass
class Config:
    filename: str
    sections: list[Section] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)

    def section(self, name: str) -> Section:
        """First non-template section of that name, as Asterisk browses it."""
        for s in self.sections:
            if s.name == name and not s.template:
                return s
        raise KeyError(f"{self.filename}: no section [{name}]")

    def template(self, name: str) -> Section:
        for s in self.sections:
            if s.name == name and s.template:
                return s
        raise KeyError(f"{self.filename}: no template [{name}](!)")

    def names(self) -> list[str]:
        return [s.name for s in self.sections if not s.template]


def strip_comment(line: str) -> str:
    out = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if ch == ";":
            break
        out.append(ch)
        i += 1
    return "".join(out).strip()


def parse_conf(text: str, filename: str = "<text>", included: dict[str, str] | None = None) -> Config:
    """Parse like Asterisk does; `included` maps include paths to their text
    so an include can be followed (otherwise it is only recorded)."""
    cfg = Config(filename)
    state: dict[str, Section | None] = {"current": None}
    _parse_into(cfg, text, filename, included or {}, state)
    return cfg


def _parse_into(cfg: Config, text: str, filename: str, included: dict[str, str], state: dict) -> None:
    in_block_comment = False
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw
        if in_block_comment:
            if "--;" not in line:
                continue
            line = line.split("--;", 1)[1]
            in_block_comment = False
        if ";--" in line:
            before, after = line.split(";--", 1)
            if "--;" not in after:
                in_block_comment = True
            line = before
        line = strip_comment(line)
        if not line:
            continue
        where = f"{filename}:{lineno}"

        if line.startswith("["):
            match = re.fullmatch(r"\[([^\]]+)\](?:\(([^)]*)\))?", line)
            if not match:
                raise ConfigError(f"{where}: bad section header {line!r}")
            name, opts = match.group(1), match.group(2)
            flags = [o.strip() for o in opts.split(",")] if opts is not None else []
            if "+" in flags:
                target = next((s for s in cfg.sections if s.name == name), None)
                if target is None:
                    raise ConfigError(f"{where}: [{name}](+) but no [{name}] before it")
                state["current"] = target
                continue
            section = Section(name=name, template="!" in flags)
            for base_name in (f for f in flags if f not in ("!", "")):
                base = next((s for s in cfg.sections if s.name == base_name), None)
                if base is None:
                    raise ConfigError(f"{where}: [{name}] inherits from missing [{base_name}]")
                section.bases.append(base_name)
                section.options.extend(base.options)
            cfg.sections.append(section)
            state["current"] = section
            continue

        if line.startswith("#"):
            match = re.fullmatch(r"#(\w+)\s+(.+)", line)
            if not match:
                raise ConfigError(f"{where}: bad directive {line!r}")
            directive, arg = match.group(1).lower(), match.group(2).strip().strip('"<>')
            if directive not in ("include", "tryinclude"):
                raise ConfigError(f"{where}: directive #{directive} is not allowed here")
            cfg.includes.append(Include(directive, arg, lineno, [s.name for s in cfg.sections]))
            if arg in included:
                _parse_into(cfg, included[arg], arg, included, state)
            continue

        if "=" not in line:
            raise ConfigError(f"{where}: neither a section, a directive nor an option: {line!r}")
        if state["current"] is None:
            raise ConfigError(f"{where}: option outside any section: {line!r}")
        key, value = line.split("=", 1)
        if value.startswith(">"):
            value = value[1:]
        key, value = key.strip(), value.strip()
        if not key:
            raise ConfigError(f"{where}: option without a name: {line!r}")
        state["current"].options.append((key, value))


def conf_files() -> list[Path]:
    return sorted(CONF_DIR.glob("*.conf"))


def load(name: str, included: dict[str, str] | None = None) -> Config:
    path = CONF_DIR / name
    return parse_conf(path.read_text(), name, included)


# --------------------------------------------------------------------------
# compose.yaml and .env.example
# --------------------------------------------------------------------------


def compose_text() -> str:
    return COMPOSE.read_text()


def compose_data() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(compose_text())


def compose_variables() -> set[str]:
    # "$${X}" is an escaped dollar: expanded inside the container, not by compose.
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", compose_text()))


def published_targets(port_spec) -> set[int]:
    """Container ports a `ports:` entry publishes, short or long syntax."""
    if isinstance(port_spec, dict):
        target = str(port_spec.get("target", ""))
        return _port_range(target)
    spec = str(port_spec).split("/", 1)[0]
    container_part = spec.rsplit(":", 1)[-1]
    return _port_range(container_part)


def _port_range(text: str) -> set[int]:
    if "-" in text:
        start, end = text.split("-", 1)
        return set(range(int(start), int(end) + 1))
    return {int(text)} if text.isdigit() else set()


def all_published_ports(data: dict) -> dict[str, set[int]]:
    return {
        name: set().union(*(published_targets(p) for p in service.get("ports", []) or [set()]))
        if service.get("ports")
        else set()
        for name, service in data["services"].items()
    }


# --------------------------------------------------------------------------
# The parser itself
# --------------------------------------------------------------------------


def test_parser_reads_templates_inheritance_and_appends():
    cfg = parse_conf("[tmpl](!)\na = 1 ; comment\n[obj](tmpl)\nb => two\\;three\n[obj](+)\nc = 3\n")
    assert cfg.names() == ["obj"]
    assert cfg.section("obj").options == [("a", "1"), ("b", "two;three"), ("c", "3")]


def test_parser_refuses_what_asterisk_refuses():
    with pytest.raises(ConfigError):
        parse_conf("key = value\n")  # no section
    with pytest.raises(ConfigError):
        parse_conf("[a](+)\nx = 1\n")  # append to a missing section
    with pytest.raises(ConfigError):
        parse_conf("[a](missing)\n")  # inherit from a missing template
    with pytest.raises(ConfigError):
        parse_conf("[a]\n#exec /bin/true\n")


def test_parser_continues_the_open_section_in_an_include():
    # The Asterisk quirk that makes generated files open a section first.
    cfg = parse_conf("[globals]\n#tryinclude gen.conf\n", included={"gen.conf": "X = 1\n"})
    assert cfg.section("globals").options == [("X", "1")]


# --------------------------------------------------------------------------
# asterisk_conf/
# --------------------------------------------------------------------------


def test_the_base_files_are_all_there():
    names = {p.name for p in conf_files()}
    expected = {
        "asterisk.conf", "modules.conf", "logger.conf", "manager.conf", "http.conf", "ari.conf",
        "pjsip.conf", "extensions.conf", "queues.conf", "voicemail.conf", "musiconhold.conf",
        "features.conf", "confbridge.conf", "res_parking.conf", "cdr.conf", "cdr_manager.conf",
        "cel.conf", "rtp.conf", "indications.conf",
    }  # fmt: skip
    assert expected <= names
    # The entrypoint writes these from the environment; a copy here would
    # either hold a secret or be overwritten.
    assert not names & ENTRYPOINT_WRITTEN


# Present only so the module that reads them starts without an error; nothing to configure.
EMPTY_BY_DESIGN = {"acl.conf", "websocket_client.conf"}


@pytest.mark.parametrize("path", conf_files(), ids=lambda p: p.name)
def test_every_file_parses(path):
    cfg = parse_conf(path.read_text(), path.name)
    if path.name in EMPTY_BY_DESIGN:
        assert not cfg.sections, f"{path.name} is meant to stay empty"
    else:
        assert cfg.sections, f"{path.name} has no section"


@pytest.mark.parametrize("path", conf_files(), ids=lambda p: p.name)
def test_no_secret_is_written_in_a_base_file(path):
    cfg = parse_conf(path.read_text(), path.name)
    for section in cfg.sections:
        for key, _value in section.options:
            assert key.lower() not in {"secret", "password", "md5_cred", "auth_password"}, (
                f"{path.name} [{section.name}] sets {key}: credentials belong in the entrypoint-written includes"
            )
    assert "CHANGE-ME" not in path.read_text()


def test_every_generated_file_is_a_tryinclude_in_its_own_base_file():
    found = {}
    for path in conf_files():
        for inc in parse_conf(path.read_text(), path.name).includes:
            if "generated" in inc.path:
                assert inc.directive == "tryinclude", (
                    f"{path.name}:{inc.lineno} uses #{inc.directive} {inc.path}: a fresh "
                    "Asterisk without generated files must still boot"
                )
                assert inc.path.startswith("generated/"), inc.path
                found[path.name] = inc.path
    assert found == GENERATED_INCLUDES


def test_the_only_other_includes_are_the_entrypoint_written_files():
    entrypoint, access = ENTRYPOINT.read_text(), ACCESS_SCRIPT.read_text()
    for path in conf_files():
        for inc in parse_conf(path.read_text(), path.name).includes:
            if inc.path.startswith("generated/"):
                continue
            assert inc.path in ENTRYPOINT_WRITTEN, f"{path.name} includes unknown {inc.path}"
            assert f'"$ETC_DIR/{inc.path}"' in entrypoint or f'"$dir/{inc.path}"' in access, \
                f"the entrypoint does not write {inc.path}"


def test_credentials_are_hard_includes_so_a_missing_file_keeps_ami_and_ari_off():
    for name, secrets in (("manager.conf", "manager_secrets.conf"), ("ari.conf", "ari_secrets.conf")):
        includes = [i for i in load(name).includes if i.path == secrets]
        assert [i.directive for i in includes] == ["include"]


def test_ami_is_internal_only_and_quiet():
    cfg = load("manager.conf")
    general = cfg.section("general")
    assert general.get("enabled") == "yes"
    assert general.get("webenabled") == "no"
    assert general.get("displayconnects") == "no"
    assert general.get("port") == "5038"
    # 0.0.0.0 is inside the container only; the compose tests check 5038 is never published.
    assert general.get("bindaddr") in {"127.0.0.1", "0.0.0.0"}  # noqa: S104
    # No user is defined in the base file: only the template for the one the
    # entrypoint writes.
    assert cfg.names() == ["general"]


def test_the_ami_user_template_accepts_only_loopback_and_only_the_classes_used():
    user = load("manager.conf").template("orchestrator-user")
    acl = [(k, v) for k, v in user.options if k in ("deny", "permit", "acl")]
    assert acl == LOOPBACK_ONLY, "deny everything first, then permit loopback"
    assert user.get("read") == AMI_READ
    assert user.get("write") == AMI_WRITE


def test_the_entrypoint_written_ami_user_gets_the_template():
    secrets = "[orchestrator](orchestrator-user)\nsecret = s3cret-s3cret-s3cret\n"
    cfg = load("manager.conf", included={"manager_secrets.conf": secrets})
    user = cfg.section("orchestrator")
    assert user.get("secret") == "s3cret-s3cret-s3cret"
    assert user.get("deny") == "0.0.0.0/0.0.0.0"
    assert user.get("write") == AMI_WRITE


def test_ari_is_internal_only_with_no_browser_origins():
    http = load("http.conf").section("general")
    assert http.get("enabled") == "yes"
    assert http.get("bindport") == "8088"
    assert http.get("enablestatic") == "no"
    assert http.get("tlsenable") in (None, "no")
    ari = load("ari.conf")
    assert ari.section("general").get("enabled") == "yes"
    assert ari.section("general").get("allowed_origins") in (None, "")
    assert ari.names() == ["general"]
    user = ari.template("orchestrator-user")
    assert user.get("type") == "user"
    assert user.get("read_only") == "no"
    assert [(k, v) for k, v in user.options if k in ("deny", "permit", "acl")] == LOOPBACK_ONLY
    written = "[orchestrator](orchestrator-user)\npassword = $6$salt$hash\n"
    cfg = load("ari.conf", included={"ari_secrets.conf": written})
    assert cfg.section("orchestrator").get("password_format") == "crypt"


def test_pjsip_has_the_three_transports_and_nat_options_append_after_them():
    nat = (
        "[transport-udp](+)\nexternal_media_address = 203.0.113.5\n"
        "[transport-tcp](+)\nexternal_media_address = 203.0.113.5\n"
        "[transport-wss](+)\nexternal_media_address = 203.0.113.5\n"
    )
    # Raises if pjsip_nat.conf were included before the transports exist.
    cfg = load("pjsip.conf", included={"pjsip_nat.conf": nat})
    transports = {s.name: s for s in cfg.sections if s.get("type") == "transport"}
    assert {name: t.get("protocol") for name, t in transports.items()} == {
        "transport-udp": "udp",
        "transport-tcp": "tcp",
        "transport-wss": "wss",
    }
    assert transports["transport-udp"].get("bind") == "0.0.0.0:5060"
    assert transports["transport-tcp"].get("bind") == "0.0.0.0:5060"
    assert transports["transport-udp"].get("external_media_address") == "203.0.113.5"
    nat_include = next(i for i in cfg.includes if i.path == "pjsip_nat.conf")
    assert set(transports) <= set(nat_include.after_sections)


def test_the_default_context_leads_nowhere_and_no_demo_context_is_left():
    cfg = load("extensions.conf")
    assert cfg.names() == ["general", "globals", "default"]
    assert cfg.section("general").get("writeprotect") == "yes"
    default = cfg.section("default")
    assert default.options, "[default] must catch calls"
    for key, value in default.options:
        assert key == "exten"
        assert re.search(r",1,Hangup\(\d*\)$", value), value


def test_queue_settings_the_orchestrator_relies_on():
    general = load("queues.conf").section("general")
    assert general.get("persistentmembers") == "no"
    assert general.get("shared_lastcall") == "yes"
    assert general.get("log_membername_as_agent") == "yes"


def test_voicemail_never_searches_other_tenants_contexts_and_never_mails():
    general = load("voicemail.conf").section("general")
    assert general.get("format") == "wav49|wav"
    # The Asterisk container has no sendmail: the worker mails messages (pbx/notifications/voicemail.py).
    assert general.get("attach") == "no"
    assert not general.get("mailcmd")
    assert general.get("searchcontexts") == "no"


def test_transfer_keys_match_what_the_bridge_injects():
    cfg = load("features.conf")
    general, featuremap = cfg.section("general"), cfg.section("featuremap")
    assert featuremap.get("blindxfer") == "#1"
    assert featuremap.get("atxfer") == "*2"
    assert general.get("atxferabort") == "*1"
    assert general.get("atxfercomplete") == "*3"
    assert general.get("atxferthreeway") == "*4"


def test_cdrs_reach_ami_and_cel_is_off():
    assert load("cdr.conf").section("general").get("enable") == "yes"
    assert load("cdr_manager.conf").section("general").get("enabled") == "yes"
    assert load("cel.conf").section("general").get("enable") == "no"


def test_music_on_hold_has_a_default_class():
    default = load("musiconhold.conf").section("default")
    assert default.get("mode") == "files"
    assert default.get("directory")


def test_modules_autoload_without_listeners_we_do_not_use():
    modules = load("modules.conf").section("modules")
    assert modules.get("autoload") == "yes"
    noload = modules.get_all("noload")
    assert len(noload) == len(set(noload)), "a module is listed twice"
    assert all(name.endswith(".so") for name in noload)
    for listener in ("chan_iax2.so", "pbx_dundi.so", "chan_unistim.so", "res_phoneprov.so"):
        assert listener in noload
    for needed in ("cdr_manager.so", "res_ari.so", "res_http_websocket.so", "app_queue.so"):
        assert needed not in noload
    assert not {k for k, _ in modules.options} - {"autoload", "noload", "load", "preload", "require"}


def test_the_default_tone_zone_exists():
    cfg = load("indications.conf")
    country = cfg.section("general").get("country")
    assert country in cfg.names()


def test_astdb_lives_in_its_own_directory_and_dangerous_functions_stay_off():
    cfg = load("asterisk.conf")
    assert cfg.section("directories").get("astdbdir") == "/var/lib/asterisk/astdb"
    assert cfg.section("options").get("live_dangerously") == "no"


# --------------------------------------------------------------------------
# compose.yaml
# --------------------------------------------------------------------------


def test_compose_publishes_neither_ami_nor_ari_in_its_text():
    # Works without PyYAML: any port list entry mentioning 5038 or 8088.
    for line in compose_text().splitlines():
        stripped = line.split("#", 1)[0].strip()
        if re.match(r"^-\s*[\"']?[\w.${}:\-]*\b(5038|8088)\b", stripped):
            pytest.fail(f"compose.yaml publishes AMI/ARI: {line.strip()}")
        assert not re.match(r"^(target|published):\s*[\"']?(5038|8088)\b", stripped), line


def test_compose_has_the_seven_services():
    data = compose_data()
    assert set(data["services"]) == SERVICES


def test_compose_never_publishes_ami_or_ari():
    data = compose_data()
    ami_port = int(load("manager.conf").section("general").get("port"))
    http_port = int(load("http.conf").section("general").get("bindport"))
    for name, ports in all_published_ports(data).items():
        assert ami_port not in ports, f"{name} publishes AMI"
        assert http_port not in ports, f"{name} publishes Asterisk's HTTP server (ARI)"


def test_compose_publishes_sip_and_exactly_the_rtp_range():
    data = compose_data()
    ports = [str(p) for p in data["services"]["asterisk"]["ports"]]
    assert "5060:5060/udp" in ports
    assert "5060:5060/tcp" in ports
    rtp = load("rtp.conf").section("general")
    start, end = int(rtp.get("rtpstart")), int(rtp.get("rtpend"))
    assert f"{start}-{end}:{start}-{end}/udp" in ports


def test_postgres_redis_and_asterisk_have_healthchecks():
    services = compose_data()["services"]
    for name in ("postgres", "redis", "asterisk"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert "pg_isready" in str(services["postgres"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    assert "core show uptime" in services["asterisk"]["healthcheck"]["test"]


def test_the_web_waits_for_healthy_postgres_and_redis():
    web = compose_data()["services"]["web"]
    assert web["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert web["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "migrate" in str(web["command"]) and "daphne" in str(web["command"])
    # Daphne is reached through the TLS proxy only (tests/test_secure_defaults.py), never published.
    assert "8000" in [str(p) for p in web["expose"]] and "ports" not in web


def test_bridge_and_worker_run_their_commands():
    services = compose_data()["services"]
    assert "run_bridge" in str(services["bridge"]["command"])
    assert "run_huey" in str(services["worker"]["command"])


def test_generated_config_is_a_volume_shared_by_asterisk_web_and_worker():
    services = compose_data()["services"]
    for name in ("asterisk", "web", "worker"):
        assert "asterisk-generated:/etc/asterisk/generated" in services[name]["volumes"], name
        assert "prompts:/var/lib/asterisk/sounds/custom" in services[name]["volumes"], name
    assert "./asterisk_conf:/opt/pbx/asterisk_conf:ro" in services["asterisk"]["volumes"]


def test_secrets_must_be_set_and_have_no_default():
    text = compose_text()
    for name in REQUIRED_SECRETS:
        assert re.search(r"\$\{" + name + r":\?", text), f"{name} is not required with ${{{name}:?...}}"
        assert not re.search(r"\$\{" + name + r":?-", text), f"{name} has a default value"


def test_the_env_example_documents_every_compose_variable():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    missing = compose_variables() - documented
    assert not missing, f".env.example does not mention {sorted(missing)}"


def test_the_env_example_documents_what_django_reads():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    django_reads = {
        "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "EMAIL_BACKEND",
        "EMAIL_HOST", "ASTERISK_AMI_HOST", "ASTERISK_AMI_PORT", "ASTERISK_AMI_USER",
        "ASTERISK_AMI_SECRET", "ASTERISK_ARI_URL", "ASTERISK_ARI_USER", "ASTERISK_ARI_PASSWORD",
        "ASTERISK_ARI_APP", "ASTERISK_GENERATED_DIR", "MEDIA_ROOT", "ASTERISK_SOUNDS_DIR",
        "RECORDINGS_DIR",
    }  # fmt: skip
    assert not django_reads - documented


def test_the_env_example_holds_no_usable_secret():
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.M))
    for name in REQUIRED_SECRETS:
        assert values.get(name) == "", f"{name} must be empty in .env.example"
