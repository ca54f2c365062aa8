"""Credentials in an address never reach a message (issue 25): `lpft jobs|submit|stop --address
http://user:pass@host` repeated the password, in lpft's words and in the Ray SDK's."""

import pytest
import yaml
from conftest import free_port

from lpft.cli import main


def test_every_uri_in_a_sentence_loses_its_credentials():
    from lpft.storage import redact_text

    text = ("--address http://user:s3cret@10.0.0.1:8265: Failed to connect to Ray at address: "
            "http://user:s3cret@10.0.0.1:8265. (storage 's3://KEY:SK@bucket/x?secret_key=abc&scheme=http')")
    clean = redact_text(text)
    assert "s3cret" not in clean and "user" not in clean and "SK" not in clean and "abc" not in clean
    assert clean == ("--address http://10.0.0.1:8265: Failed to connect to Ray at address: http://10.0.0.1:8265. "
                     "(storage 's3://bucket/x?scheme=http')")
    assert redact_text("no address here: results/x, a:b@c") == "no address here: results/x, a:b@c"


@pytest.mark.parametrize("command", ["jobs", "stop", "submit"])
def test_a_password_in_the_address_is_never_printed(command, tmp_path, capsys):
    address = f"http://user:s3cret@127.0.0.1:{free_port()}"  # nothing listens there
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"name": "s", "benchmark": {"name": "synthetic", "n_train": 50},
                                    "strategies": {"ft": {"epochs": 1}}}))
    args = {"jobs": ["jobs", "--address", address], "stop": ["stop", "--address", address, "job1"],
            "submit": ["submit", str(spec), "--address", address]}[command]
    assert main(args) == 2
    out = capsys.readouterr()
    assert "--address http://127.0.0.1:" in out.err and len(out.err.strip().splitlines()) == 1, out.err
    assert "s3cret" not in out.err + out.out and "user:" not in out.err + out.out
