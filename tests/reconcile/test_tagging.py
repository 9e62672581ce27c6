"""Tags with a scope: written, read back, and told apart from another repository's.

Expected strings are written out here in their documented form (tagging's docstring),
never produced by the functions under test.
"""

from __future__ import annotations

import pytest

from reconciler.reconcile.tagging import (
    UNSCOPED,
    Scope,
    Tag,
    read_job_key,
    read_tag,
    same_tagged,
    split_job_key,
    untag,
)

OURS = Scope("team1a2b")
LONGEST_NAME = "n" + "-x" * 30 + "yz"  # 63 characters, the schema's longest name
LONGEST_SCOPE = "z" * 16


def test_the_longest_name_is_the_schemas_longest() -> None:
    assert len(LONGEST_NAME) == 63


@pytest.mark.parametrize(
    ("description", "text", "tag"),
    [
        pytest.param(
            "Cleanup. [reconciler:team1a2b/jira-1]",
            "Cleanup.",
            Tag("jira-1", "team1a2b"),
            id="scoped",
        ),
        pytest.param("Cleanup. [reconciler:jira-1]", "Cleanup.", Tag("jira-1"), id="legacy"),
        pytest.param("[reconciler:other99/jira-1]", "", Tag("jira-1", "other99"), id="foreign"),
        pytest.param("[reconciler:jira-1]", "", Tag("jira-1"), id="legacy-alone"),
        pytest.param("by hand", "by hand", None, id="untagged"),
        pytest.param(
            "x [reconciler:ab/jira-1]", "x [reconciler:ab/jira-1]", None, id="scope-short"
        ),
        pytest.param(
            "x [reconciler:TEAM1A2B/jira-1]", "x [reconciler:TEAM1A2B/jira-1]", None, id="upper"
        ),
        pytest.param("x [reconciler:a/b/c]", "x [reconciler:a/b/c]", None, id="two-slashes"),
        pytest.param("x [reconciler:team1a2b/]", "x [reconciler:team1a2b/]", None, id="no-name"),
        pytest.param(
            "[reconciler:team1a2b/jira-1] later",
            "[reconciler:team1a2b/jira-1] later",
            None,
            id="not-at-the-end",
        ),
    ],
)
def test_read_tag(description: str, text: str, tag: Tag | None) -> None:
    assert read_tag(description) == (text, tag)


def test_tags_of_our_scope_and_of_none_are_ours_another_scopes_are_not() -> None:
    assert OURS.untag("a [reconciler:team1a2b/jira-1]") == ("a", "jira-1")
    assert OURS.untag("a [reconciler:jira-1]") == ("a", "jira-1")
    assert OURS.untag("a [reconciler:other99/jira-1]") == ("a", None)
    assert OURS.untag(None) == ("", None)
    # Without a scope, only the form of before scopes is ours.
    assert UNSCOPED.untag("a [reconciler:jira-1]") == ("a", "jira-1")
    assert UNSCOPED.untag("a [reconciler:team1a2b/jira-1]") == ("a", None)
    # The module's untag reads the name whatever the scope (for counting, reports).
    assert untag("a [reconciler:other99/jira-1]") == ("a", "jira-1")


def test_creates_write_the_scoped_form() -> None:
    assert OURS.tagged("Cleanup.", "jira-1") == "Cleanup. [reconciler:team1a2b/jira-1]"
    assert OURS.tagged("", "jira-1") == "[reconciler:team1a2b/jira-1]"
    assert UNSCOPED.tagged("Cleanup.", "jira-1") == "Cleanup. [reconciler:jira-1]"
    assert str(OURS.tag("jira-1")) == "[reconciler:team1a2b/jira-1]"


