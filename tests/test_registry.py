import pytest

from skyt1.core.errors import SkyT1Error
from skyt1.core.registry import Registry


def test_registry_registers_gets_and_refuses_with_one_line():
    r = Registry("data adapter", "see docs/data.md")

    @r.register("a")
    def a():
        return 1

    r.add("b", len)
    assert r.get("a") is a and r.names() == ["a", "b"] and "b" in r and len(r) == 2
    with pytest.raises(SkyT1Error) as e:
        r.get("c")
    assert "unknown data adapter 'c'" in str(e.value) and "['a', 'b']" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(SkyT1Error, match="two data adapters"):
        r.add("a", len)
    r.add("a", a)  # the same object again (a module imported twice) is fine
