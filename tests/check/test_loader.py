"""The YAML loader: safe, located, and strict about what YAML may hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.yamlfile import MAX_BYTES, Mark, ParseError, load_document, parse_document


def fails(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_document("f.yaml", text)
    return info.value


@pytest.mark.parametrize(
    ("text", "rule", "line"),
    [
        pytest.param("a: 1\nb: 2\na: 3\n", "yaml-duplicate-key", 3, id="duplicate-key"),
        pytest.param("a:\n  b: 1\n  b: 2\n", "yaml-duplicate-key", 3, id="nested-duplicate"),
        pytest.param("a: &x [1]\nb: *x\n", "yaml-alias", 1, id="anchor"),
        pytest.param(
            "a: &a ['lol','lol']\nb: &b [*a,*a]\nc: &c [*b,*b]\n", "yaml-alias", 1, id="alias-bomb"
        ),
        pytest.param("a: !!python/object/apply:os.system [ls]\n", "yaml-tag", 1, id="python-tag"),
        pytest.param("a: !!python/name:os.system\n", "yaml-tag", 1, id="python-name"),
        pytest.param("a: !custom x\n", "yaml-tag", 1, id="local-tag"),
        pytest.param("a: !!set {x}\n", "yaml-tag", 1, id="set-tag"),
        pytest.param("<<: {a: 1}\n", "yaml-merge", 1, id="merge-key"),
        pytest.param("? [a, b]\n: 1\n", "yaml-complex-key", 1, id="complex-key"),
        pytest.param("a: 1\n---\nb: 2\n", "yaml-multiple-documents", 2, id="two-documents"),
        pytest.param("a:\n\t- b\n", "yaml-syntax", 2, id="tab-indent"),
        pytest.param("a: [1, 2\n", "yaml-syntax", 2, id="unclosed-flow"),
        pytest.param("a: \x07\n", "yaml-syntax", 1, id="control-character"),
        pytest.param("[" * 200 + "]" * 200, "yaml-too-deep", 1, id="deep-nesting"),
        pytest.param("[" * 100_000 + "]" * 100_000, "yaml-too-deep", 1, id="very-deep-nesting"),
    ],
)
def test_unsafe_or_broken_yaml_is_refused_with_location(text: str, rule: str, line: int) -> None:
    error = fails(text)
    assert error.rule == rule
    assert error.mark.line == line
    assert str(error).startswith(f"f.yaml:{line}:")
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    "depth",
    [
        pytest.param(40, id="under-libyaml-limit"),
        pytest.param(1_001, id="at-libyaml-limit"),
        pytest.param(100_000, id="far-over-libyaml-limit"),
    ],
)
@pytest.mark.parametrize(
    ("opening", "closing"),
    [pytest.param("[", "]", id="lists"), pytest.param("{a: ", "}", id="maps")],
)
def test_nesting_is_one_rule_whatever_libyaml_limits(
    depth: int, opening: str, closing: str
) -> None:
    # libyaml stops at its own limit (1,000 levels in PyYAML 6.0.4's) before the loader sees
    # level 33: both must read as the loader's rule, located where level 33 opens (the
    # top-level mapping is level 1, so that is the 32nd opening on line 2, from column 3).
    error = fails("key:\n  " + opening * depth + "x" + closing * depth + "\n")
    assert (error.rule, error.mark) == ("yaml-too-deep", Mark(2, 3 + 31 * len(opening)))
    assert error.message == "nesting deeper than 32 levels"


def test_tab_message_says_what_to_do() -> None:
    assert "spaces" in fails("a:\n\t- b\n").message


def test_invalid_utf8_is_located(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(ParseError) as info:
        load_document(path, "x.yaml")
    assert info.value.rule == "yaml-encoding"
    assert info.value.mark == Mark(2, 7)


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: " + b"x" * (MAX_BYTES + 10) + b"\n")
    with pytest.raises(ParseError) as info:
        load_document(path, "big.yaml")
    assert info.value.rule == "yaml-too-large"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("{a: 1, 'b': [x, y], \"c\": {d: e}}", id="flow-style"),
        pytest.param("# comment\na: 1 # trailing\nb: [x, y]\nc:\n  d: e\n", id="block-comments"),
        pytest.param("\ufeffa: 1\nb: [x, y]\nc: {d: e}\n", id="byte-order-mark"),
        pytest.param('"a": 1\n\'b\': [x, y]\nc: {"d": e}\n', id="quoted-keys"),
        pytest.param("---\na: 1\nb:\n- x\n- y\nc: {d: e}\n...\n", id="explicit-document"),
        pytest.param("a: !!int '1'\nb: [x, y]\nc: {d: e}\n", id="core-tag"),
    ],
)
def test_legal_spellings_give_the_same_data(text: str) -> None:
    assert parse_document("f.yaml", text).data == {"a": 1, "b": ["x", "y"], "c": {"d": "e"}}


def test_unicode_text_and_scalars_keep_their_meaning() -> None:
    doc = parse_document("f.yaml", "n: Ünïcødé ✓\nd: 2026-11-01\nz: null\nt: true\nf: 1.5\n")
    assert doc.data == {"n": "Ünïcødé ✓", "d": "2026-11-01", "z": None, "t": True, "f": 1.5}


def test_every_value_and_key_is_located() -> None:
    doc = parse_document("f.yaml", "a:\n  b:\n    - x\n    - {c: y}\n")
    assert doc.locate(("a", "b", 1, "c")) == Mark(4, 11)
    assert doc.locate(("a", "b", 1, "c"), key=True) == Mark(4, 8)
    assert doc.locate(("a", "b", 0)) == Mark(3, 7)
    # A path that does not exist falls back to its nearest ancestor.
    assert doc.locate(("a", "b", 1, "missing")) == Mark(4, 7)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:- \n\t[]{}&*!'\"#%@|>?,.0\\")), max_size=80))
def test_arbitrary_text_either_parses_or_raises_parse_error(text: str) -> None:
    try:
        parse_document("f.yaml", text)
    except ParseError as e:
        assert e.mark.line >= 1 and e.mark.column >= 1