@pytest.mark.parametrize(
    ("current", "sent"),
    [
        pytest.param("Old. [reconciler:jira-1]", "New. [reconciler:jira-1]", id="legacy-kept"),
        pytest.param(
            "Old. [reconciler:team1a2b/jira-1]", "New. [reconciler:team1a2b/jira-1]", id="scoped"
        ),
        pytest.param("by hand", "New. [reconciler:team1a2b/jira-1]", id="untagged-gets-scope"),
        pytest.param(None, "New. [reconciler:team1a2b/jira-1]", id="none"),
        pytest.param(
            "Old. [reconciler:jira-2]", "New. [reconciler:team1a2b/jira-1]", id="other-name"
        ),
    ],
)
def test_an_update_keeps_the_form_the_object_has(current: str | None, sent: str) -> None:
    assert OURS.retagged(current, "New.", "jira-1") == sent


@pytest.mark.parametrize(
    ("remote", "same"),
    [
        pytest.param("Text. [reconciler:team1a2b/jira-1]", True, id="scoped"),
        pytest.param("Text. [reconciler:jira-1]", True, id="legacy"),
        pytest.param("Text.  [reconciler:jira-1]", False, id="two-spaces"),
        pytest.param("Other. [reconciler:jira-1]", False, id="other-text"),
        pytest.param("Text. [reconciler:jira-2]", False, id="other-name"),
        pytest.param("Text.", False, id="untagged"),
    ],
)
def test_same_tagged_takes_either_form_as_the_requests(remote: str, same: bool) -> None:
    assert same_tagged(remote, "Text.", "jira-1") is same


def test_a_description_ending_in_a_space_compares_exactly() -> None:
    assert same_tagged("Text.  [reconciler:team1a2b/jira-1]", "Text. ", "jira-1")
    assert not same_tagged("Text. [reconciler:team1a2b/jira-1]", "Text. ", "jira-1")


def test_job_keys_round_trip() -> None:
    assert OURS.job_key("dsr-1", "user-1") == "team1a2b/dsr-1:user-1"
    assert UNSCOPED.job_key("dsr-1", "user-1") == "dsr-1:user-1"
    assert OURS.split_job_key("team1a2b/dsr-1:user-1") == ("dsr-1", "user-1")
    assert OURS.split_job_key("dsr-1:user-1") == ("dsr-1", "user-1")  # before scopes
    assert OURS.split_job_key("other99/dsr-1:user-1") is None
    assert UNSCOPED.split_job_key("team1a2b/dsr-1:user-1") is None
    # A user's key may hold colons (the schema allows them): the first one splits.
    assert OURS.split_job_key("team1a2b/dsr-1:a:b") == ("dsr-1", "a:b")
    assert split_job_key("other99/dsr-1:user-1") == ("dsr-1", "user-1")
    assert read_job_key("other99/dsr-1:user-1") == (Tag("dsr-1", "other99"), "user-1")


@pytest.mark.parametrize(
    "key",
    ["user12345", "", None, "Dsr:1", "ab/dsr-1:u", "team1a2b/dsr-1:", "team1a2b/:u", "a/b/c:d"],
)
def test_keys_this_tool_did_not_write_are_nobodys(key: str | None) -> None:
    assert read_job_key(key) is None
    assert OURS.split_job_key(key) is None


def test_the_longest_key_and_tag_fit_their_documented_bounds() -> None:
    # privacy-job.schema.json allows user keys of 100 characters, common.schema.json names
    # of 63; the scope adds at most 17 characters to either form.
    scope = Scope(LONGEST_SCOPE)
    user = "u" * 100
    key = scope.job_key(LONGEST_NAME, user)
    assert len(key) == 16 + 1 + 63 + 1 + 100 == 181
    assert scope.split_job_key(key) == (LONGEST_NAME, user)
    description = scope.tagged("d" * 1024, LONGEST_NAME)
    assert len(description) == 1024 + len(" [reconciler:") + 16 + 1 + 63 + 1 == 1118
    assert scope.untag(description) == ("d" * 1024, LONGEST_NAME)


@pytest.mark.parametrize("value", ["abc", "a" * 17, "Team1", "te-am", "te/am", "team\n", " team"])
def test_a_malformed_scope_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="4 to 16 lower-case letters and digits"):
        Scope(value)


def test_the_search_finds_both_forms_in_one_string() -> None:
    needle = OURS.search("jira-1")
    assert needle == "jira-1]"
    assert needle in "[reconciler:team1a2b/jira-1]" and needle in "[reconciler:jira-1]"
