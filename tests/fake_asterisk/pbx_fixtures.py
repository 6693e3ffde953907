"""Fixtures for tests that apply configuration to the fake: a threaded fake reading the generated
directory, the default node pointed at it, and the node after its first apply.

    from tests.fake_asterisk.pbx_fixtures import *  # noqa: F403
"""

from __future__ import annotations

import pytest

from pbx.models import AsteriskNode

from . import DEFAULT_SECRET, DEFAULT_USERNAME, AsteriskState
from .threaded import ThreadedFake

__all__ = ["applied", "fake", "no_pending_applies", "node", "point_at"]


@pytest.fixture
def fake(tmp_path):
    directory = tmp_path / "generated"
    directory.mkdir()
    with ThreadedFake(AsteriskState.empty(), config_dir=directory) as running:
        yield running


def point_at(node: AsteriskNode, fake, settings) -> AsteriskNode:
    """The node and the ASTERISK_* settings (which AsteriskNode.default() follows) name the fake."""
    settings.ASTERISK_AMI_HOST, settings.ASTERISK_AMI_PORT = "127.0.0.1", fake.ami.port
    settings.ASTERISK_AMI_USER, settings.ASTERISK_AMI_SECRET = DEFAULT_USERNAME, DEFAULT_SECRET
    settings.ASTERISK_ARI_URL = f"http://127.0.0.1:{fake.ari.port}/ari"
    settings.ASTERISK_ARI_USER, settings.ASTERISK_ARI_PASSWORD = DEFAULT_USERNAME, DEFAULT_SECRET
    settings.ASTERISK_GENERATED_DIR = fake.ami.config_dir
    node.ami_host, node.ami_port = "127.0.0.1", fake.ami.port
    node.ami_username, node.ami_secret = DEFAULT_USERNAME, DEFAULT_SECRET
    node.ari_url = f"http://127.0.0.1:{fake.ari.port}/ari"
    node.ari_username, node.ari_password = DEFAULT_USERNAME, DEFAULT_SECRET
    node.generated_dir = str(fake.ami.config_dir)
    node.save()
    return node


@pytest.fixture
def node(demo, exempel, fake, settings):
    """The default node (both demo companies have no node of their own), pointed at the fake."""
    return point_at(AsteriskNode.objects.filter(is_default=True).first() or AsteriskNode.default(), fake, settings)


@pytest.fixture
def applied(node, fake):
    """The node after its first apply: Asterisk runs the files; the fake's log starts empty."""
    from pbx.asterisk.apply import apply_node

    result = apply_node(node)
    assert result.ok, result.message
    fake.ami.received.clear()
    fake.ami.reloads.clear()
    fake.ari.requests.clear()
    return node


@pytest.fixture(autouse=True)
def no_pending_applies():
    from pbx.tasks import pending

    pending().clear()
    yield
    pending().clear()
