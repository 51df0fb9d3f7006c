import pytest

from compiler.templating import Scope, TemplateProblem, check_template, compiled, render

VARS = {"subject": {"name": "box", "plural": "boxes"}, "options": ["blue", "red"], "attribute": "color"}
SCOPE = Scope(scalars=frozenset({"attribute", "options"}), records={"subject": frozenset({"name", "plural"})})


@pytest.mark.parametrize(
    "source",
    [
        "What {{ attribute }} is best for {{ subject.plural }}?",
        "{{ subject.name | capitalize }}: {{ options[0] }} or {{ options[1] }}?",
        "{% if subject.plural %}Paint the {{ subject.plural }}{% else %}none{% endif %}  in {{ options | join(' or ') }}.",
    ],
)
def test_render_gives_what_jinjas_own_render_gives(source):
    # render() skips Template.render's copy of the globals; the text must not change.
    assert render(source, VARS) == " ".join(compiled(source).render(VARS).split())


def test_jinja_globals_are_neither_allowed_nor_reachable():
    with pytest.raises(TemplateProblem, match="undefined variable 'range'"):
        check_template("{{ range(3) }}", SCOPE)
    with pytest.raises(TemplateProblem):  # not in the context either, should a template skip the check
        render("{{ lipsum() }}", VARS)


@pytest.mark.parametrize("source", ["{{ ''.__class__ }}", "{{ subject.name * 1000 }}", "{{ 2 ** 99999 }}"])
def test_the_sandbox_still_refuses_at_render_time(source):
    with pytest.raises(TemplateProblem):
        render(source, VARS)


def test_a_missing_variable_is_an_error_not_an_empty_string():
    with pytest.raises(TemplateProblem, match="option"):
        render("Is {{ option }} right?", VARS)
