import tracemalloc

import pytest

from compiler.spec import templating as templating

from compiler.spec.templating import Scope, TemplateProblem, check_template, compiled, render

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


# Each builds far more than the 2000-character output (most of them 10^7–10^9 characters);
# every constant is ≤ 1000, so check_template passes them all and the budget has to refuse
# them while rendering, before allocating.
@pytest.mark.parametrize(
    "source, message",
    [
        ("{{ 'x' * 100 * 100 * 100 * 100 }}", "repeating 100 characters 100 times would make 10000 characters"),
        ("{{ ['x'] * 100 * 100 }}", "repeating a list of size 200 100 times"),
        ("{{ [[['x'] * 100] * 100] * 100 ~ '' }}", "repeating a list of size 201 100 times"),
        ("{{ subject.name | center(999 * 999 * 999) }}", "the 'center' filter's width asks for 997002999 characters"),
        ("{{ subject.name | indent(999 * 999 * 999, true) }}", "the 'indent' filter's width asks for 997002999"),
        ("{{ subject.name.ljust(999 * 999 * 999) }}", "ljust() asks for 997002999 characters"),
        ("{{ subject.name.zfill(999 * 999) }}", "zfill() asks for 998001 characters"),
        ("{{ (1).to_bytes(999 * 999 * 999, 'big') }}", "to_bytes() asks for 997002999"),
        ("{{ ('\t' * 20 * 100).expandtabs(1000) }}", "expandtabs() would make 2002000 characters"),
        ("{{ '{:>999999999}'.format(subject.name) }}", "the format field '{:>999999999}' asks for 999999999 characters"),
        ("{{ '{:{}}'.format(subject.name, 999 * 999 * 999) }}", "the format field '{:997002999}'"),
        ("{{ '{0:.{1}f}'.format(1.5, 999 * 999) }}", "the format field '{:.998001f}'"),
        ("{{ (('{:>' ~ 999 * 999 ~ '}') | safe).format(subject.name) }}", "the format field '{:>998001}'"),
        ("{{ '%999999999s' % subject.name }}", "the format '%999999999s' asks for 999999999 characters"),
        ("{{ '%*s' % (999 * 999 * 999, subject.name) }}", "the format '%*s' asks for 997002999 characters"),
        ("{{ '%.*f' % (999 * 999, 1.5) }}", "the format '%.*f' asks for 998001"),
        ("{{ '%(a)999999999s' % {'a': subject.name} }}", "the format '%(a)999999999s'"),
        ("{{ '%999999999s' | format(subject.name) }}", "the format '%999999999s' asks for"),
        ("{{ 'ab'" + ".replace('a', 'aa')" * 12 + " }}", "replace() would make 2049 characters"),
        ("{{ ('ab' * 20) | replace('a', 'a' * 100) }}", "replace() would make 2020 characters"),
        ("{{ ('x' * 20 * 100) | wordwrap(1) }}", "the 'wordwrap' filter makes 3999 characters"),
        ("{{ (['ab' * 20] * 40) | join('-' * 99) }}", "the 'join' filter makes 5461 characters"),
        ("{{ (('x' * 20 * 100) ~ ('x' * 20 * 100)).upper() }}", "upper() is given 4000 characters"),  # joined by ~
    ],
)
def test_a_blow_up_is_refused_before_it_allocates(source, message):
    check_template(source, SCOPE)
    tracemalloc.start()
    try:
        with pytest.raises(TemplateProblem) as refused:
            render(source, VARS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message in refused.value.message
    assert "limit 2000" in refused.value.message
    assert peak < 2_000_000  # compiling and refusing; before the budget, 10^8–2·10^9 bytes


@pytest.mark.parametrize(
    "source, text",
    [
        ("{{ subject.name | title }} {{ subject.plural | upper | lower }}", "Box boxes"),
        ("[{{ subject.name | center(9) }}] [{{ subject.name.center(9) }}] [{{ subject.name.rjust(5) }}]",
         "[ box ] [ box ] [ box]"),
        ("[{{ '{:>5}'.format(subject.name) }}] [{{ '%-5s' % subject.name }}] [{{ '%5.2f' % 3.14159 }}]",
         "[ box] [box ] [ 3.14]"),
        # a number is a value, not a width, outside a format spec
        ("{{ '{} of {}'.format(999 * 9, 999 * 99) }}, {{ '%d' | format(999 * 9) }}", "8991 of 98901, 8991"),
        ("{{ '{n}s'.format_map({'n': subject.name}) }} {{ subject.name.replace('o', '0') | replace('x', 'X') }}",
         "boxs b0X"),
        ("{{ options | join(' or ') }}, {{ ('ab' * 10) | length }}, {{ ['x'] * 3 }}",
         "blue or red, 20, ['x', 'x', 'x']"),
    ],
)
def test_ordinary_filters_methods_and_formats_still_render(source, text):
    check_template(source, SCOPE)
    assert render(source, VARS) == text


def test_the_budget_is_the_output_limit_exactly():
    assert len(render("{{ 'x' * 20 * 100 }}", VARS)) == 2000
    assert len(render("{{ subject.name | center(2000) }}", VARS).strip()) == 3
    with pytest.raises(TemplateProblem, match="2001 characters"):
        render("{{ subject.name.ljust(2001) }}", VARS)


def test_a_template_source_over_1000_characters_is_refused():
    check_template("x" * 1000, SCOPE)
    with pytest.raises(TemplateProblem, match=r"1001 characters long \(limit 1000\)"):
        check_template("x" * 1001, SCOPE)


@pytest.mark.parametrize("name", ["tojson", "pprint"])
def test_nesting_dumps_are_not_allowed(name):
    # [[[…]]]|tojson(1000) writes ~indent × depth² characters from a short source.
    with pytest.raises(TemplateProblem, match=f"the '{name}' filter is not allowed"):
        check_template(f"{{{{ options | {name} }}}}", SCOPE)
    with pytest.raises(TemplateProblem):  # gone from the environment too
        render(f"{{{{ options | {name} }}}}", VARS)


def test_constants_are_not_formatted_at_compile_time():
    # Jinja folds constant expressions while compiling; '%' and filters must wait for the budget.
    tracemalloc.start()
    try:
        compiled("{{ '%999999999s' % 'x' }}")
        compiled("{{ '%999999999s' | format('x') }}")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000


def test_a_render_past_its_deadline_is_stopped(monkeypatch):
    source = "{{ subject.name | center(9) }}{{ subject.name | center(9) }}"
    monkeypatch.setattr(templating, "_MAX_SECONDS", -1.0)  # the clock starts at the first step
    with pytest.raises(TemplateProblem, match="takes over"):
        render(source, VARS)
    monkeypatch.undo()
    assert render(source, VARS) == "box box"  # each render has its own clock
