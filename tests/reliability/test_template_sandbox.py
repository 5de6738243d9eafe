"""Templates are Jinja2 run in a sandbox: escapes are refused, and rendering is bounded in time and
memory. Every attack goes through the public path (a template file → load_template → compose) and must
end in a ConfigError naming the file and field.

The resource attacks run in one child process limited to 1 GiB of address space, each under a 5 s
alarm: a regression fails there (MemoryError, timeout) instead of hanging or swapping this machine.
Before the fix, 20 of the resource attacks below hung (> 20 s), ran out of memory under a 1.5 GiB
limit, allocated a gigabyte before being refused, or escaped as RecursionError.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from studio.compose import compose, load_template
from studio.config import Settings
from studio.errors import ConfigError
from studio.models import Priority, SourceItem

ITEM = (1, SourceItem(source="xa", source_id="1", title="Họp dân", body="Tối nay họp dân.",
                      priority=Priority.THONG_THUONG))

ESCAPES = {
    "class": "{{ ''.__class__ }}",
    "mro-subclasses": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "lipsum-globals": "{{ lipsum.__globals__ }}",
    "cycler-init-globals": "{{ cycler.__init__.__globals__.os }}",
    "namespace-globals": "{{ namespace.__init__.__globals__ }}",
    "self-context": "{{ self._TemplateReference__context }}",
    "format-attr": "{{ '{0.__class__}'.format('') }}",
    "format-globals": "{{ '{0.__init__.__globals__}'.format(lipsum) }}",
    "percent-attr": "{{ '%s' % ''.__class__ }}",
    "attr-filter": "{{ ''|attr('__class__') }}",
    "item-dunder": "{{ item.published.__class__.__init__.__globals__ }}",
    "settings-dunder": "{{ settings.__class__ }}",
    "func-code": "{{ lipsum.__code__ }}",
    "getitem-dunder": "{{ ''['__class__'] }}",
    "import": "{% import 'os' as os %}{{ os }}",
    "include": "{% include '/etc/passwd' %}",
    "extends": "{% extends '/etc/passwd' %}",
    # Runtime mistakes: were TypeError / ZeroDivisionError tracebacks, not a ConfigError naming the file.
    "type-error": "{{ 1 + 'a' }}",
    "zero-division": "{{ 1 // 0 }}",
}

RESOURCE = {
    # time
    "range-1e9": "{{ range(10**9) | length }}",
    "nested-empty-loops": "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "nested-output-loops": "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}",
    "loops-over-strings": "{% for i in 'x'*99999 %}{% for j in 'x'*99999 %}{% endfor %}{% endfor %}",
    "macro-recursion": "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
    "lipsum-1e6": "{{ lipsum(n=10**6) | length }}",
    "slice-1e9": "{{ range(10)|slice(10**9)|list|length }}",
    "int-power-chain": "{{ ((10**64)**64)**64 }}",
    # memory
    "repeat-1e9": "{{ 'x' * 10**9 }}",
    "concat-doubling": "{% set s = 'x'*99999 %}" + "{% set s = s ~ s %}" * 20 + "{{ s|length }}",
    "plus-doubling": "{% set s = 'x'*99999 %}" + "{% set s = s + s %}" * 20 + "{{ s|length }}",
    "list-doubling": "{% set s = range(99999)|list %}" + "{% set s = s + s %}" * 20 + "{{ s|length }}",
    "center-1e9": "{{ 'x'|center(10**9) }}",
    "indent-1e9": "{{ 'x\\nx'|indent(10**9) }}",
    "format-filter-width": "{{ '%1000000000s'|format('x') }}",
    "format-star-width": "{{ '%*s'|format(10, 'x') }}",
    "str-format-width": "{{ '{:>1000000000}'.format('x') }}",
    "percent-width": "{{ '%1000000000s' % 'x' }}",
    "join-filter-product": "{{ range(99999)|join('x'*99999) | length }}",
    "join-method-product": "{{ ('x'*99999).join(range(99999)|map('string')|list) | length }}",
    "join-over-generator": "{{ ('x'*99999).join(range(99999)|map('string')) | length }}",
    "replace-filter-product": "{{ ('x'*99999)|replace('x', 'x'*99999) | length }}",
    "replace-method-product": "{{ ('x'*99999).replace('x', 'x'*99999) | length }}",
    "ljust-1e9": "{{ 'x'.ljust(10**9) | length }}",
    "zfill-1e9": "{{ 'x'.zfill(10**9) | length }}",
    "expandtabs-1e9": "{{ '\\t'.expandtabs(10**9) | length }}",
    "batch-1e9": "{{ range(10)|batch(10**9)|list|length }}",
    "wordwrap-big": "{{ ('x '*99999)|wordwrap(1) | length }}",
}


def _template(tmp_path: Path, opening: str) -> Path:
    path = tmp_path / "tan-cong.toml"
    body = json.dumps(opening, ensure_ascii=False)  # a valid TOML basic string
    path.write_text(f'id = "tan-cong"\nname = "Tấn công"\nopening = {body}\n'
                    'item = "{{ item.title }}."\nclosing = "Hết."\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("source", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_attempts_are_refused(tmp_path: Path, source: str) -> None:
    path = _template(tmp_path, source)
    with pytest.raises(ConfigError) as info:
        compose(load_template(path), [ITEM], Settings())
    assert "tan-cong.toml" in info.value.message


_CHILD = textwrap.dedent('''
    import json, resource, signal, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from studio.compose import compose, load_template
    from studio.config import Settings
    from studio.errors import ConfigError
    from studio.models import Priority, SourceItem
    item = (1, SourceItem(source="xa", source_id="1", title="Họp dân", body="Tối nay họp dân.",
                          priority=Priority.THONG_THUONG))
    def fire(*_):
        raise TimeoutError("more than 5 s")
    signal.signal(signal.SIGALRM, fire)
    out = {}
    for name, path in json.loads(sys.argv[1]).items():
        signal.alarm(5)
        try:
            compose(load_template(path), [item], Settings())
            out[name] = "rendered"
        except ConfigError as exc:
            out[name] = "refused" if "tan-cong.toml: field 'opening'" in exc.message else exc.message
        except BaseException as exc:
            out[name] = type(exc).__name__
        finally:
            signal.alarm(0)
    print(json.dumps(out))
''')


def test_resource_attacks_are_refused_quickly_in_bounded_memory(tmp_path: Path) -> None:
    paths = {}
    for name, source in RESOURCE.items():
        folder = tmp_path / name
        folder.mkdir()
        paths[name] = str(_template(folder, source))
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(paths)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    assert results == {name: "refused" for name in RESOURCE}


@pytest.mark.parametrize("source, expected", [
    ("{{ station }} {{ weekday }}, {{ date_text }}.", None),
    ("{% for i in items %}{{ loop.index }}/{{ loop.length }} {{ i.title }}. {% endfor %}", "1/1 Họp dân."),
    ("{{ '%d'|format(2500000) }} {{ '{}'.format(1500000) }} {{ 150000|string }} {{ '%d' % 3500000 }}",
     "2500000 1500000 150000 3500000"),
    ("{{ ('a' ~ 'b') * 3 }} {{ 'x'.center(5) | trim }} {{ [1, 2] + [3] }}", "ababab x [1, 2, 3]"),
    ("{% for x in [[1, [2, [3]]]] recursive %}{% if x is iterable %}{{ loop(x) }}{% else %}{{ x }}"
     "{% endif %}{% endfor %}", "123"),
    ("{% for i in range(300) %}{% for j in range(300) %}{% endfor %}{% endfor %}ok", "ok"),  # 90,000 steps
])
def test_ordinary_templates_still_render(tmp_path: Path, source: str, expected: str | None) -> None:
    bulletin = compose(load_template(_template(tmp_path, source)), [ITEM], Settings())
    opening = bulletin.segments[0].text
    assert opening and (expected is None or opening == expected)
