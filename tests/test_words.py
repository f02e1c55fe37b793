import pytest

from lrdoctor.cli.schedule import parse_steps
from lrdoctor.errors import InputError
from lrdoctor.words import display, figure_text, format_lr, format_steps, markdown, workflow_data, workflow_property


@pytest.mark.parametrize(
    "text, steps",
    [("20M", 20_000_000), ("500K", 500_000), ("2e7", 20_000_000), ("1.5m", 1_500_000), ("20_000", 20_000)],
)
def test_parse_steps(text, steps):
    assert parse_steps(text) == steps


@pytest.mark.parametrize("text", ["abc", "-5", "0", "1.5", "", "nanM", "1e400", "1e300", "9.3e18", "1e10B"])
def test_parse_steps_rejects(text):
    with pytest.raises(InputError):
        parse_steps(text)


@pytest.mark.parametrize("steps, text", [(500_000, "500K"), (2_500_000, "2.5M"), (20_000_000, "20M"), (999, "999")])
def test_format_steps(steps, text):
    assert format_steps(steps) == text


@pytest.mark.parametrize("lr, text", [(3e-4, "3e-04"), (1.5e-5, "1.5e-05"), (1e-6, "1e-06")])
def test_format_lr(lr, text):
    assert format_lr(lr) == text


# --- untrusted text, per format ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, shown",
    [
        ("run\n::error::x", "run\\n::error::x"),
        ("\x1b[31mred\r", "\\x1b[31mred\\r"),
        ("\u202egnp.exe", "\\u202egnp.exe"),  # right-to-left override
        ("a\u2066b\u2069", "a\\u2066b\\u2069"),  # isolates
        ("z\u200bw\u200c\u200d\u2060\ufeff", "z\\u200bw\\u200c\\u200d\\u2060\\ufeff"),  # zero-width
        ("\x85\u2028\u2029", "\\x85\\u2028\\u2029"),  # C1 next line, line and paragraph separators
        ("graph_free é 日本 ✓", "graph_free é 日本 ✓"),  # printable text is left as it is
        ("a\\nb", "a\\nb"),  # a backslash is not escaped: escaping twice changes nothing
        ("caf\udce9", "caf\ufffd"),  # a byte that is not UTF-8 (as os.fsdecode gives it)
    ],
)
def test_display(text, shown):
    assert display(text) == shown
    assert display(shown) == shown


def test_markdown_renders_as_written():
    assert markdown("<script>&amp;</script>") == "&lt;script&gt;&amp;amp;&lt;/script&gt;"
    assert markdown("a|b `c` [l](u) *e* \\") == "a\\|b \\`c\\` \\[l\\](u) \\*e\\* \\\\"
    assert markdown("snake_case _emphasis_") == "snake_case \\_emphasis\\_"
    assert markdown("x\n# title\x1b") == "x\\\\n# title\\\\x1b"  # one line; the escapes shown as written


def test_workflow_command_escapes():
    assert workflow_data("100% done\r\n::error::x") == "100%25 done\\r\\n::error::x"
    assert workflow_property("a:b,c%") == "a%3Ab%2Cc%25"
    assert "\n" not in workflow_data("\n" * 3) and "\r" not in workflow_property("\r")


def test_figure_text_has_no_mathtext():
    assert figure_text("m$\\frac{1}{0}$\n") == "m\\$\\frac{1}{0}\\$\\n"
